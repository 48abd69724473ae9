/**
 * Services a REST client binds on the bus (yagna's `/gsb-api/v1`): each binding owns an address prefix; bus calls
 * to `<on>/<component>` become frames on the binding's WebSocket, and the client's answer frames complete them.
 * As in yagna, calls that arrive while no WebSocket is open wait for one (golem-js hands out the URL before its
 * socket is open), a new WebSocket replaces the old one, and unbinding cancels what is still pending.
 *
 * Bounds: bindings per app-key, calls in flight per binding and per calling node (one peer cannot take every
 * slot of a binding), bytes waiting for a socket, a deadline for every call the client leaves unanswered.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocket } from 'ws';
import { type Bus, BusErrorCode, type CallContext, type Unbind } from '../bus/index.ts';
import { GolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { decodeFrame, encodeFrame } from './codec.ts';
import { badRequest, GsbApiErrorCode, notFound } from './errors.ts';

export interface GsbApiLimits {
  bindingsPerAppKey: number;
  callsInFlight: number;
  /** Calls in flight from one calling node, per binding. */
  callsInFlightPerPeer: number;
  /** Bytes of frames waiting for a WebSocket, per binding. */
  queuedBytes: number;
  /** Largest frame either way. */
  frameBytes: number;
  /** How long a call waits for the client's answer. */
  callTimeoutMs: number;
}

export const DEFAULT_GSB_API_LIMITS: GsbApiLimits = {
  bindingsPerAppKey: 256,
  callsInFlight: 256,
  callsInFlightPerPeer: 64,
  queuedBytes: 64 * 1024 * 1024,
  frameBytes: 16 * 1024 * 1024,
  callTimeoutMs: 60_000,
};

/** WebSocket close codes (RFC 6455). */
const CLOSE_NORMAL = 1000;
const CLOSE_POLICY = 1008;

const ADDRESS = /^\/public(\/[A-Za-z0-9_.-]+)+$/;
const COMPONENT = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const MAX_ADDRESS_LENGTH = 256;
const MAX_COMPONENTS = 32;

export interface BindRequest {
  listen?: { on?: unknown; components?: unknown };
}

export interface BindingView {
  servicesId: string;
  listen: { on: string; components: string[] };
}

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

class Binding {
  readonly id: string;
  readonly on: string;
  readonly components: ReadonlySet<string>;
  readonly owner: string;
  unbind: Unbind = () => {};
  socket: WebSocket | undefined;
  readonly pending = new Map<string, PendingCall>();
  /** Calls in flight by calling node. */
  readonly pendingOf = new Map<string, number>();
  queue: Uint8Array[] = [];
  queuedBytes = 0;

  constructor(id: string, on: string, components: string[], owner: string) {
    this.id = id;
    this.on = on;
    this.components = new Set(components);
    this.owner = owner;
  }

  view(): BindingView {
    return { servicesId: this.id, listen: { on: this.on, components: [...this.components] } };
  }
}

export function servicesIdOf(address: string): string {
  return Buffer.from(address, 'utf8').toString('base64url');
}

export class GsbBindings {
  #bus: Bus;
  #log: Logger;
  #limits: GsbApiLimits;
  #bindings = new Map<string, Binding>();

  constructor(options: { bus: Bus; logger: Logger; limits?: Partial<GsbApiLimits> }) {
    this.#bus = options.bus;
    this.#log = options.logger.child('gsb-api');
    this.#limits = { ...DEFAULT_GSB_API_LIMITS, ...options.limits };
  }

