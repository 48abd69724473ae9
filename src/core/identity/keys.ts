import { secp256k1 } from '@noble/curves/secp256k1.js';

/** Compressed (33-byte) public key of a secret. */
export function secp256k1PublicKey(secret: Uint8Array): Uint8Array {
  return secp256k1.getPublicKey(secret, true);
}
