/**
 * The VM runtime's speed, each beside a baseline measured in the same run (accelerator in the name: KVM where a probe
 * boots, TCG otherwise):
 * - deploy → first command's result, through the runtime program and the Runtime API, vs QEMU booting the same kernel,
 *   initramfs and image bare until the guest agent answers;
 * - one command's round trip inside a running VM (RunProcess → exit status) vs the same command spawned on the host.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deploy } from '../src/execution/runtimes/vm/deploy.ts';
import { chooseAccelerator, findEnvironment } from '../src/execution/runtimes/vm/environment.ts';
import { GuestAgent, GuestMessage } from '../src/execution/runtimes/vm/guest-protocol.ts';
import { selfTestImage } from '../src/execution/runtimes/vm/self-test.ts';
import { qemuArgs } from '../src/execution/runtimes/vm/vm.ts';
import { deployRuntime, runCommand, startRuntime } from '../test/support/vm.ts';
import { type Benchmark, medianMs } from './harness.ts';

function prerequisites() {
  const env = findEnvironment(); // throws with the reason when QEMU or the kernel is missing
  const image = selfTestImage();
  if (!existsSync(image)) throw new Error(`${image} is missing: run scripts/setup-vm.sh`);
  return { env, image };
}

/** QEMU alone, same arguments as the runtime gives it: until the guest agent answers its first request. */
async function bareBootMs(image: string): Promise<number> {
  const { env } = prerequisites();
  const accel = await chooseAccelerator(env);
  const workdir = mkdtempSync(join(tmpdir(), 'vm-bench-bare-'));
  const socketPath = join(tmpdir(), `golem-vm-bench-${randomUUID()}.sock`);
  try {
    const deployment = await deploy({
      workdir,
      taskPackages: [image],
      cpuCores: 1,
      memGib: 0.25,
      hostname: 'bench',
    });
    deployment.volumes = [];
    const start = performance.now();
    const qemu = spawn(
      env.qemu,
      qemuArgs({ env, accel, deployment, workdir, socketPath, consoleLog: join(workdir, 'console.log') }),
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => qemu.once('exit', r));
    let socket: ReturnType<typeof connect> | undefined;
    for (let i = 0; i < 200 && !socket; i++) {
      socket = await new Promise((resolve) => {
        const s = connect(socketPath);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (!socket) await new Promise((r) => setTimeout(r, 50));
    }
    if (!socket) throw new Error('QEMU socket did not appear');
    const agent = new GuestAgent(socket);
    await agent.request(GuestMessage.SyncFs);
    const elapsed = performance.now() - start;
    await agent.request(GuestMessage.Quit).catch(() => {});
    await exited;
    return elapsed;
  } finally {
    rmSync(workdir, { recursive: true, force: true });
    rmSync(socketPath, { force: true });
  }
}

let accelName = '';

export const benchmarks: Benchmark[] = [
  {
    name: 'vm: deploy → first command result',
    unit: 'ms',
    better: 'lower',
    async run() {
      const { env, image } = prerequisites();
      accelName = await chooseAccelerator(env);
      const baseline = await bareBootMs(image);
      const workdir = mkdtempSync(join(tmpdir(), 'vm-bench-'));
      try {
        const start = performance.now();
        await deployRuntime(workdir, image);
        const runtime = startRuntime(workdir, image);
        await runtime.client.hello();
        const result = await runCommand(runtime.client, { bin: '/bin/true', args: ['true'], workDir: '' });
        const value = performance.now() - start;
        if (result.code !== 0) throw new Error(`/bin/true exited ${result.code}`);
        await runtime.client.shutdown();
        await runtime.exited;
        return { value, baseline, baselineName: `QEMU bare boot to agent answer (${accelName})` };
      } finally {
        rmSync(workdir, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'vm: command round trip in a running VM',
    unit: 'ms',
    better: 'lower',
    async run() {
      const { image } = prerequisites();
      const workdir = mkdtempSync(join(tmpdir(), 'vm-bench-rt-'));
      try {
        await deployRuntime(workdir, image);
        const runtime = startRuntime(workdir, image);
        await runtime.client.hello();
        const value = await medianMs(
          () => runCommand(runtime.client, { bin: '/bin/true', args: ['true'], workDir: '' }),
          15,
          2,
        );
        await runtime.client.shutdown();
        await runtime.exited;
        const baseline = await medianMs(
          () => new Promise((resolve) => spawn('/bin/true', [], { stdio: 'ignore' }).once('exit', resolve)),
          15,
          2,
        );
        return {
          value,
          baseline,
          baselineName: `/bin/true spawned on the host (VM: ${accelName || 'see above'})`,
        };
      } finally {
        rmSync(workdir, { recursive: true, force: true });
      }
    },
  },
];
