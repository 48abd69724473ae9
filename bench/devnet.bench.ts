/**
 * The whole system's wall times, each beside the sum of its unavoidable parts measured in the same run:
 * - `yagna devnet up --detach` (1 provider) beside starting its processes bare (anvil, relay, requestor and provider
 *   daemons, in parallel, each until it answers), with no contracts, funding, self-tests or offers;
 * - `golem run --runtime wasi -- echo hi` on that devnet beside a Node process start (`golem --help`) plus the
 *   command itself run locally by the WASI runtime (deploy, start, run);
 * - the golem-js hello world (`oneOf` + `run` + finalize, on chain) beside a Node process loading golem-js plus a
 *   VM booted and running one command (the VM runtime's self-test).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { samplePackage } from '../src/agents/requestor/sample.ts';
import {
  ANVIL_BIN,
  CLI_MAIN,
  REPO_ROOT,
  readJsonFile,
  spawnLogged,
  waitUntil,
} from '../src/devnet/processes.ts';
import { vmAvailability } from '../src/devnet/vm.ts';
import type { Benchmark, Measurement } from './harness.ts';

const node = process.execPath;
const time = (command: string, args: string[], env: Record<string, string> = {}): number => {
  const started = performance.now();
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 600_000,
    cwd: REPO_ROOT,
  });
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
  return performance.now() - started;
};

function sourceEnv(file: string): Record<string, string> {
  const text = spawnSync('cat', [file], { encoding: 'utf8' }).stdout;
  return Object.fromEntries(
    [...text.matchAll(/^export ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
}

/** anvil, a relay and two daemons, started in parallel and each waited for until ready. */
async function bareProcesses(dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const log = (name: string) => join(dir, `${name}.log`);
  const anvil = spawnLogged('anvil', ANVIL_BIN, ['--host', '127.0.0.1', '--port', '0'], {
    log: log('anvil'),
  });
  const relay = spawnLogged(
    'relay',
    node,
    [CLI_MAIN, 'relay', 'run', '--datadir', join(dir, 'relay'), '--listen', '/ip4/127.0.0.1/tcp/0'],
    { log: log('relay') },
  );
  const daemon = (name: string) =>
    spawnLogged(
      name,
      node,
      [CLI_MAIN, 'service', 'run', '--datadir', join(dir, name), '--api-url', 'http://127.0.0.1:0'],
      { log: log(name), env: { YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0', YAGNA_AUTOCONF_APPKEY: 'bench' } },
    );
  const daemons = [daemon('a'), daemon('b')];
  try {
    await Promise.all([
      waitUntil(anvil, 'anvil', () => (/Listening on/.test(anvil.output()) ? true : undefined)),
      waitUntil(relay, 'relay', () => (relay.output().includes('{"nodeId"') ? true : undefined)),
      ...daemons.map((d) =>
        waitUntil(d, d.record.name, () =>
          readJsonFile<{ pid: number }>(join(dir, d.record.name, 'daemon.json'))?.pid === d.record.pid
            ? true
            : undefined,
        ),
      ),
    ]);
    return performance.now() - started;
  } finally {
    await Promise.all([anvil, relay, ...daemons].map((c) => c.stop()));
  }
}

let measured: Promise<Measurement[]> | undefined;

/** One devnet for all three figures. */
function measureAll(): Promise<Measurement[]> {
  measured ??= (async () => {
    const base = mkdtempSync(join(tmpdir(), 'devnet-bench-'));
    const dir = join(base, 'devnet');
    const vm = vmAvailability();
    const runtimes = vm.ok ? 'wasi,vm' : 'wasi';
    const results: Measurement[] = [];
    const bare = await bareProcesses(join(base, 'bare'));
    const up = time(node, [
      CLI_MAIN,
      'devnet',
      'up',
      '--dir',
      dir,
      '--providers',
      '1',
      '--runtimes',
      runtimes,
      '--detach',
    ]);
    results.push({ value: up / 1000, baseline: bare / 1000, baselineName: 'its processes started bare' });
    try {
      const env = { ...sourceEnv(join(dir, 'devnet.env')), GOLEM_REQUESTOR_DIR: join(base, 'requestor') };
      const golem = join(REPO_ROOT, 'bin', 'golem.js');
      time(node, [golem, 'run', '--runtime', 'wasi', '--', 'echo', 'warm-up'], env);
      const run = time(node, [golem, 'run', '--runtime', 'wasi', '--', 'echo', 'hi'], env);
      const start = time(node, [golem, '--help']);
      // The command itself, locally: the WASI runtime deploys the sample package, compiles and runs it.
      const work = join(base, 'wasi');
      const pkg = join(base, 'echo.zip');
      writeFileSync(pkg, samplePackage().bytes);
      const wasi = join(REPO_ROOT, 'src', 'execution', 'runtimes', 'wasi', 'main.ts');
      const local =
        time(node, [wasi, '--workdir', work, '--task-package', pkg, 'deploy']) +
        time(node, [wasi, '--workdir', work, '--task-package', pkg, 'start']) +
        time(node, [wasi, '--workdir', work, '--task-package', pkg, 'run', '--entrypoint', 'echo', 'hi']);
      results.push({
        value: run / 1000,
        baseline: (start + local) / 1000,
        baselineName: 'process start + the command run locally',
      });
      if (vm.ok) {
        const hello = join(REPO_ROOT, 'test', 'golemjs', 'programs', 'hello.cjs');
        const program = time(node, [hello], env);
        const load = time(node, ['-e', "require('@golem-sdk/golem-js')"]);
        const vmMain = join(REPO_ROOT, 'src', 'execution', 'runtimes', 'vm', 'main.ts');
        const boot = time(node, [vmMain, 'test']);
        results.push({
          value: program / 1000,
          baseline: (load + boot) / 1000,
          baselineName: 'golem-js loaded + a VM booted running one command',
        });
      }
    } finally {
      spawnSync(node, [CLI_MAIN, 'devnet', 'down', '--dir', dir], { timeout: 120_000 });
      rmSync(base, { recursive: true, force: true });
    }
    return results;
  })();
  return measured;
}

const pick = async (index: number): Promise<Measurement> => {
  const all = await measureAll();
  const m = all[index];
  if (m === undefined) throw new Error('not measured here (needs QEMU and the VM images)');
  return m;
};

export const benchmarks: Benchmark[] = [
  { name: 'devnet: yagna devnet up, 1 provider', unit: 's', better: 'lower', run: () => pick(0) },
  { name: 'devnet: golem run of a trivial WASI command', unit: 's', better: 'lower', run: () => pick(1) },
  { name: 'devnet: golem-js hello world, paid on chain', unit: 's', better: 'lower', run: () => pick(2) },
];
