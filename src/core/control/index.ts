/**
 * The local control channel: a unix socket in the data dir (mode 0600) that bridges newline-delimited JSON
 * requests to the daemon's bus, so the CLI reaches a running daemon like Golem's CLI reaches yagna over GSB.
 * Access is the file permission: whoever may open the data dir may drive the node.
 *
 * A connection may also bind addresses (as Golem's exe-units register on the GSB router): the daemon then
 * forwards calls of those addresses to the connection (`{call, address, message, caller, stream}`), which answers
 * `{reply, ok}` / `{reply, error}`, or for a stream `{reply, item}`… `{reply, end}`; `{cancel}` tells it the
 * caller gave up. When the connection closes, its binds go away and calls waiting on it fail.
 */
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { type Bus, BusErrorCode, type CallContext, type Unbind } from '../bus/index.ts';
import { type ErrorCode, GolemError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { ControlBindErrorCode, ControlErrorCode } from './errors.ts';

export { ControlBindErrorCode, ControlErrorCode } from './errors.ts';

export const CONTROL_SOCKET_NAME = 'yagna.sock';
const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** What a local process may bind: its own ExeUnit addresses. Everything else stays the daemon's. */
export const BINDABLE_PREFIXES = ['/local/exeunit/'] as const;

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET_NAME);
}

interface ControlRequest {
  id: number;
  address: string;
  message?: unknown;
  timeoutMs?: number;
}

interface BindRequest {
  id: number;
  bind: string;
  stream?: boolean;
}

interface UnbindRequest {
  id: number;
  unbind: string;
}

/** An error on the socket: its code is one some module declared, as the other side's bus gave it. */
type WireError = { code: ErrorCode; message: string; details?: Record<string, unknown>; httpStatus?: number };

type ControlResponse = { id: number; ok: unknown } | { id: number; error: WireError };

/** The connection's answer to a forwarded call. */
type BoundReply =
  | { reply: number; ok: unknown }
  | { reply: number; error: WireError }
  | { reply: number; item: unknown }
  | { reply: number; end: true };

/** A forwarded call, daemon → binding process. */
interface ForwardedCall {
  call: number;
  address: string;
  message: unknown;
  caller: string;
  stream: boolean;
}

/**
 * One message per line, JSON with bytes as `{"$bytes": "<base64>"}` (bus messages may carry Uint8Array, e.g. GFTP
 * chunks, which plain JSON would turn into an object of numbers).
 */
export function encodeLine(value: unknown): string {
  return `${JSON.stringify(value, function (this: Record<string, unknown>, key, item) {
    const original = this[key];
    return original instanceof Uint8Array
      ? { $bytes: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') }
      : item;
  })}\n`;
}

export function decodeLine(line: string): Record<string, unknown> {
  return JSON.parse(line, (_key, value) =>
    typeof value === 'object' &&
    value !== null &&
    typeof value.$bytes === 'string' &&
    Object.keys(value).length === 1
      ? new Uint8Array(Buffer.from(value.$bytes, 'base64'))
      : value,
  ) as Record<string, unknown>;
}

function wireError(error: unknown): WireError {
  const golem = isGolemError(error)
    ? error
    : new GolemError(ControlErrorCode.CallFailed, (error as Error).message);
  return { code: golem.code, message: golem.message, details: golem.details, httpStatus: golem.httpStatus };
}

function fromWire(error: WireError): GolemError {
  return new GolemError(error.code, error.message, { details: error.details, httpStatus: error.httpStatus });
}