  bind(request: BindRequest, owner: string): BindingView {
    const on = request?.listen?.on;
    const components = request?.listen?.components;
    if (
      typeof on !== 'string' ||
      on.length > MAX_ADDRESS_LENGTH ||
      !ADDRESS.test(on) ||
      /\/\.\.?(\/|$)/.test(on)
    ) {
      throw badRequest('listen.on must be a /public/… bus address', { on });
    }
    if (
      !Array.isArray(components) ||
      components.length === 0 ||
      components.length > MAX_COMPONENTS ||
      !components.every((component) => typeof component === 'string' && COMPONENT.test(component))
    ) {
      throw badRequest(`listen.components must be 1..${MAX_COMPONENTS} message names`, { components });
    }
    const id = servicesIdOf(on);
    if (this.#bindings.has(id)) {
      throw new GolemError(GsbApiErrorCode.AlreadyBound, `${on} is already bound`, {
        httpStatus: 400,
        details: { on },
      });
    }
    const owned = [...this.#bindings.values()].filter((binding) => binding.owner === owner).length;
    if (owned >= this.#limits.bindingsPerAppKey) {
      throw new GolemError(
        GsbApiErrorCode.TooManyServices,
        `this app-key already has ${owned} bound services`,
        {
          httpStatus: 400,
          details: { limit: this.#limits.bindingsPerAppKey },
        },
      );
    }
    const binding = new Binding(id, on, components as string[], owner);
    try {
      binding.unbind = this.#bus.bind(on, (message, context) => this.#forward(binding, message, context));
    } catch (cause) {
      throw new GolemError(GsbApiErrorCode.AlreadyBound, `${on} is already bound on this node`, {
        httpStatus: 400,
        details: { on },
        cause,
      });
    }
    this.#bindings.set(id, binding);
    this.#log.debug('bound', { on, components });
    return binding.view();
  }

  /** The binding `id` of `owner`; 400 for an id that is no address, 404 for one nobody bound (or another key did). */
  get(id: string, owner: string): BindingView {
    return this.#owned(id, owner).view();
  }

  unbind(id: string, owner: string): void {
    const binding = this.#owned(id, owner);
    this.#drop(binding, 'unbound');
  }

  /** A WebSocket for the binding: replaces the previous one and receives every call queued meanwhile. */
  attach(id: string, owner: string, socket: WebSocket): void {
    const binding = this.#owned(id, owner);
    const previous = binding.socket;
    binding.socket = socket;
    if (previous !== undefined) {
      this.#failSent(binding, 'the WebSocket was replaced');
      previous.close(CLOSE_POLICY, 'replaced by a newer connection');
    }
    socket.on('message', (data, isBinary) => {
      if (binding.socket !== socket) return;
      if (!isBinary) {
        this.#log.warn('text frame ignored', { servicesId: id });
        return;
      }
      this.#answer(binding, data as Buffer);
    });
    socket.on('close', () => {
      if (binding.socket !== socket) return;
      binding.socket = undefined;
      this.#failSent(binding, 'the WebSocket closed');
    });
    const queued = binding.queue.splice(0);
    binding.queuedBytes = 0;
    for (const frame of queued) socket.send(frame);
  }

  close(): void {
    for (const binding of [...this.#bindings.values()]) this.#drop(binding, 'the daemon is stopping');
  }

  #owned(id: string, owner: string): Binding {
    if (!/^[A-Za-z0-9_-]+$/.test(id) || !ADDRESS.test(Buffer.from(id, 'base64url').toString('utf8'))) {
      throw badRequest('servicesId is not a bound address (base64url)', { servicesId: id });
    }
    const binding = this.#bindings.get(id);
    if (binding === undefined || binding.owner !== owner) throw notFound(id);
    return binding;
  }

  #drop(binding: Binding, reason: string): void {
    this.#bindings.delete(binding.id);
    binding.unbind();
    const error = new GolemError(GsbApiErrorCode.Closed, `${binding.on}: ${reason}`);
    for (const call of binding.pending.values()) call.reject(error);
    binding.pending.clear();
    binding.queue = [];
    binding.queuedBytes = 0;
    binding.socket?.close(CLOSE_NORMAL, reason);
    binding.socket = undefined;
    this.#log.debug('unbound', { on: binding.on, reason });
  }

  /** Calls already sent on a socket that went away will never be answered: fail them now. */
  #failSent(binding: Binding, reason: string): void {
    const error = new GolemError(GsbApiErrorCode.Closed, `${binding.on}: ${reason}`);
    for (const call of binding.pending.values()) call.reject(error);
    binding.pending.clear();
  }

  async #forward(binding: Binding, message: unknown, context: CallContext): Promise<unknown> {
    const component = context.address.slice(binding.on.length + 1);
    if (!binding.components.has(component)) {
      throw new GolemError(BusErrorCode.NoHandler, `endpoint address not found: ${context.address}`, {
        details: { address: context.address },
        httpStatus: 404,
      });
    }
    if (binding.pending.size >= this.#limits.callsInFlight) {
      throw new GolemError(
        GsbApiErrorCode.Busy,
        `${binding.on} has ${binding.pending.size} calls in flight`,
        {
          details: { limit: this.#limits.callsInFlight },
        },
      );
    }
    const fromCaller = binding.pendingOf.get(context.caller) ?? 0;
    if (fromCaller >= this.#limits.callsInFlightPerPeer) {
      throw new GolemError(
        GsbApiErrorCode.Busy,
        `${binding.on} has ${fromCaller} calls in flight from ${context.caller}`,
        {
          details: { limit: this.#limits.callsInFlightPerPeer },
        },
      );
    }
    const id = randomUUID();
    const frame = encodeFrame({ id, component, payload: message ?? {} });
    if (frame.byteLength > this.#limits.frameBytes) {
      throw new GolemError(
        GsbApiErrorCode.Busy,
        `a ${frame.byteLength}-byte call is larger than a frame may be`,
        {
          details: { limit: this.#limits.frameBytes },
        },
      );
    }
    const socket = binding.socket;
    if (socket === undefined) {
      if (binding.queuedBytes + frame.byteLength > this.#limits.queuedBytes) {
        throw new GolemError(GsbApiErrorCode.Busy, `${binding.on} has no WebSocket and its queue is full`, {
          details: { limit: this.#limits.queuedBytes },
        });
      }
      binding.queue.push(frame);
      binding.queuedBytes += frame.byteLength;
    }
    const answer = Promise.withResolvers<unknown>();
    binding.pending.set(id, answer);
    binding.pendingOf.set(context.caller, fromCaller + 1);
    if (socket !== undefined) socket.send(frame);
    const timeout = AbortSignal.timeout(this.#limits.callTimeoutMs);
    const onAbort = () => {
      const timedOut = timeout.aborted;
      answer.reject(
        timedOut
          ? new GolemError(GsbApiErrorCode.Timeout, `${binding.on} did not answer ${component} in time`, {
              details: { timeoutMs: this.#limits.callTimeoutMs },
              httpStatus: 504,
            })
          : context.signal.reason,
      );
    };
    timeout.addEventListener('abort', onAbort, { once: true });
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await answer.promise;
    } finally {
      binding.pending.delete(id);
      const left = (binding.pendingOf.get(context.caller) ?? 1) - 1;
      if (left === 0) binding.pendingOf.delete(context.caller);
      else binding.pendingOf.set(context.caller, left);
      timeout.removeEventListener('abort', onAbort);
      context.signal.removeEventListener('abort', onAbort);
      const at = binding.queue.indexOf(frame);
      if (at >= 0) {
        binding.queue.splice(at, 1);
        binding.queuedBytes -= frame.byteLength;
      }
    }
  }

  #answer(binding: Binding, data: Buffer): void {
    let reply: { id?: unknown; payload?: unknown; error?: unknown };
    try {
      reply = decodeFrame(data) as typeof reply;
    } catch (error) {
      this.#log.warn('undecodable frame ignored', { servicesId: binding.id, error });
      return;
    }
    const call = typeof reply?.id === 'string' ? binding.pending.get(reply.id) : undefined;
    if (call === undefined) {
      this.#log.debug('answer to no pending call ignored', { servicesId: binding.id });
      return;
    }
    if (reply.error !== undefined && reply.error !== null) {
      call.reject(
        new GolemError(GsbApiErrorCode.ClientError, `the service at ${binding.on} failed`, {
          details: { error: reply.error },
        }),
      );
      return;
    }
    call.resolve(reply.payload ?? null);
  }
}
