/**
 * Real daemon processes for e2e tests: each gets a temp data dir, an ephemeral REST port and an autoconfigured
 * app-key. Every daemon started here is killed when the test process exits, even after a failure.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface DaemonHandle {
  apiUrl: string;
  appKey: string;
  nodeId: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the daemon wrote to stderr so far (logs). */
  logs(): string;
  /** SIGTERM and wait for a clean exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Start again on the same data dir and key (after stop or kill). */
  restart(): Promise<DaemonHandle>;
  /** Removes the data dir (after stop). */
  cleanup(): void;
}

export interface StartOptions {
  env?: Record<string, string>;
  args?: string[];
  dataDir?: string;
  appKey?: string;
  timeoutMs?: number;
  /** Command prefix, e.g. `['ip', 'netns', 'exec', 'ns1']` to run the daemon in a network namespace. */
  wrap?: string[];
  /** What runs the CLI (default: this Node on src/cli/main.ts), e.g. `['/usr/bin/node', 'bin/yagna.js']`. */
  command?: string[];
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export function tempDir(prefix = 'golem-ts-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startDaemon(options: StartOptions = {}): Promise<DaemonHandle> {
  const dataDir = options.dataDir ?? tempDir();
  const appKey = options.appKey ?? randomBytes(16).toString('hex');
  const infoPath = join(dataDir, 'daemon.json');
  const argv = [
    ...(options.command ?? [process.execPath, CLI_MAIN]),
    'service',
    'run',
    '--datadir',
    dataDir,
    '--api-url',
    'http://127.0.0.1:0',
    ...(options.args ?? []),
  ];
  const [command, ...commandArgs] = [...(options.wrap ?? []), ...argv];
  // A daemon meant for a network namespace must never start outside it (its dials would leave the machine).
  if (options.wrap !== undefined && command !== options.wrap[0]) throw new Error('wrapper not applied');
  const child = spawn(command!, commandArgs, {
    env: {
      ...process.env,
      YAGNA_AUTOCONF_APPKEY: appKey,
      YAGNA_LOG_LEVEL: process.env.YAGNA_TEST_LOG_LEVEL ?? 'info',
      YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let logs = '';
  child.stdout?.on('data', (chunk) => {
    logs += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    logs += chunk;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    });
  });

  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let info: { apiUrl: string; nodeId: string; pid: number } | undefined;
  while (info === undefined) {
    if (child.exitCode !== null)
      throw new Error(`daemon exited with code ${child.exitCode} before it was ready:\n${logs}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`daemon not ready in time:\n${logs}`);
    }
    if (existsSync(infoPath)) {
      try {
        const parsed = JSON.parse(readFileSync(infoPath, 'utf8'));
        // Under a wrapper (ip netns exec) or a launcher that re-executes, the daemon's pid differs from the child's:
        // accept a fresh file.
        const indirect = options.wrap !== undefined || options.command !== undefined;
        if (parsed.pid === child.pid || (indirect && parsed.pid !== undefined)) info = parsed;
      } catch {
        // written in this very moment: read again
      }
    }
    if (info === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const handle: DaemonHandle = {
    apiUrl: info.apiUrl,
    appKey,
    nodeId: info.nodeId,
    dataDir,
    process: child,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    restart: () => startDaemon({ ...options, dataDir, appKey }),
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
  return handle;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the `yagna` CLI as a separate process. */
export function runCli(
  args: string[],
  options: { dataDir?: string; env?: Record<string, string>; input?: string } = {},
): CliResult {
  const result = spawnSync(
    process.execPath,
    [CLI_MAIN, ...args, ...(options.dataDir ? ['--datadir', options.dataDir] : [])],
    {
      env: { ...process.env, YAGNA_LOG_LEVEL: 'warn', ...options.env },
      encoding: 'utf8',
      input: options.input,
      timeout: 60_000,
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** fetch against a daemon with its app-key. */
export async function api(
  daemon: Pick<DaemonHandle, 'apiUrl' | 'appKey'>,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${daemon.appKey}`);
  if (init.body !== undefined && !headers.has('content-type'))
    headers.set('content-type', 'application/json');
  return fetch(`${daemon.apiUrl}${path}`, { ...init, headers });
}

/** A JSON response body as a plain record (tests then compare its fields). */
export async function readJson(response: Response): Promise<Record<string, unknown>> {
  return (await response.json()) as Record<string, unknown>;
}

export interface RelayHandle {
  nodeId: string;
  addresses: string[];
  process: ChildProcess;
  stop(): Promise<void>;
}

/** `yagna relay run` as a real process; resolves once it printed its addresses. */
export async function startRelayProcess(
  options: { listen?: string; dataDir?: string; wrap?: string[] } = {},
): Promise<RelayHandle> {
  const args = [
    CLI_MAIN,
    'relay',
    'run',
    '--datadir',
    options.dataDir ?? tempDir('relay-'),
    '--listen',
    options.listen ?? '/ip4/127.0.0.1/tcp/0',
  ];
  const [command, ...rest] =
    options.wrap === undefined ? [process.execPath, ...args] : [...options.wrap, process.execPath, ...args];
  const child = spawn(command!, rest, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, YAGNA_LOG_LEVEL: 'warn' },
  });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk) => {
    err += chunk;
  });
  const info = await new Promise<{ nodeId: string; addresses: string[] }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start:\n${err}`)), 20_000);
    child.stdout?.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n')[0];
      if (out.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`relay exited with ${code}:\n${err}`));
    });
  });
  return {
    ...info,
    process: child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
