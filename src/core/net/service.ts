import { setTimeout as sleep } from 'node:timers/promises';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import type { Connection, PeerId } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import {
  type Bus,
  BusErrorCode,
  isLocalTopic,
  type RemoteCallOptions,
  type RemoteTransport,
  type Unbind,
} from '../bus/index.ts';
import type { NodeConfig } from '../config/index.ts';
import { fromHex } from '../crypto/index.ts';
import { type Database, migrate } from '../db/index.ts';
import { GolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { IdentityAddress } from '../model/identity.ts';
import {
  type FindResult,
  NET_EVENTS_TOPIC,
  NetAddress,
  type NetEvent,
  type NetStatus,
  type PeerInfo,
  type PingResult,
} from '../model/net.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { BUS_PROTOCOL, callOnStream, createBusStreamHandler, streamOnStream } from './bus-protocol.ts';
import { decodeBody, encodeFrame } from './codec.ts';
import { DialPort } from './dial-port.ts';
import { directCandidates, localSubnets, tcpEndpointOf } from './direct.ts';
import { addressInUse, NetErrorCode } from './errors.ts';
import { createHost, type GossipTrace, guardGossip, type Host, type RawGossip } from './host.ts';
import { nodeIdOfPeer, tryNodeIdOfPeer } from './ids.ts';
import {
  answerLookup,
  askLookup,
  LOOKUP_PROTOCOL,
  type LookupReply,
  type LookupRequest,
  type PeerRecord,
  recordOfPeer,
  serveLookup,
} from './lookup.ts';
import { netMigrations } from './migrations.ts';
import { PeerGuard, type PeerLimits } from './peer-guard.ts';

/** Gossip topics of bus broadcasts are namespaced so that other libp2p applications never collide with them. */
export const GOSSIP_PREFIX = 'golem-ts/bus/';
const DIAL_TIMEOUT_MS = 5_000;
const MAINTENANCE_INTERVAL_MS = 5_000;
const RESERVATION_WAIT_MS = 5_000;
/** How long a relayed connection stays open once a direct one to the same node is up. */
const RELAYED_GRACE_MS = 2_000;
/** Lookup rounds before a node counts as unreachable: covers a node that is connecting right now, and still fails fast. */
const FIND_ROUNDS = 3;
const FIND_RETRY_MS = 300;
/** Extra pings on a fresh connection when the first one's connection closed under it. */
const PING_RETRIES = 1;
/** Retries of opening a bus stream whose connection closed under it, and the pause before each (times the try). */
const OPEN_RETRIES = 3;
const OPEN_RETRY_PAUSE_MS = 250;
const MAX_HEARD_PROBES = 100;

/**
 * Diagnostics over the network, used by `yagna net` and the multi-process tests: a streamed reply from another
 * node, and a broadcast probe every node hears (with the authenticated publisher).
 */
export const NetDiagAddress = {
  /** { nodeId, count?, size? } → { nodeId, items, bytes }: reads `/public/net/PingStream` of that node. */
  StreamPing: '/local/net/StreamPing',
  /** { text } → null: broadcasts a probe on PROBE_TOPIC. */
  Probe: '/local/net/Probe',
  /** → HeardProbe[]: probes heard from other nodes (latest 100). */
  Heard: '/local/net/Heard',
} as const;
export const PROBE_TOPIC = 'net/probe/v1';
export interface HeardProbe {
  from: string;
  text: string;
}

export interface NetServiceOptions {
  /** Secret key of the host; default: the default identity's (asked over the bus). */
  secret?: Uint8Array;
  /** Per-peer bounds (defaults: DEFAULT_PEER_LIMITS). */
  limits?: Partial<PeerLimits>;
}

/** Re-dials of a lost neighbour: first after this long, doubling up to the cap, given up after the last. */
const REDIAL_FIRST_MS = 500;
const REDIAL_SECOND_MS = 3_000;
const REDIAL_MAX_MS = 60_000;
const REDIAL_ATTEMPTS = 12;

/**
 * The node's place in the network: a libp2p host keyed by the default identity, the bus carried over it
 * (`/net/<nodeId>/…` calls and broadcasts), node lookup and neighbourhood upkeep through relays.
 */
export class NetService implements Service, RemoteTransport {
  readonly name = 'net';
  #bus: Bus;
  #db: Database;
  #log: Logger;
  #config: NodeConfig;
  #options: NetServiceOptions;
  #host: Host | undefined;
  #unbinds: Unbind[] = [];
  #peersByNode = new Map<string, PeerId>();
  #subscribed = new Set<string>();
  #upgrading = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #rest: CoreComponents['rest'] | undefined;
  #heard: HeardProbe[] = [];
  #guard: PeerGuard;
  /** Neighbours whose last connection dropped, with the timer of their next re-dial. */
  #lost = new Map<string, { attempt: number; timer: NodeJS.Timeout }>();
  #validated = new Set<string>();
  /** Diagnostics: the gossip trace of `YA_NET_TRACE_FROM` (undefined when off). */
  #trace: GossipTrace | undefined;
  /** Connected nodes this node dialled itself (its neighbours, the nodes it called): those it dials again when lost. */
  #dialled = new Set<string>();

  constructor(
    components: Pick<CoreComponents, 'bus' | 'db' | 'logger' | 'config'> &
      Partial<Pick<CoreComponents, 'rest'>>,
    options: NetServiceOptions = {},
  ) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('net');
    this.#config = components.config;
    this.#options = options;
    this.#rest = components.rest;
    this.#guard = new PeerGuard({
      limits: options.limits,
      log: this.#log,
      onBan: (peer) => this.#cutOff(peer),
    });
    this.#rest?.register('/net-api/v2', (app) => {
      app.get('/net/status', async () => {
        const status = this.status();
        // yagna reports socket addresses (`ip:port`); publicIp only when some address is routable on the internet
        // (with no local subnets, the direct-dial candidates are exactly the public TCP addresses).
        const sockets = status.listenAddrs.map(socketAddressOf).filter((a) => a !== undefined);
        const [publicAddress] = directCandidates(status.listenAddrs, []);
        return {
          nodeId: status.nodeId,
          listenIp: sockets[0] ?? null,
          publicIp: publicAddress === undefined ? null : (socketAddressOf(publicAddress) ?? null),
          sessions: status.connectedPeers,
        };
      });
    });
    this.#rest?.register('/net-api/v1', (app) => {
      app.get('/net/status', async () => this.status());
      app.get('/net/peers', async () => this.peers());
    });
  }

  get host(): Host | undefined {
    return this.#host;
  }

  async start(): Promise<void> {
    migrate(this.#db, netMigrations);
    this.#bindBus();
    if (this.#config.net.disabled) {
      this.#log.info('network disabled: the node runs alone');
      return;
    }
    const nodeId = this.#bus.nodeId;
    if (nodeId === undefined)
      throw new GolemError(NetErrorCode.NoIdentity, 'the net starts after the identity module');
    const secret =
      this.#options.secret ?? fromHex(await this.#bus.call<string>(IdentityAddress.GetSecretKey, { nodeId }));
    const host = await createHost({
      secret,
      listen: this.#config.net.listen,
      autonat: this.#config.net.autonat,
      dialPort: await DialPort.pick(),
      log: this.#log,
      isBanned: (peer) => this.#guard.isBanned(peer),
    }).catch((error: unknown) => {
      const taken = addressInUseOf(error);
      throw taken === undefined ? error : addressInUse(taken, error);
    });
    this.#host = host;
    await host.handle(BUS_PROTOCOL, createBusStreamHandler(this.#bus, this.#log, this.#guard), {
      runOnLimitedConnection: true,
      maxInboundStreams: 512,
    });
    await host.handle(
      LOOKUP_PROTOCOL,
      (stream) => serveLookup(stream, (request) => answerLookup(host, this.#selfRecord(), request)),
      {
        runOnLimitedConnection: true,
      },
    );
    host.addEventListener('peer:connect', (event) => this.#onConnect(event.detail));
    host.addEventListener('peer:disconnect', (event) => this.#onDisconnect(event.detail));
    host.addEventListener('connection:open', (event) => {
      const nodeId = tryNodeIdOfPeer(event.detail.remotePeer);
      if (nodeId !== undefined && event.detail.direction === 'outbound') this.#dialled.add(nodeId);
    });
    host.addEventListener('peer:identify', (event) => {
      void this.#remember(event.detail.peerId);
      void this.#upgradeToDirect(
        event.detail.peerId,
        event.detail.listenAddrs.map(String),
        event.detail.connection,
      );
    });
    this.#trace = this.#gossipTrace();
    guardGossip(host, this.#guard, this.#trace);
    this.#traceStalls();
    host.services.pubsub.addEventListener('message', (event) => this.#onGossip(event.detail));
    this.#bus.setRemote(this);
    this.#log.info('network started', {
      peerId: host.peerId.toString(),
      listen: host.getMultiaddrs().map(String),
    });
    await this.#joinNetwork();
    this.#timer = setInterval(() => {
      this.#guard.prune();
      void this.#maintain();
    }, MAINTENANCE_INTERVAL_MS);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    for (const lost of this.#lost.values()) clearTimeout(lost.timer);
    this.#lost.clear();
    for (const unbind of this.#unbinds.splice(0)) unbind();
    this.#bus.setRemote(undefined);
    const host = this.#host;
    this.#host = undefined;
    await host?.stop();
  }

  // ---- RemoteTransport ----

  async call(
    target: string,
    address: string,
    message: unknown,
    options: RemoteCallOptions,
  ): Promise<unknown> {
    const stream = await this.#openBusStream(target, options.signal);
    return callOnStream(stream, address, message, options.timeoutMs, options.signal);
  }

  async *stream(
    target: string,
    address: string,
    message: unknown,
    options: RemoteCallOptions,
  ): AsyncIterable<unknown> {
    const stream = await this.#openBusStream(target, options.signal);
    yield* streamOnStream(stream, address, message, options.timeoutMs, options.signal);
  }

  async publish(topic: string, message: unknown): Promise<void> {
    const host = this.#host;
    if (host === undefined || isLocalTopic(topic)) return;
    try {
      const traced = this.#config.net.traceFrom === host.peerId.toString();
      if (traced) this.#log.info('gossip trace', { stage: 'publish', topic, at: preciseNow() });
      const result = await host.services.pubsub.publish(
        GOSSIP_PREFIX + topic,
        encodeFrame({ m: message }).subarray(4),
      );
      if (traced)
        this.#log.info('gossip trace', {
          stage: 'published',
          topic,
          at: preciseNow(),
          recipients: result.recipients.map(String),
        });
    } catch (error) {
      this.#log.debug('gossip publish failed', { topic, error });
    }
  }

  topicsChanged(topics: readonly string[]): void {
    const host = this.#host;
    if (host === undefined) return;
    const wanted = new Set(topics.filter((topic) => !isLocalTopic(topic)));
    for (const topic of wanted) {
      if (!this.#subscribed.has(topic)) {
        this.#validateTopic(host, topic);
        host.services.pubsub.subscribe(GOSSIP_PREFIX + topic);
      }
    }
    for (const topic of this.#subscribed) {
      if (!wanted.has(topic)) host.services.pubsub.unsubscribe(GOSSIP_PREFIX + topic);
    }
    this.#subscribed = wanted;
  }

  // ---- queries ----

  status(): NetStatus {
    const host = this.#host;
    const addrs = host?.getMultiaddrs().map(String) ?? [];
    return {
      nodeId: this.#bus.nodeId ?? '',
      peerId: host?.peerId.toString() ?? '',
      listenAddrs: addrs.filter((a) => !a.includes('/p2p-circuit')),
      publicAddrs: addrs,
      relays: this.#config.net.bootstrap,
      observedAddrs: host?.services.holePunch?.observedAddresses() ?? [],
      connectedPeers: host?.getPeers().length ?? 0,
      reachability:
        host === undefined ? 'unknown' : addrs.some((a) => a.includes('/p2p-circuit')) ? 'private' : 'public',
      guard: this.#guard.counters(),
    };
  }

  peers(): PeerInfo[] {
    const host = this.#host;
    if (host === undefined) return [];
    const out: PeerInfo[] = [];
    for (const peer of host.getPeers()) {
      const nodeId = tryNodeIdOfPeer(peer);
      if (nodeId === undefined) continue;
      const connections = host.getConnections(peer);
      const direct = connections.some((c) => c.limits === undefined);
      out.push({
        nodeId,
        peerId: peer.toString(),
        addrs: connections.map((c) => c.remoteAddr.toString()),
        connection: direct ? 'direct' : 'relayed',
        latencyMs: connections.find((c) => c.rtt !== undefined)?.rtt ?? null,
      });
    }
    return out;
  }

  async find(nodeId: string, signal?: AbortSignal): Promise<FindResult> {
    const target = nodeId.toLowerCase();
    const peer = await this.#connect(target, signal ?? AbortSignal.timeout(DIAL_TIMEOUT_MS * 2));
    const connections = this.#requireHost().getConnections(peer);
    return {
      nodeId: target,
      addrs: connections.map((c) => c.remoteAddr.toString()),
      connection: connections.some((c) => c.limits === undefined) ? 'direct' : 'relayed',
    };
  }

  async ping(nodeId: string): Promise<PingResult> {
    for (let attempt = 0; ; attempt++) {
      const found = await this.find(nodeId);
      const peer = this.#peersByNode.get(found.nodeId)!;
      try {
        const latencyMs = await this.#requireHost().services.ping.ping(peer, {
          signal: AbortSignal.timeout(DIAL_TIMEOUT_MS),
        });
        return { nodeId: found.nodeId, latencyMs, connection: found.connection };
      } catch (cause) {
        // The connection `find` returned can close before the ping's stream opens (a relay circuit ended or
        // replaced; seen in CI as libp2p's "no valid addresses" when it then dialled the bare peer id): once more
        // on a connection found anew, then a coded error instead of libp2p's.
        if (attempt >= PING_RETRIES) throw unreachable(found.nodeId, cause);
      }
    }
  }

  // ---- internals ----

  #bindBus(): void {
    const bus = this.#bus;
    const nodeArg = (message: unknown): string => {
      const nodeId = (message as { nodeId?: unknown } | null)?.nodeId;
      if (typeof nodeId !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(nodeId)) {
        throw new GolemError(NetErrorCode.BadNodeId, 'give a node id (0x followed by 40 hex digits)', {
          httpStatus: 400,
        });
      }
      return nodeId.toLowerCase();
    };
    this.#unbinds.push(
      bus.bind(NetAddress.Status, () => this.status()),
      bus.bind(NetAddress.Peers, () => this.peers()),
      bus.bind(NetAddress.Find, (message) => this.find(nodeArg(message))),
      bus.bind(NetAddress.Ping, (message) => this.ping(nodeArg(message))),
      bus.bind('/public/net/Ping', (_message, context) => ({ pong: true, caller: context.caller })),
      bus.bindStream('/public/net/PingStream', (message) => pingStream(message)),
      bus.bind(NetDiagAddress.StreamPing, async (message, context) => {
        const nodeId = nodeArg(message);
        const { count, size } = (message ?? {}) as { count?: number; size?: number };
        let items = 0;
        let bytes = 0;
        for await (const item of bus.stream<{ payload: Uint8Array }>(
          `/net/${nodeId}/net/PingStream`,
          { count, size },
          { signal: context.signal },
        )) {
          items++;
          bytes += item.payload.byteLength;
        }
        return { nodeId, items, bytes };
      }),
      bus.bind(NetDiagAddress.Probe, async (message) => {
        const text = (message as { text?: unknown } | null)?.text;
        if (typeof text !== 'string' || text.length > 1024)
          throw new GolemError(NetErrorCode.BadProbe, 'give { text } of at most 1024 characters', {
            httpStatus: 400,
          });
        await bus.publish(PROBE_TOPIC, { text });
        return null;
      }),
      bus.bind(NetDiagAddress.Heard, () => this.#heard),
      bus.subscribe<{ text?: unknown }>(PROBE_TOPIC, (message, context) => {
        if (typeof message?.text !== 'string') return;
        this.#heard.push({ from: context.from, text: message.text });
        if (this.#heard.length > MAX_HEARD_PROBES) this.#heard.shift();
      }),
    );
  }

  #requireHost(): Host {
    if (this.#host === undefined)
      throw new GolemError(BusErrorCode.Unreachable, 'the network is not running');
    return this.#host;
  }

  async #openBusStream(target: string, signal: AbortSignal) {
    for (let attempt = 0; ; attempt++) {
      const peer = await this.#connect(target, signal);
      try {
        return await this.#requireHost().dialProtocol(peer, BUS_PROTOCOL, {
          signal,
          runOnLimitedConnection: true,
        });
      } catch (cause) {
        // A connection can close under a new stream (a relay's limit, two nodes dialling each other at once), and
        // right after a relay ends a circuit the far side may still be tearing its end down and refuse the next
        // one: a few more tries on a fresh connection, a little apart.
        if (attempt >= OPEN_RETRIES || signal.aborted || (cause as Error)?.name !== 'ConnectionClosedError')
          throw unreachable(target, cause);
        await sleep(OPEN_RETRY_PAUSE_MS * (attempt + 1), undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** A connection to `nodeId`: an existing one, or found through lookups and dialled (direct first, then relayed). */
  async #connect(nodeId: string, signal: AbortSignal): Promise<PeerId> {
    const host = this.#requireHost();
    const known = this.#peersByNode.get(nodeId);
    if (known !== undefined && host.getConnections(known).length > 0) return known;
    const records: PeerRecord[] = [];
    const stored = this.#db.get<{ peer_id: string; addrs: string }>(
      'SELECT peer_id, addrs FROM net_peer WHERE node_id = ?',
      nodeId,
    );
    if (stored !== undefined)
      records.push({ nodeId, peerId: stored.peer_id, addrs: JSON.parse(stored.addrs) as string[] });
    for (const record of records) {
      const peer = await this.#dialRecord(record, signal);
      if (peer !== undefined) return peer;
    }
    for (let round = 0; round < FIND_ROUNDS && !signal.aborted; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, FIND_RETRY_MS));
      for (const peer of host.getPeers()) {
        const reply = await this.#lookup(peer, { find: nodeId }, signal).catch(() => undefined);
        if (reply !== undefined && 'found' in reply && reply.found !== null) {
          const dialled = await this.#dialRecord(reply.found, signal, peer);
          if (dialled !== undefined) return dialled;
        }
      }
    }
    throw unreachable(nodeId);
  }

  async #dialRecord(record: PeerRecord, signal: AbortSignal, via?: PeerId): Promise<PeerId | undefined> {
    // Background work (maintenance, redials) can outlive a stop: a stopped node dials nobody, and does not throw.
    const host = this.#host;
    if (host === undefined) return undefined;
    try {
      const peer = peerIdFromString(record.peerId);
      if (nodeIdOfPeer(peer) !== record.nodeId) return undefined;
      const addrs = record.addrs.filter((a) => !a.includes('/p2p-circuit')).map((a) => multiaddr(a));
      if (via !== undefined) {
        for (const relayAddr of host.getConnections(via).map((c) => c.remoteAddr.toString())) {
          if (!relayAddr.includes('/p2p-circuit'))
            addrs.push(
              multiaddr(
                `${relayAddr.split('/p2p/')[0]}/p2p/${via.toString()}/p2p-circuit/p2p/${peer.toString()}`,
              ),
            );
        }
      }
      if (addrs.length > 0) await host.peerStore.merge(peer, { multiaddrs: addrs });
      const dialSignal = AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]);
      await host.dial(peer, { signal: dialSignal });
      this.#peersByNode.set(record.nodeId, peer);
      return peer;
    } catch (error) {
      this.#log.debug('dial failed', { nodeId: record.nodeId, error });
      return undefined;
    }
  }

  async #lookup(peer: PeerId, request: LookupRequest, signal: AbortSignal): Promise<LookupReply> {
    const stream = await this.#requireHost().dialProtocol(peer, LOOKUP_PROTOCOL, {
      signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]),
      runOnLimitedConnection: true,
    });
    return askLookup(stream, request);
  }

  #selfRecord(): PeerRecord | undefined {
    const host = this.#host;
    if (host === undefined) return undefined;
    return {
      nodeId: this.#bus.nodeId ?? '',
      peerId: host.peerId.toString(),
      addrs: host.getMultiaddrs().map(String),
    };
  }

  async #joinNetwork(): Promise<void> {
    const host = this.#requireHost();
    for (const address of this.#config.net.bootstrap) {
      try {
        await host.dial(multiaddr(address), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) });
      } catch (error) {
        this.#log.warn('cannot reach relay/bootstrap node', { address, error });
      }
    }
    // Reachable through a relay before we call ourselves ready: other nodes may look us up at once.
    if (this.#config.net.bootstrap.length > 0) {
      const deadline = Date.now() + RESERVATION_WAIT_MS;
      while (
        !host.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit')) &&
        Date.now() < deadline
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if (!host.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'))) {
        this.#log.warn('no relay reservation yet: nodes behind NAT cannot reach this node until one is made');
      }
    }
    void this.#redialKnownPeers();
    await this.#maintain();
  }

  /** Dials the nodes met before (persisted peer store), latest first, without holding up the start. */
  async #redialKnownPeers(): Promise<void> {
    const known = this.#db.all<{ node_id: string; peer_id: string; addrs: string }>(
      'SELECT node_id, peer_id, addrs FROM net_peer ORDER BY last_seen DESC LIMIT ?',
      this.#config.net.neighbours,
    );
    await Promise.all(
      known.map((row) =>
        this.#dialRecord(
          { nodeId: row.node_id, peerId: row.peer_id, addrs: JSON.parse(row.addrs) as string[] },
          AbortSignal.timeout(DIAL_TIMEOUT_MS),
        ),
      ),
    );
  }

  /** Keeps the bootstrap connections and a small neighbourhood of direct peers (for gossip and discovery). */
  async #maintain(): Promise<void> {
    const host = this.#host;
    if (host === undefined) return;
    for (const address of this.#config.net.bootstrap) {
      const peer = multiaddr(address)
        .getComponents()
        .find((c) => c.name === 'p2p')?.value;
      if (peer !== undefined && host.getConnections(peerIdFromString(peer)).length === 0) {
        await host.dial(multiaddr(address), { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }).catch(() => {});
      }
    }
    if (host.getPeers().length >= this.#config.net.neighbours) return;
    for (const peer of host.getPeers()) {
      const reply = await this.#lookup(peer, { list: true }, AbortSignal.timeout(DIAL_TIMEOUT_MS)).catch(
        () => undefined,
      );
      if (reply === undefined || !('peers' in reply)) continue;
      for (const record of reply.peers) {
        if (host.getPeers().length >= this.#config.net.neighbours) return;
        if (record.nodeId === this.#bus.nodeId || this.#isConnected(record.nodeId)) continue;
        await this.#dialRecord(record, AbortSignal.timeout(DIAL_TIMEOUT_MS), peer);
      }
    }
  }

  /**
   * A peer that reached us only through a relay may be reachable directly (it is public, or on this machine or
   * LAN): dial it. If not, and the relayed connection came in to us, punch a hole through both NATs (DCUtR, where
   * the node that received the relayed connection leads). Once a direct connection is up the relayed one goes,
   * freeing the relay.
   */
  async #upgradeToDirect(peer: PeerId, announced: string[], via: Connection): Promise<void> {
    const host = this.#host;
    if (host === undefined || via.limits === undefined || this.#upgrading.has(peer.toString())) return;
    if (host.getConnections(peer).some((c) => c.limits === undefined)) return;
    this.#upgrading.add(peer.toString());
    try {
      const direct =
        (await this.#dialDirect(peer, directCandidates(announced, localSubnets()))) ??
        (via.direction === 'inbound' ? await this.#punch(via) : undefined);
      if (direct === undefined) return;
      this.#log.info('relayed connection upgraded to direct', {
        nodeId: tryNodeIdOfPeer(peer),
        address: direct.remoteAddr.toString(),
      });
      // Calls in flight on the relayed connection get a moment to finish; new ones already take the direct one.
      setTimeout(() => {
        for (const connection of host.getConnections(peer))
          if (connection.limits !== undefined) void connection.close().catch(() => {});
      }, RELAYED_GRACE_MS).unref();
    } finally {
      this.#upgrading.delete(peer.toString());
    }
  }

  async #dialDirect(peer: PeerId, candidates: string[]): Promise<Connection | undefined> {
    if (candidates.length === 0) return undefined;
    try {
      const direct = await this.#requireHost().dial(
        candidates.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peer.toString()}`)),
        { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS), force: true },
      );
      return direct.limits === undefined ? direct : undefined;
    } catch (error) {
      this.#log.debug('no direct connection to a relayed peer', { nodeId: tryNodeIdOfPeer(peer), error });
      return undefined;
    }
  }

  async #punch(via: Connection): Promise<Connection | undefined> {
    const holePunch = this.#host?.services.holePunch;
    if (holePunch === undefined || via.status !== 'open') return undefined;
    try {
      return await holePunch.punch(via);
    } catch (error) {
      this.#log.debug('hole punching failed; the peer stays relayed', {
        nodeId: tryNodeIdOfPeer(via.remotePeer),
        error,
      });
      return undefined;
    }
  }

  #onConnect(peer: PeerId): void {
    const nodeId = tryNodeIdOfPeer(peer);
    if (nodeId === undefined) return;
    this.#peersByNode.set(nodeId, peer);
    const lost = this.#lost.get(nodeId);
    if (lost !== undefined) {
      clearTimeout(lost.timer);
      this.#lost.delete(nodeId);
    }
    this.#emit({ type: 'peer-connected', nodeId });
    void this.#remember(peer);
  }

  /** Persists where a connected node listens, so the next start can dial it without asking anyone. */
  async #remember(peer: PeerId): Promise<void> {
    const host = this.#host;
    if (host === undefined) return;
    const record = await recordOfPeer(host, peer);
    if (record === undefined) return;
    this.#db.run(
      `INSERT INTO net_peer (node_id, peer_id, addrs, last_seen) VALUES (?, ?, ?, ?)
       ON CONFLICT(node_id) DO UPDATE SET peer_id = excluded.peer_id, addrs = CASE WHEN excluded.addrs = '[]' THEN addrs ELSE excluded.addrs END, last_seen = excluded.last_seen`,
      record.nodeId,
      record.peerId,
      JSON.stringify(record.addrs),
      new Date().toISOString(),
    );
  }

  #onDisconnect(peer: PeerId): void {
    const nodeId = tryNodeIdOfPeer(peer);
    if (nodeId === undefined) return;
    this.#peersByNode.delete(nodeId);
    this.#emit({ type: 'peer-disconnected', nodeId });
    // Only nodes this node had dialled: a node that came to us (a caller, a crowd at a provider) is not ours to chase.
    const ours = this.#dialled.delete(nodeId);
    if (ours && this.#host !== undefined && !this.#guard.isBanned(peer.toString()))
      this.#scheduleRedial(nodeId, 0);
  }

  #isConnected(nodeId: string): boolean {
    const peer = this.#peersByNode.get(nodeId);
    return peer !== undefined && (this.#host?.getConnections(peer).length ?? 0) > 0;
  }

  /**
   * A neighbour lost without either side meaning it (a network hiccup, a stall that timed pings out) is dialled
   * again, with backoff: at first within a second (3 s for the end with the higher node id), then less and less
   * often, until it answers or the attempts run out. Only while this node has fewer neighbours than it keeps (`--net-neighbours`).
   */
  #scheduleRedial(nodeId: string, attempt: number): void {
    const host = this.#host;
    if (host === undefined || attempt >= REDIAL_ATTEMPTS || (this.#lost.has(nodeId) && attempt === 0)) return;
    if (host.getPeers().length >= this.#config.net.neighbours) return;
    // Both ends of a lost connection re-dial; the one with the higher node id waits longer, so the two do not dial
    // each other at the same moment (crossing dials through a relay close each other) and it only steps in when
    // the other end cannot.
    const first = (this.#bus.nodeId ?? '') < nodeId ? REDIAL_FIRST_MS : REDIAL_SECOND_MS;
    const delay = Math.min(REDIAL_MAX_MS, first * 2 ** attempt) * (0.75 + Math.random() / 2);
    const timer = setTimeout(() => {
      void (async () => {
        if (this.#host === undefined || this.#lost.get(nodeId)?.timer !== timer) return;
        if (this.#isConnected(nodeId)) {
          this.#lost.delete(nodeId);
          return;
        }
        try {
          await this.#connect(nodeId, AbortSignal.timeout(DIAL_TIMEOUT_MS));
          this.#lost.delete(nodeId);
          this.#log.debug('lost neighbour dialled again', { nodeId, attempt });
        } catch {
          if (this.#lost.get(nodeId)?.timer !== timer) return;
          this.#lost.delete(nodeId);
          this.#scheduleRedial(nodeId, attempt + 1);
        }
      })();
    }, delay);
    timer.unref();
    this.#lost.set(nodeId, { attempt, timer });
  }

  /** A peer cut off for abuse: every connection to it closes now (the gater keeps new ones out). */
  #cutOff(peer: string): void {
    const host = this.#host;
    if (host === undefined) return;
    const nodeId = tryNodeIdOfPeer(peerIdFromString(peer));
    if (nodeId !== undefined) {
      clearTimeout(this.#lost.get(nodeId)?.timer);
      this.#lost.delete(nodeId);
    }
    for (const connection of host.getConnections(peerIdFromString(peer)))
      connection.abort(new GolemError(NetErrorCode.PeerBanned, 'cut off for abuse'));
  }

  /**
   * Gossip on a topic is checked before it is delivered and before gossipsub forwards it: the body must decode,
   * and the topic's bus validator (if a module set one) decides. Rejected messages count against the peer that
   * sent them, in gossipsub's score and as strikes here.
   */
  #validateTopic(host: Host, topic: string): void {
    if (this.#validated.has(topic)) return;
    this.#validated.add(topic);
    const trace = this.#trace;
    host.services.pubsub.topicValidators.set(GOSSIP_PREFIX + topic, async (source, message) => {
      const raw =
        message.type === 'signed'
          ? { from: message.from.toMultihash().bytes, seqno: seqnoBytes(message.sequenceNumber) }
          : {};
      trace?.('validate', raw, { via: source.toString() });
      const reject = () => {
        trace?.('rejected', raw);
        this.#guard.strike(source.toString(), 'invalidGossip');
        return TopicValidatorResult.Reject;
      };
      if (message.type !== 'signed') return reject();
      const from = tryNodeIdOfPeer(message.from);
      if (from === undefined) return reject();
      let body: { m?: unknown };
      try {
        body = decodeBody(message.data) as { m?: unknown };
      } catch {
        return reject();
      }
      const verdict = await this.#bus.validateBroadcast(topic, body.m, from);
      trace?.('verdict', raw, { verdict });
      if (verdict === 'reject') return reject();
      return verdict === 'accept' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
    });
  }

  /**
   * Diagnostics (`YA_NET_TRACE_FROM=<peer id>`): a timestamped log line at each stage the gossip of that origin
   * passes here (its RPC read from the peer's stream, throttled, handed to our topic validator, the verdict), so a
   * slow message can be followed across processes. Undefined when tracing is off: no cost per message.
   */
  #gossipTrace(): GossipTrace | undefined {
    const traced = this.#config.net.traceFrom;
    if (traced === undefined) return undefined;
    let origin: Buffer;
    try {
      origin = Buffer.from(peerIdFromString(traced).toMultihash().bytes);
    } catch {
      this.#log.warn('YA_NET_TRACE_FROM is not a peer id: no gossip trace', { value: traced });
      return undefined;
    }
    return (stage: string, message: RawGossip, fields?: Record<string, unknown>) => {
      if (message.from === undefined || !origin.equals(message.from)) return;
      const seqno = message.seqno === undefined ? undefined : Buffer.from(message.seqno).toString('hex');
      this.#log.info('gossip trace', { stage, seqno, at: preciseNow(), ...fields });
    };
  }

  /** Diagnostics with the gossip trace: each event-loop stall over 50 ms, when it ended and how long it was. */
  #traceStalls(): void {
    if (this.#config.net.traceFrom === undefined) return;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      if (now - last > 60)
        this.#log.info('gossip trace', { stage: 'stall', at: preciseNow(), ms: now - last - 10 });
      last = now;
      if (this.#host === undefined) clearInterval(timer);
    }, 10);
    timer.unref();
  }

  #emit(event: NetEvent): void {
    void this.#bus.publish(NET_EVENTS_TOPIC, event);
  }

  #onGossip(message: { type: string; topic: string; data: Uint8Array; from?: PeerId }): void {
    if (!message.topic.startsWith(GOSSIP_PREFIX) || message.type !== 'signed' || message.from === undefined)
      return;
    const from = tryNodeIdOfPeer(message.from);
    if (from === undefined) return;
    try {
      const body = decodeBody(message.data) as { m?: unknown };
      this.#bus.deliverBroadcast(message.topic.slice(GOSSIP_PREFIX.length), body.m, from);
    } catch (error) {
      this.#log.debug('dropped malformed gossip', { from, error });
    }
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one machine. */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

function seqnoBytes(sequenceNumber: bigint): Uint8Array {
  return Buffer.from(sequenceNumber.toString(16).padStart(16, '0'), 'hex');
}

const MAX_PING_ITEMS = 10_000;
const MAX_PING_ITEM_BYTES = 64 * 1024;

/** Diagnostic streamed reply: `count` items of `size` bytes (bounded), to test and measure bus streams. */
async function* pingStream(message: unknown): AsyncGenerator<{ index: number; payload: Uint8Array }> {
  const request = (message ?? {}) as { count?: unknown; size?: unknown };
  const count = Math.min(MAX_PING_ITEMS, Math.max(0, Number(request.count ?? 1) | 0));
  const size = Math.min(MAX_PING_ITEM_BYTES, Math.max(0, Number(request.size ?? 0) | 0));
  const payload = new Uint8Array(size).fill(7);
  for (let index = 0; index < count; index++) yield { index, payload };
}

/** `/ip4/1.2.3.4/tcp/5/…` → `1.2.3.4:5`, `/ip6/::1/tcp/5` → `[::1]:5`; undefined for anything else. */
export function socketAddressOf(address: string): string | undefined {
  const endpoint = tcpEndpointOf(address);
  if (endpoint === undefined) return undefined;
  return endpoint.family === 'ip6'
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
}

/**
 * The listen address libp2p could not bind because another process holds it. libp2p reports it only inside the
 * message of its own error (`<multiaddr>: Error: listen EADDRINUSE …`), one line per failed address.
 */
function addressInUseOf(error: unknown): string | undefined {
  const text =
    error instanceof Error ? `${error.message}\n${String((error.cause as Error)?.message ?? '')}` : '';
  return /^\s*(\/\S+): .*EADDRINUSE/m.exec(text)?.[1];
}

function unreachable(nodeId: string, cause?: unknown): GolemError {
  // The reason travels in the details: a cause does not cross the control socket or the REST API.
  const reason = cause instanceof Error ? cause.message : undefined;
  return new GolemError(BusErrorCode.Unreachable, `node ${nodeId} is not reachable`, {
    details: reason === undefined ? { nodeId } : { nodeId, reason },
    cause,
    httpStatus: 503,
  });
}

export type { Connection };
