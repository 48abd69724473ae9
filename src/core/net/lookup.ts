/**
 * Node lookup protocol `/golem-ts/lookup/1.0.0`: one request frame, one reply frame. Every node answers for
 * itself and the nodes it is connected to, so a relay, to which every node connects, can tell anyone where a
 * node id lives (its peer id, direct addresses and the relay circuit address).
 */
import type { Stream } from '@libp2p/interface';
import { readFrames, writeFrame } from './bus-protocol.ts';
import { protocolError } from './codec.ts';

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
  answer: (request: LookupRequest) => LookupReply,
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
    await writeFrame(stream, answer(request));
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
