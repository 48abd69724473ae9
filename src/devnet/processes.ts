/**
 * The devnet's child processes: each writes its output into a log file of the devnet's folder (so a detached devnet
 * can still be read), is recorded with its command line (so `devnet down` signals only processes it started, never
 * a recycled pid), and is waited for by a readiness check of its own (a line in its log, a file it writes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GolemError } from '../core/errors/index.ts';
import { DevnetErrorCode } from './errors.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
export const GOLEMSP_MAIN = join(REPO_ROOT, 'src', 'agents', 'provider', 'cli.ts');
export const RUNTIMES_DIR = join(REPO_ROOT, 'src', 'execution', 'runtimes');
export const ANVIL_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'anvil');

export interface ChildRecord {
  name: string;
  pid: number;
  /** `/proc/<pid>/cmdline` once it runs, to recognise the process later. */
  cmdline: string;
  log: string;
}

export interface Child {
  record: ChildRecord;
  process: ChildProcess;
  exited: Promise<number | null>;
  /** The log file's content so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnLogged(
  name: string,
  command: string,
  args: string[],
  /**
   * `group`: the child leads a process group of its own, and stopping it ends what is left of the group too (a
   * process it started and could not stop itself, e.g. golemsp's daemon when golemsp is stopped while starting).
   */
  options: { env?: Record<string, string>; log: string; cwd?: string; group?: boolean },
): Child {
  const fd = openSync(options.log, 'a');
  const child = spawn(command, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', fd, fd],
    cwd: options.cwd ?? REPO_ROOT,
    detached: options.group === true,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new GolemError(DevnetErrorCode.StartFailed, `${name} did not start`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const record: ChildRecord = {
    name,
    pid: child.pid,
    cmdline: readCmdline(child.pid) ?? '',
    log: options.log,
  };
  return {
    record,
    process: child,
    exited,
    output: () => readLog(options.log),
    stop: async (graceMs = 10_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      if (options.group === true) await stopGroup(record.pid, graceMs);
    },
  };
}

/** SIGTERM to what is left of a process group, SIGKILL after `graceMs`; resolves when the group is empty. */
async function stopGroup(pgid: number, graceMs: number): Promise<void> {
  const signal = (name: NodeJS.Signals | 0) => {
    try {
      process.kill(-pgid, name);
      return true;
    } catch {
      return false; // no process left in the group
    }
  };
  if (!signal('SIGTERM')) return;
  const deadline = Date.now() + graceMs;
  while (signal(0)) {
    if (Date.now() > deadline) {
      signal('SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function readCmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return undefined;
  }
}

/** Whether the process recorded is still the one running under its pid. */
export function isRunning(record: Pick<ChildRecord, 'pid' | 'cmdline'>): boolean {
  const now = readCmdline(record.pid);
  return now !== undefined && now !== '' && now === record.cmdline;
}

/** Polls `check` until it returns a value; fails early when the child exits, with the tail of its log. */
export async function waitUntil<T>(
  child: Child | undefined,
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (child !== undefined && (child.process.exitCode !== null || child.process.signalCode !== null))
      throw new GolemError(DevnetErrorCode.StartFailed, `${child.record.name} exited before ${what}`, {
        details: { log: child.record.log, tail: tail(child.output()) },
      });
    if (Date.now() > deadline)
      throw new GolemError(DevnetErrorCode.StartFailed, `timed out waiting for ${what}`, {
        details: child === undefined ? {} : { log: child.record.log, tail: tail(child.output()) },
      });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const tail = (text: string, lines = 15): string => text.trimEnd().split('\n').slice(-lines).join('\n');

/** Reads and parses a JSON file written by another process; undefined while it is missing or half written. */
export function readJsonFile<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
