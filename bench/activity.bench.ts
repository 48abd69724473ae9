/**
 * The exec round trip of a trivial command (`/bin/sh -c true`) through everything an SDK call crosses: REST on
 * the requestor's daemon, the bus over libp2p to the provider's daemon, the control socket to the ExeUnit
 * process, the runtime (the process-mode test runtime), and the results long poll back. Beside it, in the same
 * run: the same command spawned directly, and the runtime invoked directly for it (what process mode costs by
 * itself, a Node start per command), so the ratio shows what the daemon path adds.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { activityClient, execute, readyActivity } from '../test/support/activity.ts';
import { approvedAgreement } from '../test/support/agreement.ts';
import { type DaemonHandle, startDaemon, startRelayProcess, tempDir } from '../test/support/daemon.ts';
import { type Benchmark, percentile } from './harness.ts';

const DESCRIPTOR = fileURLToPath(new URL('../test/support/exeunit-runtime/descriptor.json', import.meta.url));
const RUNTIME = fileURLToPath(new URL('../test/support/exeunit-runtime/runtime.ts', import.meta.url));
const ROUNDS = 30;

function spawned(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`)),
    );
  });
}

async function timed(work: () => Promise<unknown>): Promise<number[]> {
  await work();
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  }
  return samples;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'activity: exec round trip of `sh -c true` (REST → bus → ExeUnit → runtime → results), p50',
    unit: 'ms',
    better: 'lower',
    async run() {
      const relay = await startRelayProcess();
      const env = { YA_NET_RELAY: relay.addresses[0]!, YAGNA_LOG_LEVEL: 'warn' };
      let daemons: DaemonHandle[] = [];
      try {
        daemons = await Promise.all([
          startDaemon({ env }),
          startDaemon({ env: { ...env, EXE_UNIT_PATH: DESCRIPTOR } }),
        ]);
        const [requestor, provider] = daemons as [DaemonHandle, DaemonHandle];
        const api = activityClient(requestor);
        const activityId = await readyActivity(
          api,
          await approvedAgreement(requestor, provider, { runtime: 'test-runtime' }),
        );
        const script = [{ run: { entry_point: '/bin/sh', args: ['-c', 'true'] } }];
        // Interleaved, so that the load of the machine falls on all of them alike.
        const daemon: number[] = [];
        const direct: number[] = [];
        const runtime: number[] = [];
        const signed: number[] = [];
        const state: number[] = [];
        const workdir = tempDir('bench-runtime-');
        await spawned(process.execPath, [RUNTIME, '--workdir', workdir, 'deploy', '--']);
        for (let round = 0; round < 3; round++) {
          daemon.push(...(await timed(() => execute(api, activityId, script))));
          direct.push(...(await timed(() => spawned('/bin/sh', ['-c', 'true']))));
          runtime.push(
            ...(await timed(() =>
              spawned(process.execPath, [
                RUNTIME,
                '--workdir',
                workdir,
                'run',
                '--entrypoint',
                '/bin/sh',
                '--',
                '-c',
                'true',
              ]),
            )),
          );
          signed.push(...(await timed(() => execute(api, activityId, [{ sign: {} }]))));
          state.push(...(await timed(() => api.requestorState.getActivityState(activityId))));
        }
        return [
          {
            value: percentile(daemon, 50),
            baseline: percentile(direct, 50),
            baselineName: 'sh -c true spawned directly',
          },
          {
            value: percentile(daemon, 50),
            baseline: percentile(runtime, 50),
            baselineName: 'the runtime run directly for it',
          },
          {
            value: percentile(signed, 50),
            baseline: percentile(state, 50),
            baselineName:
              'one state read through the same path; value: exec + results of `sign` (no process)',
          },
        ];
      } finally {
        await Promise.all(daemons.map((d) => d.stop()));
        await relay.stop();
      }
    },
  },
];
