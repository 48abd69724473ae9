import { GolemError } from '../errors/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { BusErrorCode, badAddress, cancelledError, noHandler, timeoutError } from './errors.ts';
import {
  type BroadcastListener,
  type BroadcastValidator,
  type BroadcastVerdict,
  type Bus,
  type CallContext,
  type CallOptions,
  LOCAL_CALLER,
  type RemoteTransport,
  type RpcHandler,
  type StreamHandler,
  type Unbind,
} from './types.ts';

export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
/** Most a plain call to a stream handler collects: what one frame of the net's bus protocol carries. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;
export const MAX_REPLY_ITEMS = 100_000;

type Entry = { kind: 'rpc'; handler: RpcHandler } | { kind: 'stream'; handler: StreamHandler };

interface Route {
  /** Address to dispatch on this node, or undefined when the call goes to `target` over the network. */
  local: string | undefined;
  target: string | undefined;
  remoteAddress: string | undefined;
}

export interface LocalBusOptions {
  logger?: Logger;
  defaultTimeoutMs?: number;
}

/**
 * In-process router of addressed services. Lookup is by longest registered prefix, as in GSB:
 * `/public/gftp/abc/GetChunk` reaches a handler bound at `/public/gftp/abc`.
 */
export class LocalBus implements Bus {
  #handlers = new Map<string, Entry>();
  #listeners = new Map<string, Set<BroadcastListener>>();
  #validators = new Map<string, BroadcastValidator>();
  #remote: RemoteTransport | undefined;
  #nodeId: string | undefined;
  #nodeIds = new Set<string>();
  #log: Logger;
  #defaultTimeoutMs: number;

  constructor(options: LocalBusOptions = {}) {
    this.#log = (options.logger ?? silentLogger).child('bus');
    this.#defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  }

  get nodeId(): string | undefined {
    return this.#nodeId;
  }

  setNodeIds(defaultId: string, all: readonly string[] = [defaultId]): void {
    this.#nodeId = defaultId.toLowerCase();
    this.#nodeIds = new Set([this.#nodeId, ...all.map((id) => id.toLowerCase())]);
  }

  isLocalNode(nodeId: string): boolean {
    return this.#nodeIds.has(nodeId.toLowerCase());
  }

  bind<Req, Res>(address: string, handler: RpcHandler<Req, Res>): Unbind {
    return this.#register(address, { kind: 'rpc', handler: handler as RpcHandler });
  }

  bindStream<Req, Item>(address: string, handler: StreamHandler<Req, Item>): Unbind {
    return this.#register(address, { kind: 'stream', handler: handler as StreamHandler });
  }

  #register(address: string, entry: Entry): Unbind {
    assertBindable(address);
    if (this.#handlers.has(address)) {
      throw new GolemError(BusErrorCode.AlreadyBound, `a handler is already bound at ${address}`, {
        details: { address },
      });
    }
    this.#handlers.set(address, entry);
    return () => {
      if (this.#handlers.get(address) === entry) this.#handlers.delete(address);
    };
  }

  async call<Res>(address: string, message?: unknown, options: CallOptions = {}): Promise<Res> {
    const route = this.#route(address);
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    const { signal, release } = deadline(address, timeoutMs, options.signal);
    try {
      if (route.local !== undefined) {
        const caller = route.target === undefined ? LOCAL_CALLER : this.#actAs(options);
        return (await raceAbort(this.#invoke(route.local, message, caller, signal), signal)) as Res;
      }
      const remote = this.#requireRemote(address);
      const call = remote.call(route.target!, route.remoteAddress!, message, {
        as: this.#actAs(options),
        signal,
        timeoutMs,
      });
      return (await raceAbort(call, signal)) as Res;
    } finally {
      release();
    }
  }

  async *stream<Item>(address: string, message?: unknown, options: CallOptions = {}): AsyncIterable<Item> {
    const route = this.#route(address);
    const timeoutMs = options.timeoutMs ?? this.#defaultTimeoutMs;
    const { signal, release } = deadline(address, timeoutMs, options.signal);
    try {
      let source: AsyncIterable<unknown>;
      if (route.local !== undefined) {
        const caller = route.target === undefined ? LOCAL_CALLER : this.#actAs(options);
        source = this.#invokeStream(route.local, message, caller, signal);
      } else {
        source = this.#requireRemote(address).stream(route.target!, route.remoteAddress!, message, {
          as: this.#actAs(options),
          signal,
          timeoutMs,
        });
      }
      for await (const item of source) {
        if (signal.aborted) throw signal.reason;
        yield item as Item;
      }
    } finally {
      release();
    }
  }

  subscribe<Msg>(topic: string, listener: BroadcastListener<Msg>): Unbind {
    let set = this.#listeners.get(topic);
    const isNewTopic = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(topic, set);
    }
    set.add(listener as BroadcastListener);
    if (isNewTopic) this.#remote?.topicsChanged?.(this.topics());
    return () => {
      const current = this.#listeners.get(topic);
      if (current === undefined) return;
      current.delete(listener as BroadcastListener);
      if (current.size === 0) {
        this.#listeners.delete(topic);
        this.#remote?.topicsChanged?.(this.topics());
      }
    };
  }

