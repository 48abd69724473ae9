/**
 * ExeUnit processes of the provider's node: one supervisor per activity, spawned from its runtime descriptor in
 * a new process group (the runtime's processes stay in it), so that ending an activity, or the end of a crashed
 * supervisor, takes the whole group down.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Logger } from '../log/index.ts';
import type { RuntimeDescriptor } from '../model/exe-unit-descriptor.ts';

export interface SpawnRequest {
  activityId: string;
  descriptor: RuntimeDescriptor;
  agreementFile: string;
  workdir: string;
  cacheDir: string;
  controlSocket: string;
  env?: Record<string, string>;
}

export interface ExeUnitExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the supervisor wrote to stderr. */
  stderrTail: string;
}

const STDERR_TAIL_BYTES = 4096;

interface Running {
  child: ChildProcess;
  exited: Promise<ExeUnitExit>;
}

export class ExeUnitProcesses {
  #running = new Map<string, Running>();
  #log: Logger;

  constructor(logger: Logger) {
    this.#log = logger;
  }

  spawn(request: SpawnRequest, onExit: (exit: ExeUnitExit) => void): void {
    const { descriptor } = request;
    const args = [
      '-b',
      descriptor.runtimePath,
      ...descriptor.extraArgs,
      'service-bus',
      request.activityId,
      '/local/activity',
      '-a',
      request.agreementFile,
      '-w',
      request.workdir,
      '-c',
      request.cacheDir,
    ];
    const script = /\.(ts|js|mjs)$/.test(descriptor.supervisorPath);
    const child = spawn(
      script ? process.execPath : descriptor.supervisorPath,
      script ? [descriptor.supervisorPath, ...args] : args,
      {
        cwd: request.workdir,
        detached: true,
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ...request.env, GSB_URL: `unix:${request.controlSocket}` },
      },
    );
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-STDERR_TAIL_BYTES);
      this.#log.trace('exeunit stderr', { activityId: request.activityId, text: chunk });
    });
    const exited = new Promise<ExeUnitExit>((resolve) => {
      child.once('error', (error) => {
        tail += `\n${error.message}`;
      });
      child.once('close', (code, signal) => {
        this.#running.delete(request.activityId);
        // Whatever the supervisor left behind in its group goes with it.
        if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
        const exit = { code, signal, stderrTail: tail };
        resolve(exit);
        onExit(exit);
      });
    });
    this.#running.set(request.activityId, { child, exited });
  }

  has(activityId: string): boolean {
    return this.#running.has(activityId);
  }

  pid(activityId: string): number | undefined {
    return this.#running.get(activityId)?.child.pid;
  }

  /** Waits for the supervisor to leave on its own, then SIGTERM, then SIGKILL (Golem's 5 s each). */
  async stop(activityId: string, graceMs = 5000): Promise<void> {
    const running = this.#running.get(activityId);
    if (running === undefined) return;
    const pid = running.child.pid;
    const wait = (ms: number) =>
      Promise.race([
        running.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
      ]);
    if (await wait(graceMs)) return;
    if (pid !== undefined) killGroup(pid, 'SIGTERM');
    if (await wait(graceMs)) return;
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
    await running.exited;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((id) => this.stop(id, 0)));
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}
