import type { PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey } from '@libp2p/peer-id';
import { nodeIdFromPublicKey } from '../crypto/index.ts';
import { GolemError } from '../errors/index.ts';
import { NetErrorCode } from './errors.ts';

/**
 * Node id (Ethereum address) of a libp2p peer. The peer id embeds its secp256k1 public key, which Noise has
 * authenticated during the handshake, so the node id derived here cannot be claimed by anyone else.
 */
export function nodeIdOfPeer(peer: PeerId): string {
  if (peer.type !== 'secp256k1' || peer.publicKey === undefined) {
    throw new GolemError(
      NetErrorCode.ForeignPeer,
      `peer ${peer.toString()} has no secp256k1 key: not a Golem node`,
    );
  }
  // Every gossip message is checked against its origin's node id: decompressing the key (in JavaScript, about
  // 1 ms) once per origin instead of once per message.
  const key = Buffer.from(peer.publicKey.raw).toString('hex');
  let nodeId = nodeIds.get(key);
  if (nodeId === undefined) {
    nodeId = nodeIdFromPublicKey(peer.publicKey.raw);
    if (nodeIds.size >= NODE_ID_CACHE_LIMIT) nodeIds.delete(nodeIds.keys().next().value!);
    nodeIds.set(key, nodeId);
  }
  return nodeId;
}

const NODE_ID_CACHE_LIMIT = 4096;
const nodeIds = new Map<string, string>();

export function tryNodeIdOfPeer(peer: PeerId): string | undefined {
  try {
    return nodeIdOfPeer(peer);
  } catch {
    return undefined;
  }
}

export { peerIdFromPublicKey };