  async publish(topic: string, message: unknown): Promise<void> {
    const from = this.#nodeId ?? LOCAL_CALLER;
    this.deliverBroadcast(topic, message, from);
    if (this.#remote !== undefined && this.#nodeId !== undefined && !isLocalTopic(topic)) {
      await this.#remote.publish(topic, message, this.#nodeId);
    }
  }

  topics(): string[] {
    return [...this.#listeners.keys()];
  }

  setRemote(transport: RemoteTransport | undefined): void {
    this.#remote = transport;
    transport?.topicsChanged?.(this.topics());
  }

  async dispatchRemote(
    caller: string,
    address: string,
    message: unknown,
    signal: AbortSignal,
  ): Promise<unknown> {
    assertPublic(address);
    return this.#invoke(address, message, caller, signal);
  }

  dispatchRemoteStream(
    caller: string,
    address: string,
    message: unknown,
    signal: AbortSignal,
  ): AsyncIterable<unknown> {
    assertPublic(address);
    return this.#invokeStream(address, message, caller, signal);
  }

  deliverBroadcast(topic: string, message: unknown, from: string): void {
    const listeners = this.#listeners.get(topic);
    if (listeners === undefined) return;
    for (const listener of listeners) {
      try {
        const result = listener(message, { from, topic });
        if (result instanceof Promise) {
          result.catch((error) => this.#log.warn('broadcast listener failed', { topic, from, error }));
        }
      } catch (error) {
        this.#log.warn('broadcast listener failed', { topic, from, error });
      }
    }
  }

  setBroadcastValidator<Msg>(topic: string, validator: BroadcastValidator<Msg>): Unbind {
    if (this.#validators.has(topic))
      throw new GolemError(BusErrorCode.AlreadyBound, `topic ${topic} already has a validator`, {
        details: { topic },
      });
    this.#validators.set(topic, validator as BroadcastValidator);
    return () => {
      if (this.#validators.get(topic) === validator) this.#validators.delete(topic);
    };
  }

  async validateBroadcast(topic: string, message: unknown, from: string): Promise<BroadcastVerdict> {
    const validator = this.#validators.get(topic);
    if (validator === undefined) return 'accept';
    try {
      return await validator(message, { from, topic });
    } catch (error) {
      this.#log.warn('broadcast validator failed', { topic, from, error });
      return 'ignore';
    }
  }

  #actAs(options: CallOptions): string {
    const as = options.as?.toLowerCase() ?? this.#nodeId;
    if (as === undefined) {
      throw new GolemError(BusErrorCode.NoIdentity, 'this node has no identity yet: cannot call other nodes');
    }
    return as;
  }

  #requireRemote(address: string): RemoteTransport {
    if (this.#remote === undefined) {
      throw new GolemError(BusErrorCode.Unreachable, `no network: cannot reach ${address}`, {
        details: { address },
      });
    }
    return this.#remote;
  }

  #route(address: string): Route {
    if (address.startsWith('/net/')) {
      const rest = address.slice('/net/'.length);
      const slash = rest.indexOf('/');
      if (slash <= 0 || slash === rest.length - 1)
        throw badAddress(address, 'expected /net/<nodeId>/<service>');
      const target = rest.slice(0, slash).toLowerCase();
      const publicAddress = `/public/${rest.slice(slash + 1)}`;
      if (this.isLocalNode(target)) return { local: publicAddress, target, remoteAddress: undefined };
      return { local: undefined, target, remoteAddress: publicAddress };
    }
    if (address.startsWith('/local/') || address.startsWith('/public/')) {
      return { local: address, target: undefined, remoteAddress: undefined };
    }
    throw badAddress(address, 'addresses start with /local/, /public/ or /net/<nodeId>/');
  }

  #lookup(address: string): Entry | undefined {
    let prefix = address;
    for (;;) {
      const entry = this.#handlers.get(prefix);
      if (entry !== undefined) return entry;
      const cut = prefix.lastIndexOf('/');
      if (cut <= 0) return undefined;
      prefix = prefix.slice(0, cut);
    }
  }

