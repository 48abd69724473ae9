/**
 * Bus contract of the net module. `/local/net/*` is this node only; the net module also serves
 * `/public/net/*` (ping, find) to other nodes. The network events topic never leaves the node.
 */

export const NET_SERVICE = '/local/net';
export const NET_EVENTS_TOPIC = 'local:net-events';

export const NetAddress = {
  /** → NetStatus */
  Status: `${NET_SERVICE}/Status`,
  /** → PeerInfo[] (connected nodes) */
  Peers: `${NET_SERVICE}/Peers`,
  /** { nodeId } → FindResult: locate a node by id and connect to it. */
  Find: `${NET_SERVICE}/Find`,
  /** { nodeId } → PingResult */
  Ping: `${NET_SERVICE}/Ping`,
} as const;

export interface NetStatus {
  nodeId: string;
  peerId: string;
  listenAddrs: string[];
  /** Addresses other nodes can dial, relayed ones included. */
  publicAddrs: string[];
  relays: string[];
  /**
   * Where nodes this one dialled saw it come from: its dial port as mapped by a NAT, if any. Hole punching offers
   * these; empty until a peer has told (through identify).
   */
  observedAddrs: string[];
  connectedPeers: number;
  reachability: 'public' | 'private' | 'unknown';
  /** What hostile or misbehaving peers cost this node: cut-off peers, refused streams, offences by kind. */
  guard?: NetGuardCounters;
}

/** Why a peer got a strike (enough strikes within a window cut it off). */
export type NetOffence =
  | 'requestTimeout'
  | 'stalledFrame'
  | 'bufferExceeded'
  | 'malformed'
  | 'gossipFlood'
  | 'invalidGossip';

export interface NetGuardCounters {
  /** Peers cut off since start, and how many are cut off now. */
  bans: number;
  banned: number;
  /** Bus streams refused because their peer held too many; calls refused as busy (per peer or in all). */
  streamsRefused: number;
  callsRefusedBusy: number;
  /** Gossip messages dropped for their peer's rate. */
  gossipThrottled: number;
  offences: Record<NetOffence, number>;
  /** Bytes of unfinished incoming frames buffered now, over all peers. */
  bufferedBytes: number;
}

export interface PeerInfo {
  nodeId: string;
  peerId: string;
  addrs: string[];
  /** `direct` or `relayed` (through a circuit relay). */
  connection: 'direct' | 'relayed';
  latencyMs: number | null;
}

export interface FindResult {
  nodeId: string;
  addrs: string[];
  connection: 'direct' | 'relayed';
}

export interface PingResult {
  nodeId: string;
  latencyMs: number;
  connection: 'direct' | 'relayed';
}

export type NetEvent =
  | { type: 'peer-connected'; nodeId: string }
  | { type: 'peer-disconnected'; nodeId: string };
