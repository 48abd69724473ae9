/**
 * Hole punching for two nodes that are both behind NAT: libp2p's DCUtR protocol (`/libp2p/dcutr`) over the
 * relayed connection, ending in a TCP simultaneous open.
 *
 * js-libp2p's own DCUtR cannot do this: its TCP sockets dial from random ports, so the address the relay observed
 * is gone by the time the peer dials it, and both ends would run the security handshake as its initiator. Here
 * every outbound dial leaves from one port (dial-port.ts), so the observed address stays the NAT's mapping of it,
 * and the roles follow the DCUtR spec:
 *
 *   B, which received the relayed connection, sends Connect{its observed addresses}; A answers with Connect{its
 *   own}; B measures the round trip, sends Sync and after half a round trip dials A; A dials B when Sync arrives.
 *   Both dial from their dial port, so the SYNs cross, each opens its own NAT for the other, and one TCP
 *   connection results. On it A is the client of the security handshake and B the server.
 *
 * The handshake authenticates the peer as usual (Noise, with the peer id from the relayed connection), so a
 * third party answering on a punched address gets nowhere.
 */
import { connect as connectSocket, isIP, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ComponentLogger,
  Connection,
  IdentifyResult,
  Libp2pEvents,
  Logger,
  PeerId,
  Startable,
  Stream,
  StreamHandlerOptions,
  TypedEventTarget,
  Upgrader,
} from '@libp2p/interface';
import { AbstractMultiaddrConnection, ipPortToMultiaddr, lpStream } from '@libp2p/utils';
import { CODE_P2P, type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { GolemError } from '../errors/index.ts';
import type { Logger as NodeLogger } from '../log/index.ts';
import type { DialPort } from './dial-port.ts';
import { type TcpEndpoint, tcpEndpointOf } from './direct.ts';
import { NetErrorCode } from './errors.ts';

export const HOLE_PUNCH_PROTOCOL = '/libp2p/dcutr';

/** Largest DCUtR message (the spec's limit). */
const MAX_MESSAGE_BYTES = 4096;
/** Addresses dialled per side; more is noise (or a peer using us to scan or flood someone). */
const MAX_ADDRESSES = 4;
/** Punches under way at once, over all peers. */
const MAX_CONCURRENT_PUNCHES = 8;
const TYPE_CONNECT = 100;
const TYPE_SYNC = 300;

export type HolePunchType = typeof TYPE_CONNECT | typeof TYPE_SYNC;

export interface HolePunchMessage {
  type: HolePunchType;
  addresses: Uint8Array[];
}

// ---- wire format: protobuf `HolePunch { required Type type = 1; repeated bytes ObsAddrs = 2; }` ----

function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

export function encodeHolePunch(message: HolePunchMessage): Uint8Array {
  const head: number[] = [0x08];
  pushVarint(head, message.type);
  const parts: Uint8Array[] = [Uint8Array.from(head)];
  for (const address of message.addresses) {
    const prefix: number[] = [0x12];
    pushVarint(prefix, address.byteLength);
    parts.push(Uint8Array.from(prefix), address);
  }
  return Buffer.concat(parts);
}

function malformed(reason: string): GolemError {
  return new GolemError(NetErrorCode.ProtocolError, `malformed hole punch message: ${reason}`);
}

export function decodeHolePunch(bytes: Uint8Array): HolePunchMessage {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (at >= bytes.length) throw malformed('truncated varint');
      const byte = bytes[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    throw malformed('varint too long');
  };
  let type: number | undefined;
  const addresses: Uint8Array[] = [];
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (wireType === 0) {
      const value = varint();
      if (field === 1) type = value;
    } else if (wireType === 2) {
      const length = varint();
      if (at + length > bytes.length) throw malformed('field runs past the end');
      if (field === 2) addresses.push(bytes.subarray(at, at + length));
      at += length;
    } else if (wireType === 5) {
      at += 4;
    } else if (wireType === 1) {
      at += 8;
    } else {
      throw malformed(`unsupported wire type ${wireType}`);
    }
  }
  if (at > bytes.length) throw malformed('field runs past the end');
  if (type !== TYPE_CONNECT && type !== TYPE_SYNC) throw malformed(`unknown type ${type}`);
  return { type, addresses };
}

// ---- the service ----

interface Registrar {
  handle(
    protocol: string,
    handler: (stream: Stream, connection: Connection) => void | Promise<void>,
    options?: StreamHandlerOptions,
  ): Promise<void>;
  unhandle(protocol: string): Promise<void>;
}

