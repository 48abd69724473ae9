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
  return nodeIdFromPublicKey(peer.publicKey.raw);
}

export function tryNodeIdOfPeer(peer: PeerId): string | undefined {
  try {
    return nodeIdOfPeer(peer);
  } catch {
    return undefined;
  }
}

export { peerIdFromPublicKey };