  async #invoke(address: string, message: unknown, caller: string, signal: AbortSignal): Promise<unknown> {
    const entry = this.#lookup(address);
    if (entry === undefined) throw noHandler(address);
    const context: CallContext = { caller, address, signal };
    if (entry.kind === 'rpc') return entry.handler(message, context);
    // An RPC call to a stream handler collects the whole stream, bounded like any reply: a handler that would
    // stream without end (or beyond what one reply may carry) is stopped, not buffered.
    const items: unknown[] = [];
    let bytes = 0;
    for await (const item of entry.handler(message, context)) {
      bytes += approximateBytes(item, MAX_REPLY_BYTES - bytes);
      if (bytes > MAX_REPLY_BYTES || items.length >= MAX_REPLY_ITEMS) {
        throw new GolemError(
          BusErrorCode.ReplyTooLarge,
          `the stream at ${address} is larger than one reply may be; read it as a stream`,
          { details: { address, maxBytes: MAX_REPLY_BYTES, maxItems: MAX_REPLY_ITEMS }, httpStatus: 413 },
        );
      }
      items.push(item);
    }
    return items;
  }

  async *#invokeStream(
    address: string,
    message: unknown,
    caller: string,
    signal: AbortSignal,
  ): AsyncIterable<unknown> {
    const entry = this.#lookup(address);
    if (entry === undefined) throw noHandler(address);
    const context: CallContext = { caller, address, signal };
    if (entry.kind === 'stream') {
      yield* entry.handler(message, context);
    } else {
      // A stream call to an RPC handler yields its single reply.
      yield await entry.handler(message, context);
    }
  }
}

/**
 * Bytes a value takes on the wire, roughly (JSON text, byte arrays as they are); stops counting past `budget`,
 * so a huge item costs no more than the bound it breaks.
 */
export function approximateBytes(value: unknown, budget = Number.POSITIVE_INFINITY): number {
  if (value === null || value === undefined) return 4;
  switch (typeof value) {
    case 'string':
      return value.length + 2;
    case 'number':
    case 'boolean':
    case 'bigint':
      return 8;
    case 'object': {
      if (value instanceof Uint8Array) return value.byteLength + 12;
      let total = 2;
      const entries = Array.isArray(value) ? value : Object.entries(value as object).flat();
      for (const entry of entries) {
        total += approximateBytes(entry, budget - total) + 1;
        if (total > budget) return total;
      }
      return total;
    }
    default:
      return 0;
  }
}

/** Topics named `local:…` stay on this node (module events); all others also go to the network. */
export function isLocalTopic(topic: string): boolean {
  return topic.startsWith('local:');
}

function assertBindable(address: string): void {
  if (!/^\/(local|public)\/[^/]+/.test(address)) {
    throw badAddress(address, 'handlers bind under /local/<module>/... or /public/<module>/...');
  }
}

function assertPublic(address: string): void {
  if (!address.startsWith('/public/')) {
    throw new GolemError(
      BusErrorCode.Forbidden,
      `only /public/ services are reachable from the network: ${address}`,
      {
        details: { address },
        httpStatus: 403,
      },
    );
  }
}

/**
 * Combines the caller's signal with a deadline; the abort reason is a bus error that names the address.
 * `release` frees the timer and the listener once the call is over.
 */
function deadline(
  address: string,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeoutError(address, timeoutMs)), timeoutMs);
  const onOuterAbort = () => controller.abort(cancelledError(address, outer?.reason));
  if (outer !== undefined) {
    if (outer.aborted) onOuterAbort();
    else outer.addEventListener('abort', onOuterAbort, { once: true });
  }
  return {
    signal: controller.signal,
    release: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    },
  };
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