export interface HolePunchComponents {
  peerId: PeerId;
  logger: ComponentLogger;
  upgrader: Upgrader;
  registrar: Registrar;
  events: TypedEventTarget<Libp2pEvents>;
}

export interface HolePunchInit {
  dialPort: DialPort;
  log?: NodeLogger;
  /** Longest one punch (exchange, dials and handshake) may take. */
  timeoutMs?: number;
  /** Exchanges the initiating side tries before it gives up (the spec's retry count). */
  attempts?: number;
}

export function holePunch(init: HolePunchInit): (components: HolePunchComponents) => HolePunch {
  return (components) => new HolePunch(components, init);
}

export class HolePunch implements Startable {
  readonly #components: HolePunchComponents;
  readonly #dialPort: DialPort;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #log: NodeLogger | undefined;
  /** Where peers we dialled from the dial port saw us, newest first: this port's NAT mappings. */
  #observed: Multiaddr[] = [];
  #stopping = new AbortController();
  /**
   * Punches under way, by peer: one at a time per peer, since both would dial between the same two ports. When
   * each node holds a relayed connection from the other, both may lead at once; the one with the lower peer id
   * keeps leading and the other gives way (`leading` is the abort of its own lead).
   */
  readonly #active = new Map<string, { leading?: AbortController }>();

  constructor(components: HolePunchComponents, init: HolePunchInit) {
    this.#components = components;
    this.#dialPort = init.dialPort;
    this.#timeoutMs = init.timeoutMs ?? 10_000;
    this.#attempts = init.attempts ?? 3;
    this.#log = init.log;
  }

