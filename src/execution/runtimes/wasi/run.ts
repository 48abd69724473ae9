/**
 * Runs one entry point in a sandbox process of its own (`sandbox.ts`): Node's permission model (it may read only
 * its own source; WASI sees only the preopened volumes), the module's memory capped in its binary, the JS heap
 * capped by a V8 flag, a wall-clock limit (the process is killed, exit 124) and an output limit (killed, exit 125).
 * Output is forwarded as it comes; CPU time is returned for the usage counters.
 */
import { spawn } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WasiErrorCode, WasiExitCode } from './errors.ts';
import type { SandboxJob, SandboxReport } from './sandbox.ts';

const SANDBOX = fileURLToPath(new URL('./sandbox.ts', import.meta.url));
const PATH_GUARD = fileURLToPath(new URL('./path-guard.ts', import.meta.url));
/** The sandbox's JS heap (the module's linear memory is not on it). */
const SANDBOX_HEAP_MB = 128;

export interface RunLimits {
  timeLimitMs: number;
  outputBytes: number;
}

export interface RunOutcome {
  exitCode: number;
  cpuSec: number;
  /** Why the runtime ended the command, if it did. */
  reason?: string;
  code?: WasiErrorCode;
}

export interface RunSinks {
  stdout: (chunk: Buffer) => boolean;
  stderr: (chunk: Buffer) => boolean;
  /** Called when a sink that returned false can take more. */
  onDrain: (listener: () => void) => void;
}

export async function runInSandbox(
  given: SandboxJob,
  limits: RunLimits,
  sinks: RunSinks,
): Promise<RunOutcome> {
  // Symlink-free volume paths: the path guard compares real paths.
  const preopens: Record<string, string> = {};
  for (const [guest, host] of Object.entries(given.preopens)) preopens[guest] = realpathSync(host);
  const job = { ...given, preopens };
  const child = spawn(
    process.execPath,
    [
      '--permission',
      '--allow-wasi',
      `--allow-fs-read=${SANDBOX}`,
      `--allow-fs-read=${PATH_GUARD}`,
      ...Object.values(preopens).map((host) => `--allow-fs-read=${host}`),
      '--no-warnings',
      `--max-old-space-size=${SANDBOX_HEAP_MB}`,
      SANDBOX,
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced', env: {} },
  );
  let report: SandboxReport | undefined;
  let killedFor: { exitCode: number; code: WasiErrorCode; reason: string; cpuSec: number } | undefined;
  let outputBytes = 0;
  const kill = (exitCode: number, code: WasiErrorCode, reason: string) => {
    if (killedFor !== undefined || child.exitCode !== null) return;
    killedFor = { exitCode, code, reason, cpuSec: processCpuSec(child.pid) };
    child.kill('SIGKILL');
  };
  const forward = (stream: NodeJS.ReadableStream, sink: (chunk: Buffer) => boolean) => {
    stream.on('data', (chunk: Buffer) => {
      if (killedFor !== undefined) return;
      outputBytes += chunk.length;
      if (outputBytes > limits.outputBytes) {
        kill(
          WasiExitCode.OutputLimit,
          WasiErrorCode.OutputLimit,
          `output passed the limit of ${limits.outputBytes} bytes`,
        );
        return;
      }
      if (!sink(chunk)) {
        stream.pause();
        sinks.onDrain(() => stream.resume());
      }
    });
  };
  const streamsDone = Promise.all(
    [child.stdout!, child.stderr!].map(
      (stream) => new Promise<void>((resolve) => stream.once('close', resolve)),
    ),
  );
  forward(child.stdout!, sinks.stdout);
  forward(child.stderr!, sinks.stderr);
  child.on('message', (message: SandboxReport) => {
    report = message;
  });
  const timer = setTimeout(
    () =>
      kill(
        WasiExitCode.TimeLimit,
        WasiErrorCode.TimeLimit,
        `time limit of ${limits.timeLimitMs / 1000} s exceeded`,
      ),
    limits.timeLimitMs,
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await spawned;
  child.send(job);
  const exitCode = await exited;
  clearTimeout(timer);
  await streamsDone;

  if (killedFor !== undefined) return { ...killedFor };
  const cpuSec = (report?.cpuMicros ?? 0) / 1e6;
  if (report === undefined) {
    return {
      exitCode: WasiExitCode.Error,
      code: WasiErrorCode.Internal,
      cpuSec,
      reason: `the sandbox ended without a report (exit ${exitCode})`,
    };
  }
  if (report.type === 'trap') {
    return {
      exitCode: WasiExitCode.Trap,
      code: WasiErrorCode.Trap,
      cpuSec,
      reason: `wasm trap: ${report.message}`,
    };
  }
  if (report.type === 'error') {
    return { exitCode: WasiExitCode.Error, code: WasiErrorCode.BadModule, cpuSec, reason: report.message };
  }
  return { exitCode: report.code, cpuSec };
}

/** CPU seconds (user + system) of a live process, from /proc (Linux); 0 where that is not available. */
function processCpuSec(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name; in clock ticks (100/s).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
