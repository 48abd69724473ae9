/**
 * The libp2p host every node and relay runs: TCP and WebSockets, Noise, Yamux, identify, ping, circuit relay v2
 * (client everywhere, server on relays), DCUtR hole punching (ours, hole-punch.ts), AutoNAT and gossipsub.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { autoNAT } from '@libp2p/autonat';
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { gossipsub } from '@libp2p/gossipsub';
import { identify, identifyPush } from '@libp2p/identify';
import type { PeerId } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { webSockets } from '@libp2p/websockets';
import { createLibp2p } from 'libp2p';
import type { Logger } from '../log/index.ts';
import { type DialPort, fromDialPort } from './dial-port.ts';
import { FairTurns } from './fair-turns.ts';
import { installFastSecp256k1Verify } from './fast-verify.ts';
import { holePunch } from './hole-punch.ts';
import { noiseCrypto } from './noise-crypto.ts';
import type { PeerGuard } from './peer-guard.ts';

const MIB = 1024 * 1024;

export interface RelayLimits {
  /** Reservations a relay holds at once. */
  maxReservations: number;
  /** Bytes one relayed connection may carry in each direction before the relay closes it. */
  dataLimitBytes: bigint;
  /** How long one relayed connection may last. */
  durationLimitMs: number;
  /** Circuits one connected node may be opening at once (hop requests in flight). */
  maxHopStreamsPerConnection: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxReservations: 1024,
  dataLimitBytes: 256n * 1024n * 1024n,
  durationLimitMs: 60 * 60 * 1000,
  maxHopStreamsPerConnection: 32,
};

export interface HostOptions {
  secret: Uint8Array;
  listen: string[];
  /** Run the circuit relay server (the relay role). */
  relay?: RelayLimits;
  /** AutoNAT: ask peers whether this node is reachable, and answer them by dialling back (default on). */
  autonat?: boolean;
  /** Dial TCP from this port and punch holes through NAT with it (nodes; a relay needs neither). */
  dialPort?: DialPort;
  log?: Logger;
  /** Peers cut off for abuse: neither dialled nor let in until their ban ends. */
  isBanned?: (peer: string) => boolean;
}

/** Largest gossip RPC read from a peer (an offer is at most 64 KiB; an RPC may carry several). */
const MAX_GOSSIP_RPC_BYTES = 2 * MIB;

export async function createHost(options: HostOptions) {
  installFastSecp256k1Verify();
  const privateKey = privateKeyFromRaw(options.secret);
  const listen = [...options.listen];
  // Every node also listens through the relays it knows, so nodes behind NAT stay reachable.
  if (options.relay === undefined) listen.push('/p2p-circuit');
  const services = {
    identify: identify(),
    identifyPush: identifyPush(),
    ping: ping(),
    ...(options.dialPort === undefined
      ? {}
      : { holePunch: holePunch({ dialPort: options.dialPort, log: options.log?.child('hole-punch') }) }),
    ...(options.autonat === false ? {} : { autonat: autoNAT() }),
    pubsub: gossipsub({
      allowPublishToZeroTopicPeers: true,
      emitSelf: false,
      runOnLimitedConnection: true,
      heartbeatInterval: 500,
      // Many nodes behind one address is normal here (a provider farm behind one NAT, a local network on
      // loopback). Gossipsub's IP colocation penalty would score the 11th node on an address below the publish
      // threshold and silently cut it off; sybil floods are bounded by signatures and per-provider limits instead.
      scoreParams: { IPColocationFactorWeight: 0 },
      // Without a fast id every duplicate copy (one per mesh peer) has its signature checked before it is found
      // to be a duplicate. The id is gossipsub's own (sender, seqno); the cache holds only messages that passed
      // validation, so a forged copy cannot shadow the genuine one.
      fastMsgIdFn: fastMessageId,
      // One RPC of a peer, its messages' checks included, is handled before its next is read: a flooding peer is
      // held back by its own stream (TCP backpressure) instead of queueing unbounded work here, and guardGossip
      // can take RPCs in fair turns across peers. (Without the second flag the checks of every RPC read so far ran
      // at once, unawaited, and a flood's backlog held the event loop for seconds.)
      awaitRpcHandler: true,
      awaitRpcMessageHandler: true,
      maxInboundDataLength: MAX_GOSSIP_RPC_BYTES,
    }),
    ...(options.relay === undefined
      ? {}
      : {
          relay: circuitRelayServer({
            hopTimeout: 10_000,
            maxInboundHopStreams: options.relay.maxHopStreamsPerConnection,
            reservations: {
              maxReservations: options.relay.maxReservations,
              applyDefaultLimit: true,
              defaultDataLimit: options.relay.dataLimitBytes,
              defaultDurationLimit: options.relay.durationLimitMs,
            },
          }),
        }),
  };
  return createLibp2p({
    privateKey,
    addresses: { listen },
    transports: [
      options.dialPort === undefined ? tcp() : fromDialPort(options.dialPort, tcp()),
      webSockets(),
      circuitRelayTransport(),
    ],
    connectionEncrypters: [noise({ crypto: noiseCrypto })],
    // A paused reader (bus backpressure) still receives up to one window: the read buffer must hold it.
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 4 * MIB, maxReadBufferLength: 8 * MIB } })],
    // A relay holds a connection per reserving node plus the circuits' other ends.
    connectionManager: {
      maxConnections: options.relay === undefined ? 512 : Math.max(512, options.relay.maxReservations * 2),
      // Every relayed connection appears to come from its relay's address: libp2p's default of 5 inbound
      // connections per second per address would refuse the sixth requestor reaching a provider behind NAT.
      inboundConnectionThreshold: 100,
    },
    connectionGater: gater(options.isBanned),
    services,
  });
}

