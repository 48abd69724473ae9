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
    .filter((c) => c.limits === undefined)
    .map((c) => c.remoteAddr.toString());
  const addrs = [...new Set([...announced, ...seen])].filter((a) => !a.includes('/p2p-circuit'));
  return { nodeId, peerId: peer.toString(), addrs };
}

/** This node's answer to a lookup: itself first, then every node it is connected to. */
export async function answerLookup(
  host: Host,
  self: PeerRecord | undefined,
  request: LookupRequest,
): Promise<LookupReply> {
  const records: PeerRecord[] = self === undefined ? [] : [self];
  for (const peer of host.getPeers()) {
    const record = await recordOfPeer(host, peer);
    if (record !== undefined) records.push(record);
  }
  if ('find' in request)
    return { found: records.find((r) => r.nodeId === String(request.find).toLowerCase()) ?? null };
  return { peers: records.slice(0, MAX_LISTED_PEERS) };
}
