/**
 * The local control channel: a unix socket in the data dir (mode 0600) that bridges newline-delimited JSON
 * requests to the daemon's bus, so the CLI reaches a running daemon like Golem's CLI reaches yagna over GSB.
 * Access is the file permission: whoever may open the data dir may drive the node.
 */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Bus } from '../bus/index.ts';
import { type ErrorCode, GolemError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { ControlErrorCode } from './errors.ts';

export { ControlErrorCode } from './errors.ts';

export const CONTROL_SOCKET_NAME = 'yagna.sock';
const MAX_LINE_BYTES = 16 * 1024 * 1024;

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET_NAME);
}

interface ControlRequest {
  id: number;
  address: string;
  message?: unknown;
  timeoutMs?: number;
}

type ControlResponse =
  | { id: number; ok: unknown }
  | {
      id: number;
      /** A code some module declared, as the daemon's bus gave it. */
      error: { code: ErrorCode; message: string; details?: Record<string, unknown>; httpStatus?: number };
    };

export class ControlServer {
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #path: string;
  #bus: Bus;
  #log: Logger;

  constructor(options: { path: string; bus: Bus; logger: Logger }) {
    this.#path = options.path;
    this.#bus = options.bus;
    this.#log = options.logger.child('control');
  }

  async start(): Promise<void> {
    if (existsSync(this.#path)) {
      if (await isControlSocketLive(this.#path)) {
        throw new GolemError(
          ControlErrorCode.DaemonAlreadyRunning,
          `a daemon already runs on this data dir (${this.#path})`,
        );
      }
      rmSync(this.#path, { force: true });
    }
    const server = createServer((socket) => this.#serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#path, () => resolve());
    });
    chmodSync(this.#path, 0o600);
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.#path, { force: true });
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    readLines(socket, (line) => {
      void this.#handle(line).then((response) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
      });
    });
  }

  async #handle(line: string): Promise<ControlResponse> {
    let request: ControlRequest;
    try {
      request = JSON.parse(line) as ControlRequest;
      if (typeof request.address !== 'string' || typeof request.id !== 'number')
        throw new Error('missing id or address');
    } catch (cause) {
      return {
        id: -1,
        error: {
          code: ControlErrorCode.BadRequest,
          message: `bad control request: ${(cause as Error).message}`,
        },
      };
    }
    try {
      const ok = await this.#bus.call(request.address, request.message, { timeoutMs: request.timeoutMs });
      return { id: request.id, ok: ok ?? null };
    } catch (error) {
      if (!isGolemError(error)) this.#log.warn('control call failed', { address: request.address, error });
      const golem = isGolemError(error)
        ? error
        : new GolemError(ControlErrorCode.CallFailed, (error as Error).message);
      return {
        id: request.id,
        error: {
          code: golem.code,
          message: golem.message,
          details: golem.details,
          httpStatus: golem.httpStatus,
        },
      };
    }
  }
}

function readLines(socket: Socket, onLine: (line: string) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_LINE_BYTES) {
      socket.destroy();
      return;
    }
    for (let newline = buffer.indexOf('\n'); newline >= 0; newline = buffer.indexOf('\n')) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim() !== '') onLine(line);
    }
  });
}

/** A client of the control socket: `call` mirrors `bus.call`, errors keep their codes. */
export class ControlConnection {
  #socket: Socket;
  #next = 1;
  #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    readLines(socket, (line) => {
      const response = JSON.parse(line) as ControlResponse;
      const pending = this.#pending.get(response.id);
      if (pending === undefined) return;
      this.#pending.delete(response.id);
      if ('ok' in response) pending.resolve(response.ok);
      else {
        const { code, message, details, httpStatus } = response.error;
        pending.reject(new GolemError(code, message, { details, httpStatus }));
      }
    });
    socket.on('close', () => {
      for (const pending of this.#pending.values()) {
        pending.reject(
          new GolemError(ControlErrorCode.Disconnected, 'the daemon closed the control connection'),
        );
      }
      this.#pending.clear();
    });
  }

  static async connect(path: string): Promise<ControlConnection> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(s));
      s.once('error', (cause) =>
        reject(
          new GolemError(ControlErrorCode.NoDaemon, `no daemon answers on ${path}`, {
            cause,
            details: { path },
          }),
        ),
      );
    });
    return new ControlConnection(socket);
  }

  call<Res = unknown>(
    address: string,
    message?: unknown,
    options: { timeoutMs?: number } = {},
  ): Promise<Res> {
    const id = this.#next++;
    return new Promise<Res>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#socket.write(`${JSON.stringify({ id, address, message, timeoutMs: options.timeoutMs })}\n`);
    });
  }

  async close(): Promise<void> {
    this.#socket.end();
    this.#socket.destroy();
  }
}

export async function isControlSocketLive(path: string): Promise<boolean> {
  try {
    const connection = await ControlConnection.connect(path);
    await connection.close();
    return true;
  } catch {
    return false;
  }
}
