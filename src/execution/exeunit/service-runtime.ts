/**
 * Service mode of Golem's runtime contract (provider.md §2.6–2.7): after a deploy that answered
 * `startMode: "blocking"`, `start` spawns `<runtime> … start <args>` (no `--`) and speaks the Runtime API over its
 * stdin/stdout (the `vm` runtime, for one); each `run` is a `RunProcess` whose output and exit code come back
 * as `ProcessStatus` events for its pid. Runtime counters (`RuntimeStatus.Counter`) feed custom usage counters.
 */
import { basename } from 'node:path';
import type { Logger } from '../../core/log/index.ts';
import {
  type ProcessStatus,
  type RuntimeClient,
  type SpawnedRuntime,
  spawnServiceRuntime,
} from '../runtime-api/index.ts';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';
import { signalTree } from './proc.ts';
import { commandLine, type OutputSink, type RuntimeOptions } from './runtime.ts';

const SIGKILL = 9;
const SHUTDOWN_TIMEOUT_MS = 5000;
/** Events of pids nobody waits for yet (the status may come before RunProcess's answer), kept up to this many. */
const MAX_EARLY_EVENTS = 1000;

export class ServiceRuntime {
  #options: RuntimeOptions;
  #log: Logger;
  #spawned: SpawnedRuntime | undefined;
  #sinks = new Map<number, { sink: OutputSink; done: (code: number) => void }>();
  #early: ProcessStatus[] = [];
  /** Custom counters by name, from the runtime's RuntimeStatus events. */
  readonly counters = new Map<string, number>();

  constructor(options: RuntimeOptions, logger: Logger) {
    this.#options = options;
    this.#log = logger;
  }

  get running(): boolean {
    return this.#spawned !== undefined;
  }

  /** The Runtime API client of the running service (CreateNetwork for the VPN goes through it). */
  get client(): RuntimeClient {
    return this.#client();
  }

  #client(): RuntimeClient {
    if (this.#spawned === undefined)
      throw exeUnitError(ExeUnitErrorCode.Runtime, 'the runtime service is not running (start first)');
    return this.#spawned.client;
  }

  /**
   * Spawns the service and says Hello; fails with the runtime's exit code if it dies first. `flags` go before the
   * `start` command (the supervisor's own, e.g. `--vpn-endpoint`), `args` after it (the requestor's).
   */
  async start(args: string[], sink: OutputSink, signal?: AbortSignal, flags: string[] = []): Promise<number> {
    if (this.#spawned !== undefined)
      throw exeUnitError(ExeUnitErrorCode.Runtime, 'the runtime service runs already');
    const { workdir, taskPackage, runtimeArgs = [] } = this.#options;
    const base = [
      '--workdir',
      workdir,
      ...(taskPackage === undefined ? [] : ['--task-package', taskPackage]),
      ...runtimeArgs,
      ...flags,
    ];
    const [command, argv] = commandLine(this.#options.runtimePath, [...base, 'start', ...args]);
    const spawned = spawnServiceRuntime(command, argv, { cwd: workdir, stderr: 'pipe' });
    spawned.child.stderr?.on('data', (chunk: Buffer) => sink.stderr(chunk));
    spawned.client.onProcessStatus((status) => {
      if (this.#sinks.has(status.pid)) this.#deliver(status);
      else if (this.#early.length < MAX_EARLY_EVENTS) this.#early.push(status);
    });
    spawned.client.onRuntimeStatus((status) => {
      if (status.kind === 'counter') this.counters.set(status.name, status.value);
    });
    this.#spawned = spawned;
    void spawned.exited.then((code) => {
      this.#log.info('runtime service ended', { code });
      this.#spawned = undefined;
      for (const [pid, waiting] of this.#sinks) {
        this.#sinks.delete(pid);
        waiting.done(-1);
      }
    });
    const hello = spawned.client.hello(undefined, signal).then(() => 0);
    const died = spawned.exited.then((code) => (typeof code === 'number' && code !== 0 ? code : -1));
    const code = await Promise.race([hello, died]).catch((error) => {
      throw exeUnitError(
        ExeUnitErrorCode.Runtime,
        `the runtime service did not answer Hello: ${(error as Error).message}`,
      );
    });
    if (code !== 0) this.#spawned = undefined;
    return code;
  }

  #deliver(status: ProcessStatus): void {
    const waiting = this.#sinks.get(status.pid);
    if (waiting === undefined) return;
    if (status.stdout.length > 0) waiting.sink.stdout(Buffer.from(status.stdout));
    if (status.stderr.length > 0) waiting.sink.stderr(Buffer.from(status.stderr));
    if (!status.running) {
      this.#sinks.delete(status.pid);
      waiting.done(status.returnCode);
    }
  }

  /** One `RunProcess`; resolves with its return code when a `ProcessStatus{running: false}` for it arrives. */
  async run(entryPoint: string, args: string[], sink: OutputSink, signal?: AbortSignal): Promise<number> {
    const client = this.#client();
    const pid = await client.runProcess(
      { bin: entryPoint, args: [basename(entryPoint), ...args], workDir: '/' },
      signal,
    );
    return new Promise<number>((resolve, reject) => {
      const onAbort = () => {
        void client.killProcess({ pid, signal: SIGKILL }).catch(() => {});
        this.#sinks.delete(pid);
        reject(exeUnitError(ExeUnitErrorCode.Killed, 'the command was killed'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sinks.set(pid, {
        sink,
        done: (code) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(code);
        },
      });
      const early = this.#early.filter((status) => status.pid === pid);
      this.#early = this.#early.filter((status) => status.pid !== pid);
      for (const status of early) this.#deliver(status);
    });
  }

  /** `Shutdown` over the API, then the process tree (after the grace time). */
  async stop(): Promise<void> {
    const spawned = this.#spawned;
    if (spawned === undefined) return;
    const timeout = AbortSignal.timeout(SHUTDOWN_TIMEOUT_MS);
    await spawned.client.shutdown(timeout).catch(() => {});
    const exited = await Promise.race([
      spawned.exited.then(() => true),
      new Promise<boolean>((resolve) =>
        setTimeout(() => resolve(false), this.#options.killTimeoutMs ?? 5000).unref(),
      ),
    ]);
    if (!exited && spawned.child.pid !== undefined) signalTree(spawned.child.pid, 'SIGKILL');
    this.#spawned = undefined;
  }
}