/**
 * Gossip a peer forwards is counted against its rate before anything is checked, and checked in fair turns
 * across peers (`FairTurns`) (gossipsub verifies each
 * message's signature, the costly part, before any topic validator runs): over the rate, the messages of that
 * RPC are dropped unread. A peer flooding with messages of its own earns strikes (at most one a second); one
 * that only forwards is throttled, never struck, so an honest node relaying someone's flood is not cut off.
 * Nodes and relays both install it.
 */
export function guardGossip(host: Host, guard: PeerGuard, trace?: GossipTrace): void {
  type Rpc = { messages: RawGossip[] };
  const pubsub = host.services.pubsub as unknown as {
    handleReceivedRpc(from: PeerId, rpc: Rpc): Promise<void>;
    fastMsgIdCache?: { get(id: string): unknown };
  };
  const handle = pubsub.handleReceivedRpc.bind(pubsub);
  // A copy of a message seen already costs gossipsub one lookup and is dropped: it is not counted. Neighbours
  // forward copies of whatever crosses the mesh; counting them made an honest neighbour that passed on a flood
  // (as gossip must) spend its whole rate here, and its own next message (an honest offer) was dropped unread.
  const seen = (message: Rpc['messages'][number]) => {
    const id = fastMessageId(message);
    return id !== '' && pubsub.fastMsgIdCache?.get(id) !== undefined;
  };
  const turns = new FairTurns();
  pubsub.handleReceivedRpc = async (from, rpc) => {
    const peer = from.toString();
    if (guard.isBanned(peer)) return;
    const carriesMessages = rpc.messages.length > 0;
    if (carriesMessages) {
      if (trace !== undefined)
        for (const message of rpc.messages) trace('rpc', message, { via: peer, batch: rpc.messages.length });
      const admitted = rpc.messages.filter((message) => seen(message) || guard.admitGossip(peer));
      if (trace !== undefined && admitted.length < rpc.messages.length)
        for (const message of rpc.messages)
          if (!admitted.includes(message)) trace('throttled', message, { via: peer });
      if (admitted.length < rpc.messages.length) {
        const own = Buffer.from(from.toMultihash().bytes);
        if (rpc.messages.some((m) => m.from !== undefined && own.equals(m.from))) guard.floodStrike(peer);
        rpc.messages = admitted;
      }
    }
    // Messages are checked in fair turns: one peer's backlog never delays another peer's messages by more than
    // one turn per busy peer. An RPC whose messages were all dropped over the rate takes its turn too: otherwise a
    // flooder's whole backlog (thousands of RPCs already read) was dropped in one run of microtasks, about 50 ms
    // held before the honest peer's turn (traced). Control-only RPCs (subscriptions, IHAVE, GRAFT) go straight through.
    if (!carriesMessages) return handle(from, rpc);
    const asked = turns.turns;
    const release = await turns.take(peer);
    if (trace !== undefined)
      for (const message of rpc.messages)
        trace('turn', message, { via: peer, turnsBefore: turns.turns - asked - 1 });
    try {
      return await handle(from, rpc);
    } finally {
      release();
    }
  };
}

/** A gossip message as it arrives, before any check: its origin's peer id (multihash bytes) and sequence number. */
export type RawGossip = { from?: Uint8Array; seqno?: Uint8Array };
/** Diagnostics: called at each stage a gossip message passes (`YA_NET_TRACE_FROM`). */
export type GossipTrace = (stage: string, message: RawGossip, fields?: Record<string, unknown>) => void;

function gater(isBanned: ((peer: string) => boolean) | undefined) {
  if (isBanned === undefined) return {};
  const deny = (peer: { toString(): string }) => isBanned(peer.toString());
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny,
  };
}

function fastMessageId(message: { from?: Uint8Array; seqno?: Uint8Array }): string {
  if (message.from === undefined || message.seqno === undefined) return '';
  return `${Buffer.from(message.from).toString('base64')}/${Buffer.from(message.seqno).toString('base64')}`;
}

export type Host = Awaited<ReturnType<typeof createHost>>;
