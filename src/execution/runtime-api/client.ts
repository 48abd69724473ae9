/**
 * The supervisor's side of the Runtime API: drives a service-mode runtime through its stdin (requests) and stdout
 * (responses and events). Requests may overlap; answers are matched by id. Events (ProcessStatus, RuntimeStatus)
 * go to the listeners in the order the runtime sent them.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { GolemError } from '../../core/errors/index.ts';
import { RuntimeApiErrorCode } from './errors.ts';
import { DEFAULT_MAX_FRAME_BYTES, FrameReader, frame } from './framing.ts';
import {
  type CreateNetwork,
  decodeResponse,
  type Endpoint,
  encodeRequest,
  type KillProcess,
  type ProcessStatus,
  type RequestCommand,
  type ResponseCommand,
  type RunProcess,
  type RuntimeStatus,
} from './messages.ts';
import { consume, OrderedWriter } from './stream.ts';

/** The version the supervisor announces in Hello (as Golem's exe-unit does). */
export const RUNTIME_API_VERSION = '0.1.0';

export interface RuntimeClientOptions {
  maxFrameBytes?: number;
}

interface Pending {
  expected: ResponseCommand['kind'];
  resolve: (command: ResponseCommand) => void;
  reject: (error: Error) => void;
}

export class RuntimeClient {
  private readonly writer: OrderedWriter;
  private readonly pending = new Map<number, Pending>();
  private readonly processListeners = new Set<(status: ProcessStatus) => void>();
  private readonly runtimeListeners = new Set<(status: RuntimeStatus) => void>();
  private nextId = 1;
  private closedWith: GolemError | undefined;
  /** Resolves when the runtime's stdout ends; with the error that ended it, if any. */
  readonly closed: Promise<GolemError>;

  constructor(runtimeStdin: Writable, runtimeStdout: Readable, options: RuntimeClientOptions = {}) {
    this.writer = new OrderedWriter(runtimeStdin);
    const reader = new FrameReader(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    let onClosed!: (error: GolemError) => void;
    this.closed = new Promise((resolve) => {
      onClosed = resolve;
    });
    consume(
      runtimeStdout,
      (chunk) => {
        for (const bytes of reader.push(chunk)) this.dispatch(bytes);
      },
      (cause) => {
        const error = new GolemError(
          RuntimeApiErrorCode.Closed,
          cause ? `runtime stream failed: ${cause.message}` : 'runtime closed its output',
          { cause, details: { unfinishedFrameBytes: reader.buffered } },
        );
        this.closedWith = error;
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
        onClosed(error);
      },
    );
  }

  private dispatch(bytes: Uint8Array): void {
    const response = decodeResponse(bytes);
    const command = response.command;
    if (response.event) {
      if (command?.kind === 'status') {
        const { kind: _, ...status } = command;
        for (const listener of this.processListeners) listener(status);
      } else if (command?.kind === 'rtStatus') {
        for (const listener of this.runtimeListeners) listener(command.status);
      }
      return;
    }
    const pending = this.pending.get(response.id);
    if (!pending) return; // an answer nobody waits for (its caller gave up)
    this.pending.delete(response.id);
    if (command === undefined) {
      pending.reject(
        new GolemError(RuntimeApiErrorCode.UnexpectedResponse, 'runtime answered without a command', {
          details: { id: response.id, expected: pending.expected },
        }),
      );
    } else if (command.kind === 'error') {
      pending.reject(
        new GolemError(RuntimeApiErrorCode.Remote, command.message || 'runtime error', {
          details: { id: response.id, code: command.code, context: command.context },
        }),
      );
    } else if (command.kind !== pending.expected) {
      pending.reject(
        new GolemError(
          RuntimeApiErrorCode.UnexpectedResponse,
          `expected ${pending.expected}, got ${command.kind}`,
          {
            details: { id: response.id },
          },
        ),
      );
    } else pending.resolve(command);
  }

  private async call<K extends ResponseCommand['kind']>(
    command: RequestCommand,
    expected: K,
    signal?: AbortSignal,
  ): Promise<Extract<ResponseCommand, { kind: K }>> {
    if (this.closedWith) throw this.closedWith;
    const id = this.nextId++;
    const answer = new Promise<ResponseCommand>((resolve, reject) => {
      this.pending.set(id, { expected, resolve, reject });
    });
    const onAbort = () => {
      const p = this.pending.get(id);
      this.pending.delete(id);
      p?.reject(
        new GolemError(RuntimeApiErrorCode.Aborted, `${command.kind} request aborted`, {
          cause: signal?.reason,
        }),
      );
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.writer.write(frame(encodeRequest({ id, command }))).catch((cause) => {
        throw new GolemError(RuntimeApiErrorCode.Closed, 'runtime input closed', { cause });
      });
      return (await answer) as Extract<ResponseCommand, { kind: K }>;
    } finally {
      this.pending.delete(id);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  onProcessStatus(listener: (status: ProcessStatus) => void): () => void {
    this.processListeners.add(listener);
    return () => this.processListeners.delete(listener);
  }

  onRuntimeStatus(listener: (status: RuntimeStatus) => void): () => void {
    this.runtimeListeners.add(listener);
    return () => this.runtimeListeners.delete(listener);
  }

  /** Version handshake; returns the runtime's version. */
  async hello(version = RUNTIME_API_VERSION, signal?: AbortSignal): Promise<string> {
    return (await this.call({ kind: 'hello', version }, 'hello', signal)).version;
  }

  /** Starts a process; returns its pid (ProcessStatus events carry the same pid). */
  async runProcess(run: RunProcess, signal?: AbortSignal): Promise<number> {
    return (await this.call({ kind: 'run', ...run }, 'run', signal)).pid;
  }

  async killProcess(kill: KillProcess, signal?: AbortSignal): Promise<void> {
    await this.call({ kind: 'kill', ...kill }, 'kill', signal);
  }

  /** Asks the runtime to join networks; returns the endpoint it carries the frames on. */
  async createNetwork(network: CreateNetwork, signal?: AbortSignal): Promise<Endpoint | undefined> {
    return (await this.call({ kind: 'network', ...network }, 'network', signal)).endpoint;
  }

  async shutdown(signal?: AbortSignal): Promise<void> {
    await this.call({ kind: 'shutdown' }, 'shutdown', signal);
  }
}

export interface SpawnedRuntime {
  client: RuntimeClient;
  child: ChildProcess;
  /** Exit code (or the signal's name) once the process ends. */
  exited: Promise<number | string>;
}

/** Spawns a runtime program in service mode (stdin/stdout piped for the Runtime API, stderr as given). */
export function spawnServiceRuntime(
  command: string,
  args: string[],
  options: Omit<SpawnOptions, 'stdio'> & { stderr?: 'inherit' | 'pipe' | 'ignore' } = {},
): SpawnedRuntime {
  const child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', options.stderr ?? 'inherit'] });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    child.once('error', () => resolve(-1));
  });
  child.stdin!.on('error', () => {}); // EPIPE after the runtime died is reported through `closed`
  return { client: new RuntimeClient(child.stdin!, child.stdout!), child, exited };
}