/** Items of a forwarded stream, pushed by the socket and pulled by the bus. */
class ItemQueue {
  #items: unknown[] = [];
  #done = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  push(item: unknown): void {
    this.#items.push(item);
    this.#wake?.();
  }

  end(error?: unknown): void {
    this.#done = true;
    this.#error = error;
    this.#wake?.();
  }

  async *drain(): AsyncIterable<unknown> {
    for (;;) {
      if (this.#items.length > 0) {
        yield this.#items.shift();
        continue;
      }
      if (this.#done) {
        if (this.#error !== undefined) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }
}

type PendingForward =
  | { stream: false; resolve: (value: unknown) => void; reject: (error: unknown) => void }
  | { stream: true; queue: ItemQueue };

/** One client connection on the server side: its binds and the calls forwarded to it. */
class Binder {
  readonly socket: Socket;
  readonly unbinds = new Map<string, Unbind>();
  readonly pending = new Map<number, PendingForward>();
  #next = 1;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  #send(call: ForwardedCall, context: CallContext, onAbort: () => void): void {
    if (this.socket.destroyed) throw this.#gone(call.address);
    this.socket.write(encodeLine(call));
    context.signal.addEventListener(
      'abort',
      () => {
        onAbort();
        if (!this.socket.destroyed) this.socket.write(encodeLine({ cancel: call.call }));
      },
      { once: true },
    );
  }

  forward(address: string, message: unknown, context: CallContext): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { stream: false, resolve, reject });
      try {
        this.#send({ call: id, address, message, caller: context.caller, stream: false }, context, () =>
          this.pending.delete(id),
        );
      } catch (error) {
        this.pending.delete(id);
        reject(error);
      }
    });
  }

  forwardStream(address: string, message: unknown, context: CallContext): AsyncIterable<unknown> {
    const id = this.#next++;
    const queue = new ItemQueue();
    this.pending.set(id, { stream: true, queue });
    this.#send({ call: id, address, message, caller: context.caller, stream: true }, context, () => {
      this.pending.delete(id);
      queue.end(context.signal.reason);
    });
    return queue.drain();
  }

  settle(reply: BoundReply): void {
    const pending = this.pending.get(reply.reply);
    if (pending === undefined) return;
    if (pending.stream) {
      if ('item' in reply) pending.queue.push(reply.item);
      else {
        this.pending.delete(reply.reply);
        pending.queue.end('error' in reply ? fromWire(reply.error) : undefined);
      }
      return;
    }
    this.pending.delete(reply.reply);
    if ('ok' in reply) pending.resolve(reply.ok);
    else if ('error' in reply) pending.reject(fromWire(reply.error));
    else pending.reject(new GolemError(ControlBindErrorCode.BadReply, 'a stream reply to a plain call'));
  }

  close(): void {
    for (const unbind of this.unbinds.values()) unbind();
    this.unbinds.clear();
    for (const pending of this.pending.values()) {
      const error = this.#gone();
      if (pending.stream) pending.queue.end(error);
      else pending.reject(error);
    }
    this.pending.clear();
  }

  #gone(address?: string): GolemError {
    return new GolemError(ControlBindErrorCode.BinderGone, 'the process serving this address went away', {
      details: { address },
      httpStatus: 500,
    });
  }
}

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
    const binder = new Binder(socket);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      binder.close();
    });
    socket.on('error', () => socket.destroy());
    readLines(socket, (line) => {
      void this.#handle(line, binder).then((response) => {
        if (response !== undefined && !socket.destroyed) socket.write(encodeLine(response));
      });
    });
  }

  #bind(request: BindRequest, binder: Binder): ControlResponse {
    const address = request.bind;
    if (!BINDABLE_PREFIXES.some((prefix) => address.startsWith(prefix)) || address.includes('..')) {
      throw new GolemError(ControlBindErrorCode.BindForbidden, `a local process may not bind ${address}`, {
        details: { address, allowed: BINDABLE_PREFIXES },
      });
    }
    const unbind =
      request.stream === true
        ? this.#bus.bindStream(address, (message, context) => binder.forwardStream(address, message, context))
        : this.#bus.bind(address, (message, context) => binder.forward(address, message, context));
    binder.unbinds.set(address, unbind);
    return { id: request.id, ok: null };
  }

  async #handle(line: string, binder: Binder): Promise<ControlResponse | undefined> {
    let request: ControlRequest;
    try {
      const parsed = decodeLine(line);
      if (typeof parsed.reply === 'number') {
        binder.settle(parsed as unknown as BoundReply);
        return undefined;
      }
      if (typeof parsed.id === 'number' && typeof parsed.bind === 'string') {
        try {
          return this.#bind(parsed as unknown as BindRequest, binder);
        } catch (error) {
          return { id: parsed.id, error: wireError(error) };
        }
      }
      if (typeof parsed.id === 'number' && typeof parsed.unbind === 'string') {
        const { id, unbind } = parsed as unknown as UnbindRequest;
        binder.unbinds.get(unbind)?.();
        binder.unbinds.delete(unbind);
        return { id, ok: null };
      }
      request = parsed as unknown as ControlRequest;
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

/** The line as an object, or undefined when it is not JSON or not an object. */
function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = decodeLine(line);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A well-formed answer to one of this side's requests, or undefined. */
function settlementOf(parsed: Record<string, unknown>): ControlResponse | undefined {
  if (typeof parsed.id !== 'number') return undefined;
  if ('ok' in parsed) return { id: parsed.id, ok: parsed.ok };
  const error = parsed.error as Partial<WireError> | undefined;
  if (typeof error !== 'object' || error === null) return undefined;
  if (typeof error.code !== 'string' || typeof error.message !== 'string') return undefined;
  return { id: parsed.id, error: error as WireError };
}

function malformed(line: string, why: string): GolemError {
  return new GolemError(ControlErrorCode.MalformedLine, `the daemon sent a malformed control line: ${why}`, {
    details: { line: line.slice(0, 200) },
  });
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

/** What a bound handler on the client side learns about a call. */
export interface BoundCallContext {
  caller: string;
  address: string;
  /** Aborted when the bus caller gives up. */
  signal: AbortSignal;
}

type BoundHandler = (message: unknown, context: BoundCallContext) => unknown;
type BoundStreamHandler = (message: unknown, context: BoundCallContext) => AsyncIterable<unknown>;

/**
 * A client of the control socket: `call` mirrors `bus.call`, errors keep their codes; `bind`/`bindStream`
 * serve an address on the daemon's bus from this process.
 */
export class ControlConnection {
  #socket: Socket;
  #next = 1;
  #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  #handlers = new Map<
    string,
    { stream: false; handler: BoundHandler } | { stream: true; handler: BoundStreamHandler }
  >();
  #running = new Map<number, AbortController>();
  #closed: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    // After connect, a reset must not become an unhandled 'error' event: 'close' follows and fails what waits.
    socket.on('error', () => socket.destroy());
    readLines(socket, (line) => {
      const parsed = parseObject(line);
      if (parsed === undefined) return this.#abandon(malformed(line, 'not a JSON object'));
      if (typeof parsed.call === 'number') {
        this.#serveCall(parsed as unknown as ForwardedCall);
        return;
      }
      if (typeof parsed.cancel === 'number') {
        this.#running
          .get(parsed.cancel)
          ?.abort(new GolemError(BusErrorCode.Cancelled, 'the caller went away'));
        return;
      }
      const settle = settlementOf(parsed);
      if (settle === undefined) return this.#abandon(malformed(line, 'neither a call nor an answer'));
      const pending = this.#pending.get(settle.id);
      if (pending === undefined) return;
      this.#pending.delete(settle.id);
      if ('ok' in settle) pending.resolve(settle.ok);
      else pending.reject(fromWire(settle.error));
    });
    socket.on('close', () => {
      for (const controller of this.#running.values()) controller.abort();
      this.#running.clear();
      this.#rejectAll(
        new GolemError(ControlErrorCode.Disconnected, 'the daemon closed the control connection'),
      );
    });
  }

  /** A line this side cannot read: nothing after it can be trusted, so every waiting call fails with why. */
  #abandon(error: GolemError): void {
    this.#rejectAll(error);
    this.#socket.destroy();
  }

  #rejectAll(error: GolemError): void {
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
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
    return this.#request({ address, message, timeoutMs: options.timeoutMs }) as Promise<Res>;
  }

  /** Resolves when the daemon's side of the socket closes (the daemon stopped or went away). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  async bind(address: string, handler: BoundHandler): Promise<void> {
    this.#handlers.set(address, { stream: false, handler });
    await this.#request({ bind: address });
  }

  async bindStream(address: string, handler: BoundStreamHandler): Promise<void> {
    this.#handlers.set(address, { stream: true, handler });
    await this.#request({ bind: address, stream: true });
  }

  async unbind(address: string): Promise<void> {
    this.#handlers.delete(address);
    await this.#request({ unbind: address });
  }

  #request(body: Record<string, unknown>): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed)
        return reject(new GolemError(ControlErrorCode.Disconnected, 'the control connection is closed'));
      this.#pending.set(id, { resolve, reject });
      this.#socket.write(encodeLine({ id, ...body }));
    });
  }

  #write(reply: BoundReply): void {
    if (!this.#socket.destroyed) this.#socket.write(encodeLine(reply));
  }

  #serveCall(call: ForwardedCall): void {
    const entry = this.#handlers.get(call.address);
    const controller = new AbortController();
    this.#running.set(call.call, controller);
    const context = { caller: call.caller, address: call.address, signal: controller.signal };
    const work = async () => {
      if (entry === undefined)
        throw new GolemError(BusErrorCode.NoHandler, `endpoint address not found: ${call.address}`);
      if (entry.stream) {
        for await (const item of entry.handler(call.message, context)) {
          if (controller.signal.aborted) return;
          this.#write({ reply: call.call, item });
        }
        this.#write({ reply: call.call, end: true });
      } else {
        const ok = await entry.handler(call.message, context);
        this.#write({ reply: call.call, ok: ok ?? null });
      }
    };
    work()
      .catch((error) => this.#write({ reply: call.call, error: wireError(error) }))
      .finally(() => this.#running.delete(call.call));
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