  async start(): Promise<void> {
    this.#stopping = new AbortController();
    await this.#components.registrar.handle(
      HOLE_PUNCH_PROTOCOL,
      (stream, connection) => this.#answer(stream, connection),
      { runOnLimitedConnection: true, maxInboundStreams: 4 },
    );
    this.#components.events.addEventListener('peer:identify', this.#onIdentify);
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new GolemError(NetErrorCode.Stopped, 'the network is stopping'));
    this.#components.events.removeEventListener('peer:identify', this.#onIdentify);
    await this.#components.registrar.unhandle(HOLE_PUNCH_PROTOCOL);
  }

  /** Where peers outside this node's NAT see its dial port, newest first. */
  observedAddresses(): string[] {
    return this.#observed.map(String);
  }

  #onIdentify = (event: CustomEvent<IdentifyResult>): void => {
    const { connection, observedAddr } = event.detail;
    if (observedAddr === undefined || connection.limits !== undefined) return;
    if (!this.#dialPort.dialled(connection) || tcpTarget(observedAddr) === undefined) return;
    const address = observedAddr.decapsulateCode(CODE_P2P);
    const text = address.toString();
    this.#observed = [address, ...this.#observed.filter((a) => a.toString() !== text)].slice(0, 4);
  };

  /**
   * B's side: punch through to the peer at the far end of `relayed` (a connection it received through a relay).
   * Resolves with the direct connection, or rejects with NET_HOLE_PUNCH_FAILED after the last attempt.
   */
  async punch(relayed: Connection): Promise<Connection> {
    const peer = relayed.remotePeer.toString();
    const details = { peerId: peer };
    if (this.#observed.length === 0)
      throw new GolemError(NetErrorCode.HolePunchFailed, 'no observed address of our own to offer', {
        details,
      });
    if (this.#active.has(peer))
      throw new GolemError(NetErrorCode.HolePunchFailed, 'a hole punch with this peer is already under way', {
        details,
      });
    if (this.#active.size >= MAX_CONCURRENT_PUNCHES)
      throw new GolemError(NetErrorCode.HolePunchFailed, 'too many hole punches under way', { details });
    const leading = new AbortController();
    this.#active.set(peer, { leading });
    let lastError: unknown;
    try {
      for (let attempt = 1; attempt <= this.#attempts; attempt++) {
        const signal = AbortSignal.any([
          this.#stopping.signal,
          leading.signal,
          AbortSignal.timeout(this.#timeoutMs),
        ]);
        try {
          return await this.#initiate(relayed, signal);
        } catch (error) {
          this.#log?.debug('hole punch attempt failed', { peerId: peer, attempt, error });
          lastError = error;
          if (this.#stopping.signal.aborted || leading.signal.aborted || relayed.status !== 'open') break;
          // The peer's side of the failed attempt is still winding down; a Connect now would be refused.
          const pause = AbortSignal.any([this.#stopping.signal, leading.signal]);
          if (attempt < this.#attempts)
            await sleep(RETRY_PAUSE_MS, undefined, { signal: pause }).catch(() => {});
        }
      }
    } finally {
      if (this.#active.get(peer)?.leading === leading) this.#active.delete(peer);
    }
    throw new GolemError(
      NetErrorCode.HolePunchFailed,
      `no direct connection: ${(lastError as Error)?.message}`,
      {
        details,
        cause: lastError,
      },
    );
  }

  async #initiate(relayed: Connection, signal: AbortSignal): Promise<Connection> {
    const stream = await relayed.newStream(HOLE_PUNCH_PROTOCOL, { runOnLimitedConnection: true, signal });
    try {
      const messages = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES });
      const sentAt = performance.now();
      await messages.write(encodeHolePunch({ type: TYPE_CONNECT, addresses: this.#offer() }), { signal });
      const reply = decodeHolePunch((await messages.read({ signal })).subarray());
      const roundTrip = performance.now() - sentAt;
      if (reply.type !== TYPE_CONNECT) throw malformed('expected Connect');
      const targets = dialTargets(reply.addresses);
      if (targets.length === 0) throw malformed('the peer offered no TCP address');
      await messages.write(encodeHolePunch({ type: TYPE_SYNC, addresses: [] }), { signal });
      await sleep(roundTrip / 2, undefined, { signal });
      this.#log?.debug('punching as the server', {
        peerId: relayed.remotePeer.toString(),
        targets,
        roundTrip,
      });
      // The server side keeps the first socket the client speaks on: if several pairs of dials meet, the client
      // picks one and closes the others.
      const socket = await simultaneousOpen(targets, this.#dialPort.port, 'first-data', signal);
      return await this.#upgrade(socket, relayed.remotePeer, false, signal);
    } finally {
      await stream.close().catch(() => stream.abort(new Error('hole punch stream closed')));
    }
  }

  /** A's side: answer B's Connect, and dial when its Sync arrives. */
  async #answer(stream: Stream, relayed: Connection): Promise<void> {
    const peer = relayed.remotePeer.toString();
    const active = this.#active.get(peer);
    if (active !== undefined) {
      if (active.leading === undefined || this.#components.peerId.toString() < peer) {
        stream.abort(new Error('a hole punch with this peer is already under way'));
        return;
      }
      active.leading.abort(
        new GolemError(NetErrorCode.HolePunchFailed, 'gave way to the peer leading the punch'),
      );
    } else if (this.#active.size >= MAX_CONCURRENT_PUNCHES) {
      stream.abort(new Error('too many hole punches under way'));
      return;
    }
    const answering = {};
    this.#active.set(peer, answering);
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(this.#timeoutMs)]);
    try {
      const messages = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES });
      const connect = decodeHolePunch((await messages.read({ signal })).subarray());
      if (connect.type !== TYPE_CONNECT) throw malformed('expected Connect');
      const targets = dialTargets(connect.addresses);
      if (targets.length === 0 || this.#observed.length === 0)
        throw malformed('no addresses to punch between');
      await messages.write(encodeHolePunch({ type: TYPE_CONNECT, addresses: this.#offer() }), { signal });
      const sync = decodeHolePunch((await messages.read({ signal })).subarray());
      if (sync.type !== TYPE_SYNC) throw malformed('expected Sync');
      this.#log?.debug('punching as the client', { peerId: peer, targets });
      const socket = await simultaneousOpen(targets, this.#dialPort.port, 'first-connected', signal);
      await this.#upgrade(socket, relayed.remotePeer, true, signal);
      await stream.close({ signal });
    } catch (error) {
      this.#log?.debug('answering a hole punch failed', { peerId: peer, error });
      stream.abort(error as Error);
    } finally {
      if (this.#active.get(peer) === answering) this.#active.delete(peer);
    }
  }

  #offer(): Uint8Array[] {
    return this.#observed.map((a) => a.bytes);
  }

  async #upgrade(socket: Socket, peer: PeerId, initiator: boolean, signal: AbortSignal): Promise<Connection> {
    const remoteAddr = ipPortToMultiaddr(socket.remoteAddress!, socket.remotePort!).encapsulate(
      `/p2p/${peer.toString()}`,
    );
    const log = this.#components.logger.forComponent('golem-ts:hole-punch:connection');
    // The muxer takes its role from the connection's direction: the handshake's server is Yamux's server too.
    const connection = new SocketConnection(socket, remoteAddr, initiator ? 'outbound' : 'inbound', log);
    try {
      // Both ends dialled; the DCUtR spec makes A the client of the handshake and B the server.
      return await this.#components.upgrader.upgradeOutbound(connection, { initiator, signal });
    } catch (error) {
      connection.abort(error as Error);
      throw error;
    }
  }
}

/** The first MAX_ADDRESSES TCP endpoints among `addresses`, ignoring what cannot be parsed. */
export function dialTargets(addresses: readonly Uint8Array[]): Target[] {
  const targets: Target[] = [];
  // A Connect message is at most 4 KiB, so the list is short; what is not TCP is skipped.
  for (const bytes of addresses) {
    if (targets.length === MAX_ADDRESSES) break;
    try {
      const target = tcpTarget(multiaddr(bytes));
      if (target !== undefined) targets.push(target);
    } catch {
      // an address this node cannot parse is one it cannot dial
    }
  }
  return targets;
}

type Target = Pick<TcpEndpoint, 'host' | 'port'>;

function tcpTarget(address: Multiaddr): Target | undefined {
  const text = address.toString();
  if (text.includes('/p2p-circuit')) return undefined;
  const endpoint = tcpEndpointOf(text);
  if (endpoint === undefined || endpoint.port === 0 || endpoint.port > 65535 || isIP(endpoint.host) === 0)
    return undefined;
  return { host: endpoint.host, port: endpoint.port };
}

/** Between two attempts of one punch. */
const RETRY_PAUSE_MS = 1000;

/** How long a refused dial waits before the next: the peer's SYN may not have opened its NAT yet. */
const REDIAL_MS = 200;

/**
 * Dials every target from `localPort` until one connects (or, for the server side, until the peer speaks on one),
 * redialling refused and reset attempts until `signal` ends it. Closes every other socket.
 */
export function simultaneousOpen(
  targets: readonly Target[],
  localPort: number,
  pick: 'first-connected' | 'first-data',
  signal: AbortSignal,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (targets.length === 0) return reject(malformed('no TCP address to dial'));
    const sockets = new Set<Socket>();
    let settled = false;
    let lastError: unknown;
    const finish = (winner?: Socket, error?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      for (const socket of sockets) if (socket !== winner) socket.destroy();
      if (winner !== undefined) resolve(winner);
      else reject(error);
    };
    const onAbort = () => finish(undefined, lastError ?? signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const dial = (target: Target) => {
      if (settled) return;
      const socket = connectSocket({ host: target.host, port: target.port, localPort });
      sockets.add(socket);
      socket.once('error', (error) => {
        lastError = error;
        sockets.delete(socket);
        socket.destroy();
        if (!settled) setTimeout(() => dial(target), REDIAL_MS).unref();
      });
      socket.once('connect', () => {
        socket.setNoDelay(true);
        if (pick === 'first-connected') return finish(socket);
        // Wait for the first bytes without consuming them: they stay buffered for the connection's reader. A
        // socket that ends first was a pairing the client closed.
        socket.pause();
        socket.once('readable', () => {
          if (socket.readableLength > 0) return finish(socket);
          sockets.delete(socket);
          socket.destroy();
        });
      });
    };
    for (const target of targets) dial(target);
  });
}

/** A TCP socket as a libp2p connection to upgrade. */
class SocketConnection extends AbstractMultiaddrConnection {
  readonly #socket: Socket;

  constructor(socket: Socket, remoteAddr: Multiaddr, direction: 'inbound' | 'outbound', log: Logger) {
    super({ remoteAddr, direction, log });
    this.#socket = socket;
    socket.removeAllListeners('readable');
    socket.on('data', (data) => this.onData(data));
    socket.on('error', (error) => this.abort(error));
    socket.once('end', () => this.onTransportClosed());
    socket.once('close', (hadError) => {
      if (hadError) this.abort(new Error('TCP connection failed'));
      else this.onTransportClosed();
    });
    socket.on('drain', () => this.safeDispatchEvent('drain'));
    socket.resume();
  }

  sendData(data: Parameters<AbstractMultiaddrConnection['sendData']>[0]) {
    let sentBytes = 0;
    let canSendMore = true;
    for (const chunk of data) {
      sentBytes += chunk.byteLength;
      canSendMore = this.#socket.write(chunk);
      if (!canSendMore) break;
    }
    return { sentBytes, canSendMore };
  }

  async sendClose(): Promise<void> {
    if (this.#socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.destroySoon();
    });
  }

  sendReset(): void {
    this.#socket.resetAndDestroy();
  }

  sendPause(): void {
    this.#socket.pause();
  }

  sendResume(): void {
    this.#socket.resume();
  }
}
