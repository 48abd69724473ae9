/**
 * Node lookup protocol `/golem-ts/lookup/1.0.0`: one request frame, one reply frame. Every node answers for
 * itself and the nodes it is connected to, so a relay, to which every node connects, can tell anyone where a
 * node id lives (its peer id, direct addresses and the relay circuit address).
 */
import type { PeerId, Stream } from '@libp2p/interface';
import { readFrames, writeFrame } from './bus-protocol.ts';
import { protocolError } from './codec.ts';
import type { Host } from './host.ts';
import { tryNodeIdOfPeer } from './ids.ts';

export const LOOKUP_PROTOCOL = '/golem-ts/lookup/1.0.0';
export const MAX_LISTED_PEERS = 200;

export interface PeerRecord {
  nodeId: string;
  peerId: string;
  addrs: string[];
}

export type LookupRequest = { find: string } | { list: true };
export type LookupReply = { found: PeerRecord | null } | { peers: PeerRecord[] };

export async function serveLookup(
  stream: Stream,
  answer: (request: LookupRequest) => LookupReply | Promise<LookupReply>,
): Promise<void> {
  try {
    const frames = readFrames(stream);
    const first = await frames.next();
    const request = first.value as LookupRequest | undefined;
    if (
      first.done ||
      request === null ||
      typeof request !== 'object' ||
      !('find' in request || 'list' in request)
    ) {
      throw protocolError('bad lookup request');
    }
    await writeFrame(stream, await answer(request));
    await stream.close();
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
  }
}

export async function askLookup(stream: Stream, request: LookupRequest): Promise<LookupReply> {
  try {
    await writeFrame(stream, request);
    for await (const frame of readFrames(stream)) return frame as LookupReply;
    throw protocolError('lookup closed without a reply');
  } finally {
    if (stream.status === 'open') await stream.close().catch(() => {});
  }
}

/**
 * Where `peer` can be dialled: the listen addresses it announced through identify (the remote address of an
 * inbound connection is only its ephemeral source port), then the addresses we see it at. Relayed ones are left
 * out: the asker builds the circuit address through the relay it asked.
 */
export async function recordOfPeer(host: Host, peer: PeerId): Promise<PeerRecord | undefined> {
  const nodeId = tryNodeIdOfPeer(peer);
  if (nodeId === undefined) return undefined;
  const announced = await host.peerStore
    .get(peer)
    .then((known) => known.addresses.map((a) => a.multiaddr.toString()))
    .catch(() => [] as string[]);
  const seen = host
    .getConnections(peer)
    .filter((c) => c.limits === undefined && c.direction === 'outbound')
    .map((c) => c.remoteAddr.toString());
  const addrs = [...new Set([...announced, ...seen])].filter((a) => !a.includes('/p2p-circuit'));
  return { nodeId, peerId: peer.toString(), addrs };
}

/**
 * This node's answer to a lookup. `find`: the record of that node if it is this one or connected. `list`: this
 * node first, then a random sample of its peers. Random, so that nodes building their neighbourhood from the same
 * relay spread over the network instead of all picking the relay's oldest peers (whose gossip meshes then fill
 * up and leave the rest without a mesh).
 */
export async function answerLookup(
  host: Host,
  self: PeerRecord | undefined,
  request: LookupRequest,
): Promise<LookupReply> {
  if ('find' in request) {
    const wanted = String(request.find).toLowerCase();
    if (self?.nodeId === wanted) return { found: self };
    const peer = host.getPeers().find((p) => tryNodeIdOfPeer(p) === wanted);
    return { found: peer === undefined ? null : ((await recordOfPeer(host, peer)) ?? null) };
  }
  const records: PeerRecord[] = self === undefined ? [] : [self];
  for (const peer of shuffled(host.getPeers())) {
    if (records.length >= MAX_LISTED_PEERS) break;
    const record = await recordOfPeer(host, peer);
    if (record !== undefined) records.push(record);
  }
  return { peers: records };
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
