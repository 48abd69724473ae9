/**
 * The runtime's side of the Runtime API: reads requests from stdin, answers each in order through the service
 * (as Golem's `ya-runtime-api` server does: one request at a time), and sends events whenever the runtime has them.
 */
import type { Readable, Writable } from 'node:stream';
import { errorMessage, isGolemError } from '../../core/errors/index.ts';
import { DEFAULT_MAX_FRAME_BYTES, FrameReader, frame } from './framing.ts';
import {
  type CreateNetwork,
  decodeRequest,
  type Endpoint,
  ErrorCode,
  encodeResponse,
  type KillProcess,
  type ProcessStatus,
  type Request,
  type Response,
  type ResponseCommand,
  type RunProcess,
  type RuntimeStatus,
} from './messages.ts';
import { consume, OrderedWriter } from './stream.ts';

/** What a runtime implements. A thrown `RuntimeServiceError` picks the error code; anything else is INTERNAL. */
export interface RuntimeService {
  hello(version: string): Promise<string>;
  runProcess(run: RunProcess): Promise<number>;
  killProcess(kill: KillProcess): Promise<void>;
  createNetwork(network: CreateNetwork): Promise<Endpoint | undefined>;
  shutdown(): Promise<void>;
}

export class RuntimeServiceError extends Error {
  readonly code: ErrorCode;
  readonly context: Record<string, string>;
  constructor(code: ErrorCode, message: string, context: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.context = context;
  }
}

export interface RuntimeServer {
  emitProcessStatus(status: ProcessStatus): Promise<void>;
  emitRuntimeStatus(status: RuntimeStatus): Promise<void>;
  /** Resolves when the input ends (or carries bytes that are not a request): the server has stopped. */
  done: Promise<Error | undefined>;
}

async function answer(service: RuntimeService, request: Request): Promise<ResponseCommand> {
  const c = request.command;
  if (c === undefined)
    return { kind: 'error', code: ErrorCode.Internal, message: 'unknown command', context: {} };
  try {
    switch (c.kind) {
      case 'hello':
        return { kind: 'hello', version: await service.hello(c.version) };
      case 'run': {
        const { kind: _, ...run } = c;
        return { kind: 'run', pid: await service.runProcess(run) };
      }
      case 'kill':
        await service.killProcess({ pid: c.pid, signal: c.signal });
        return { kind: 'kill' };
      case 'network': {
        const { kind: _, ...network } = c;
        const endpoint = await service.createNetwork(network);
        return endpoint ? { kind: 'network', endpoint } : { kind: 'network' };
      }
      case 'shutdown':
        await service.shutdown();
        return { kind: 'shutdown' };
    }
  } catch (error) {
    if (error instanceof RuntimeServiceError) {
      return { kind: 'error', code: error.code, message: error.message, context: error.context };
    }
    const context: Record<string, string> = isGolemError(error) ? { code: error.code } : {};
    return { kind: 'error', code: ErrorCode.Internal, message: errorMessage(error), context };
  }
}

export function serveRuntime(
  service: RuntimeService,
  input: Readable,
  output: Writable,
  options: { maxFrameBytes?: number } = {},
): RuntimeServer {
  const writer = new OrderedWriter(output);
  const reader = new FrameReader(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  const send = (response: Response) => writer.write(frame(encodeResponse(response)));
  let queue: Promise<void> = Promise.resolve();
  let onDone!: (error: Error | undefined) => void;
  const done = new Promise<Error | undefined>((resolve) => {
    onDone = resolve;
  });
  consume(
    input,
    (chunk) => {
      for (const bytes of reader.push(chunk)) {
        const request = decodeRequest(bytes);
        queue = queue.then(async () => {
          const command = await answer(service, request);
          await send({ event: false, id: request.id, command }).catch(() => {});
        });
      }
    },
    (error) => {
      queue.then(() => onDone(error));
    },
  );
  return {
    emitProcessStatus: (status) => send({ event: true, id: 0, command: { kind: 'status', ...status } }),
    emitRuntimeStatus: (status) => send({ event: true, id: 0, command: { kind: 'rtStatus', status } }),
    done,
  };
}
