/**
 * `npm start`: the project's main job on a fresh machine. A devnet comes up (in this process, so Ctrl-C stops it
 * all), the requestor agent runs a WASI task on every provider and a VM task where QEMU is present, the summary
 * shows agreements, costs and the payment transactions on the chain; then the network stays up, with how to point
 * golem-js or `golem run` at it, until Ctrl-C. `--once` (and CI) stops after the demo.
 *
 *   npm start [-- --once] [--providers N] [--dir DIR]
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatSummary, prefixedLines, reputationFile } from '../agents/requestor/cli.ts';
import { resolveImage } from '../agents/requestor/image.ts';
import { Reputation } from '../agents/requestor/reputation.ts';
import { type RunSummary, runOnProviders } from '../agents/requestor/run.ts';
import { describeDevnet } from '../cli/commands/devnet.ts';
import { GolemError } from '../core/errors/index.ts';
import { devnetDir } from './control.ts';
import { type Devnet, PAYMENT_NETWORK, SUBNET, startDevnet } from './devnet.ts';
import { vmAvailability } from './vm.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      once: { type: 'boolean' },
      providers: { type: 'string' },
      dir: { type: 'string' },
    },
  });
  const providers = Number(values.providers ?? '2');
  const dir = devnetDir(values.dir);
  const vm = vmAvailability();
  const runtimes: ('wasi' | 'vm')[] = vm.ok ? ['wasi', 'vm'] : ['wasi'];
  if (!vm.ok) say(`! no VM task in this demo: ${vm.reason}`);

  let devnet: Devnet | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('[demo] stopping the devnet');
    await devnet?.stop();
    say('[demo] stopped');
  };
  // While the devnet starts, a signal aborts the start (which stops what it started, then fails); once it is up,
  // the signal stops it. Either way this process exits with the signal's code.
  const starting = new AbortController();
  const onSignal = (code: number) => () => {
    if (devnet === undefined) {
      say('[demo] interrupted; stopping what has started');
      starting.abort();
      process.exitCode = code;
      return;
    }
    void stop().then(() => process.exit(code));
  };
  process.once('SIGINT', onSignal(130));
  process.once('SIGTERM', onSignal(143));
  try {
    const started = Date.now();
    devnet = await startDevnet({
      dir,
      providers,
      runtimes,
      progress: (line) => say(`[devnet] ${line}`),
      signal: starting.signal,
    });
    say(`[devnet] up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(describeDevnet(devnet.state, devnet.envFile));

    const { env } = devnet.state;
    const reputation = new Reputation(reputationFile({ GOLEM_REQUESTOR_DIR: join(dir, 'requestor-agent') }));
    const task = async (
      runtime: 'wasi' | 'vm',
      image: string | undefined,
      command: string[],
      count: number,
    ) => {
      say(`\n[demo] ${runtime.toUpperCase()} task on ${count} provider(s): ${command.join(' ')}`);
      const resolved = await resolveImage(image, runtime, env.GOLEM_REGISTRY_URL);
      const out = prefixedLines((text) => process.stdout.write(text));
      try {
        return await runOnProviders({
          apiUrl: env.YAGNA_API_URL!,
          appKey: env.YAGNA_APPKEY!,
          runtime,
          taskPackage: resolved.taskPackage,
          command,
          providers: count,
          budget: 1,
          paymentNetwork: PAYMENT_NETWORK,
          subnet: SUBNET,
          reputation,
          progress: (line) => say(`[golem] ${line}`),
          // Chunks may end mid-line: whole lines, each prefixed once.
          output: (provider, _stream, text) => out.write(`  ${provider} | `, text),
        });
      } finally {
        out.flush();
        await resolved.close();
      }
    };
    const summaries: [string, RunSummary][] = [];
    summaries.push([
      'WASI',
      await task('wasi', undefined, ['echo', 'hello', 'from', 'WebAssembly'], providers),
    ]);
    if (runtimes.includes('vm'))
      summaries.push([
        'VM',
        await task('vm', 'golem/alpine:latest', ['echo hello from a VM: $(uname -sr)'], 1),
      ]);

    say('\n[demo] summary');
    for (const [name, summary] of summaries) say(`${name}: ${formatSummary(summary)}`);
    const failed = summaries.some(([, s]) => s.providers.some((p) => !p.ok));
    say(`chain: ${devnet.state.chain.rpcUrl} (tGLM ${devnet.state.chain.token})`);

    if (values.once) {
      await stop();
      return failed ? 1 : 0;
    }
    say(`
[demo] the devnet stays up. Point golem-js or the requestor agent at it:
  source ${devnet.envFile}
  ${runtimes.includes('vm') ? 'node test/golemjs/programs/hello.cjs  # a plain @golem-sdk/golem-js program, unmodified SDK' : '# golem-js rents VMs: `npm run setup:vm`, then `npm start` again'}
  node bin/golem.js run --runtime ${runtimes.includes('vm') ? 'vm --image golem/alpine:latest' : 'wasi'} -- echo hi
Ctrl-C stops everything.`);
    await new Promise(() => {});
    return 0;
  } catch (error) {
    if (starting.signal.aborted) {
      say('[demo] stopped');
      return Number(process.exitCode ?? 130);
    }
    const code = error instanceof GolemError ? ` [${error.code}]` : '';
    say(`[demo] failed: ${(error as Error).message}${code}`);
    if (error instanceof GolemError && error.details?.tail) say(String(error.details.tail));
    await stop();
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
