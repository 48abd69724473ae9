import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { devnetDir, devnetDown, devnetStatus } from '../../devnet/control.ts';
import {
  type DevnetRuntime,
  type DevnetState,
  devnetRunning,
  readDevnetState,
  startDevnet,
} from '../../devnet/devnet.ts';
import { CLI_MAIN, isRunning, readLog, tail } from '../../devnet/processes.ts';
import { type Command, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

const DIR_OPTION = {
  name: 'dir',
  type: 'string' as const,
  description: 'the devnet folder (env YAGNA_DEVNET_DIR, default ~/.local/share/golem-ts/devnet)',
};

/** What runs where, for people: the table `up` prints at the end and `status` prints. */
export function describeDevnet(state: DevnetState, envFile: string): string {
  const rows: string[][] = [
    ['chain', 'anvil', state.chain.rpcUrl],
    ['relay', state.relay.nodeId, state.relay.address],
    ['registry', '', state.registryUrl],
    ['requestor', state.requestor.nodeId, state.requestor.apiUrl],
    ...state.providers.map((p) => [p.name, p.nodeId, `${p.apiUrl} (${p.runtimes.join(', ')})`]),
  ];
  return [
    formatTable(['what', 'node', 'where'], rows),
    ...state.notes.map((n) => `note: ${n}`),
    '',
    `environment: ${envFile}`,
    `  source ${envFile}   # then run golem-js programs or \`golem run\` against the requestor`,
  ].join('\n');
}

function parseRuntimes(value: string | undefined): DevnetRuntime[] {
  const list = (value ?? 'wasi,vm').split(',').map((r) => r.trim());
  for (const runtime of list)
    if (runtime !== 'wasi' && runtime !== 'vm')
      throw new UsageError(`--runtimes takes wasi and vm (comma-separated), not ${runtime}`);
  return list as DevnetRuntime[];
}

function parseProviders(value: string | undefined): number {
  const n = Number(value ?? '3');
  if (!Number.isInteger(n) || n < 1 || n > 32) throw new UsageError('--providers is a number from 1 to 32');
  return n;
}

export const commands: Command[] = [
  {
    name: 'devnet up',
    summary:
      'Start a local network: anvil with the contracts, a relay, providers, a requestor and an image registry',
    options: [
      DIR_OPTION,
      { name: 'providers', type: 'string', description: 'provider nodes (default 3)' },
      { name: 'runtimes', type: 'string', description: 'wasi,vm (default both; vm only where QEMU is)' },
      { name: 'api-port', type: 'string', description: 'REST port of the requestor (default: any free)' },
      {
        name: 'detach',
        type: 'boolean',
        description: 'return once the providers are visible at the requestor; the devnet keeps running',
      },
    ],
    run: async (context) => {
      const dir = devnetDir(context.options.dir as string | undefined);
      const providers = parseProviders(context.options.providers as string | undefined);
      const runtimes = parseRuntimes(context.options.runtimes as string | undefined);
      const apiPort = Number((context.options['api-port'] as string | undefined) ?? '0');
      if (!Number.isInteger(apiPort) || apiPort < 0 || apiPort > 65535)
        throw new UsageError('--api-port is a port number');
      const running = devnetRunning(dir);
      if (running !== undefined) {
        context.print(
          `a devnet already runs in ${dir} (pid ${running.supervisor.pid}); \`yagna devnet down\` stops it`,
        );
        return 1;
      }
      if (context.options.detach === true) return detach(context, dir, providers, runtimes, apiPort);

      const started = Date.now();
      // A signal while starting aborts the start (which stops what had started); once up, it stops the devnet.
      const signalled = new AbortController();
      const onSignal = () => signalled.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const devnet = await startDevnet({
        dir,
        providers,
        runtimes,
        apiPort,
        logLevel: context.config.logLevel,
        progress: (line) => context.print(`[devnet] ${line}`),
        signal: signalled.signal,
      });
      context.print(`[devnet] up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      context.print(describeDevnet(devnet.state, devnet.envFile));
      context.print('[devnet] running; Ctrl-C (or `yagna devnet down`) stops everything');
      if (!signalled.signal.aborted)
        await new Promise((resolve) => signalled.signal.addEventListener('abort', resolve, { once: true }));
      context.print('[devnet] stopping');
      await devnet.stop();
      context.print('[devnet] stopped');
      return 0;
    },
  },
  {
    name: 'devnet status',
    summary: 'What the local network runs, where, and whether it still does',
    options: [DIR_OPTION],
    run: (context) => {
      const status = devnetStatus(devnetDir(context.options.dir as string | undefined));
      if (context.json) {
        context.printJson(status);
        return 0;
      }
      context.print(
        formatTable(
          ['process', 'pid', 'state', 'where'],
          status.components.map((c) => [c.name, c.pid, c.running ? 'running' : 'stopped', c.where]),
        ),
      );
      context.print(`\nenvironment: ${join(status.dir, 'devnet.env')}`);
      return status.running ? 0 : 1;
    },
  },
  {
    name: 'devnet down',
    summary: 'Stop everything the local network started (and nothing else)',
    options: [DIR_OPTION],
    run: async (context) => {
      const dir = devnetDir(context.options.dir as string | undefined);
      const stopped = await devnetDown(dir);
      if (context.json) context.printJson({ dir, stopped });
      else
        context.print(
          stopped.length === 0 ? `nothing was running in ${dir}` : `stopped the devnet in ${dir}`,
        );
      return 0;
    },
  },
];

/**
 * Starts `devnet up` again as a process of its own (its output in `<dir>/devnet.log`), shows its progress and
 * returns once it wrote a ready `devnet.json`; fails with the tail of its log if it exits first.
 */
async function detach(
  context: Parameters<Command['run']>[0],
  dir: string,
  providers: number,
  runtimes: DevnetRuntime[],
  apiPort: number,
): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'devnet.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(
    process.execPath,
    [
      CLI_MAIN,
      'devnet',
      'up',
      '--dir',
      dir,
      '--providers',
      String(providers),
      '--runtimes',
      runtimes.join(','),
      '--api-port',
      String(apiPort),
      '--log-level',
      context.config.logLevel,
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  let shown = 0;
  for (;;) {
    const lines = readLog(logFile).split('\n');
    for (; shown < lines.length - 1; shown++) {
      const line = lines[shown]!;
      if (line.startsWith('[devnet] ') && !line.startsWith('[devnet] running')) context.print(line);
    }
    const state = readDevnetState(dir);
    if (state?.ready && state.supervisor.pid === child.pid && isRunning(state.supervisor)) {
      context.print(describeDevnet(state, join(dir, 'devnet.env')));
      context.print(`[devnet] detached (pid ${child.pid}, log ${logFile}); \`yagna devnet down\` stops it`);
      return 0;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      context.print(`[devnet] failed to start:\n${tail(readLog(logFile), 30)}`);
      return 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
