/**
 * The supervisor → runtime contract of Golem (provider.md §2.6), process mode: every command is one run of the
 * runtime binary, `<runtime> --workdir <wd> [--task-package <p>] [runtime-args] deploy|start|run …`, with
 * stdout/stderr forwarded as they come and the exit code as the command's result. A `.ts`/`.js` runtime is run
 * with this process's own Node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';
import { signalTree } from './proc.ts';

export interface Volume {
  name: string;
  path: string;
}

export interface DeployResult {
  vols: Volume[];
  startMode: 'empty' | 'blocking';
}

export interface RuntimeOptions {
  runtimePath: string;
  workdir: string;
  taskPackage?: string;
  runtimeArgs?: string[];
  /** Grace time between SIGTERM and SIGKILL of a command's process tree (Golem's PROCESS_KILL_TIMEOUT_SECONDS). */
  killTimeoutMs?: number;
}

export interface OutputSink {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export function commandLine(executable: string, args: string[]): [string, string[]] {
  return /\.(ts|js|mjs)$/.test(executable) ? [process.execPath, [executable, ...args]] : [executable, args];
}

/** Parses deploy's stdout: the JSON from its first `{`; empty output means ok, no volumes, process mode. */
export function parseDeployOutput(stdout: string): DeployResult {
  const start = stdout.indexOf('{');
  if (start < 0) return { vols: [], startMode: 'empty' };
  let parsed: { valid?: { Ok?: unknown; Err?: unknown }; vols?: unknown; startMode?: unknown };
  try {
    parsed = JSON.parse(stdout.slice(start));
  } catch (cause) {
    throw exeUnitError(ExeUnitErrorCode.Runtime, 'the runtime printed an unreadable deploy result', {
      cause,
      details: { stdout: stdout.slice(0, 1000) },
    });
  }
  if (parsed.valid?.Err !== undefined)
    throw exeUnitError(ExeUnitErrorCode.Runtime, `deploy failed: ${String(parsed.valid.Err)}`);
  const vols = Array.isArray(parsed.vols)
    ? parsed.vols.filter(
        (v): v is Volume =>
          typeof v === 'object' && v !== null && typeof v.name === 'string' && typeof v.path === 'string',
      )
    : [];
  return { vols, startMode: parsed.startMode === 'blocking' ? 'blocking' : 'empty' };
}

export class ProcessRuntime {
  readonly options: RuntimeOptions;
  #running = new Set<ChildProcess>();

  constructor(options: RuntimeOptions) {
    this.options = options;
  }

  #baseArgs(): string[] {
    const { workdir, taskPackage, runtimeArgs = [] } = this.options;
    return [
      '--workdir',
      workdir,
      ...(taskPackage === undefined ? [] : ['--task-package', taskPackage]),
      ...runtimeArgs,
    ];
  }

  /** Runs the runtime with `args`; resolves with its exit code (a signal counts as -1). */
  invoke(args: string[], sink: OutputSink, signal?: AbortSignal): Promise<number> {
    const [command, argv] = commandLine(this.options.runtimePath, [...this.#baseArgs(), ...args]);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(exeUnitError(ExeUnitErrorCode.Killed, 'the command was killed before it started'));
        return;
      }
      const child = spawn(command, argv, { cwd: this.options.workdir, stdio: ['ignore', 'pipe', 'pipe'] });
      this.#running.add(child);
      child.stdout.on('data', (chunk: Buffer) => sink.stdout(chunk));
      child.stderr.on('data', (chunk: Buffer) => sink.stderr(chunk));
      const onAbort = () => void this.#killTree(child);
      signal?.addEventListener('abort', onAbort, { once: true });
      child.once('error', (cause) => {
        this.#running.delete(child);
        signal?.removeEventListener('abort', onAbort);
        reject(exeUnitError(ExeUnitErrorCode.Runtime, `cannot run the runtime: ${cause.message}`, { cause }));
      });
      child.once('close', (code) => {
        this.#running.delete(child);
        signal?.removeEventListener('abort', onAbort);
        if (signal?.aborted) reject(exeUnitError(ExeUnitErrorCode.Killed, 'the command was killed'));
        else resolve(code ?? -1);
      });
    });
  }

  /** `extra`: Golem's deploy flags (`--volume-override <json>`, `--hostname <h>`). */
  async deploy(extra: string[] = []): Promise<DeployResult> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const code = await this.invoke([...extra, 'deploy', '--'], {
      stdout: (c) => out.push(c),
      stderr: (c) => err.push(c),
    });
    if (code !== 0)
      throw exeUnitError(ExeUnitErrorCode.Runtime, `deploy failed with exit code ${code}`, {
        details: { stderr: Buffer.concat(err).toString('utf8').slice(-2000) },
      });
    return parseDeployOutput(Buffer.concat(out).toString('utf8'));
  }

  start(args: string[], sink: OutputSink, signal?: AbortSignal): Promise<number> {
    return this.invoke(['start', '--', ...args], sink, signal);
  }

  run(entryPoint: string, args: string[], sink: OutputSink, signal?: AbortSignal): Promise<number> {
    return this.invoke(['run', '--entrypoint', entryPoint, '--', ...args], sink, signal);
  }

  /** SIGTERM to the tree, SIGKILL after the grace time. */
  async #killTree(child: ChildProcess): Promise<void> {
    if (child.pid === undefined || child.exitCode !== null) return;
    const pids = signalTree(child.pid, 'SIGTERM');
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const grace = new Promise<'late'>((resolve) =>
      setTimeout(() => resolve('late'), this.options.killTimeoutMs ?? 5000).unref(),
    );
    if ((await Promise.race([exited, grace])) === 'late' && child.pid !== undefined)
      signalTree(child.pid, 'SIGKILL', pids);
  }

  /** Kills every running command (terminate, shutdown). */
  async killAll(): Promise<void> {
    await Promise.all([...this.#running].map((child) => this.#killTree(child)));
  }
}
