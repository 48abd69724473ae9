/**
 * secp256k1 signature checks of libp2p keys through OpenSSL (`node:crypto`) instead of @noble/curves in JavaScript.
 * Gossipsub checks the publisher's signature on every message it receives: with the JavaScript check (about 5 ms
 * on this machine) that was more than half of what a message cost, so a flood of validly signed messages stalled
 * the event loop; OpenSSL takes under 1 ms. The answer is the same: ECDSA over sha256 of the data, a DER signature,
 * and high-s signatures refused as @noble/curves refuses them (`test/unit/core/net/fast-verify.test.ts` compares
 * both on valid, tampered, high-s and malformed signatures).
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { publicKeyFromRaw } from '@libp2p/crypto/keys';

/** DER prefix of an SPKI secp256k1 public key, by the length of the raw key that follows. */
const SPKI_PREFIX: Record<number, Buffer> = {
  33: Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'),
  65: Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex'),
};
const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const KEY_CACHE_LIMIT = 4096;
const keys = new Map<string, KeyObject | null>();

type Bytes = Uint8Array | { subarray(): Uint8Array };

function keyObject(raw: Uint8Array): KeyObject | undefined {
  const id = Buffer.from(raw).toString('hex');
  let key = keys.get(id);
  if (key === undefined) {
    const prefix = SPKI_PREFIX[raw.length];
    try {
      key =
        prefix === undefined
          ? null
          : createPublicKey({ key: Buffer.concat([prefix, raw]), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
    if (keys.size >= KEY_CACHE_LIMIT) keys.delete(keys.keys().next().value!);
    keys.set(id, key);
  }
  return key ?? undefined;
}

/** The s of a DER ECDSA signature is at most half the group order (no malleable twin). */
function isLowS(signature: Uint8Array): boolean {
  if (signature.length < 8 || signature[0] !== 0x30 || signature[2] !== 0x02) return false;
  const rLength = signature[3]!;
  const sAt = 4 + rLength;
  if (signature[sAt] !== 0x02) return false;
  const sLength = signature[sAt + 1]!;
  const s = signature.subarray(sAt + 2, sAt + 2 + sLength);
  if (s.length !== sLength || sLength === 0) return false;
  return BigInt(`0x${Buffer.from(s).toString('hex')}`) <= HALF_ORDER;
}

export function verifySecp256k1(raw: Uint8Array, data: Bytes, signature: Uint8Array): boolean {
  const key = keyObject(raw);
  if (key === undefined || !isLowS(signature)) return false;
  const bytes = data instanceof Uint8Array ? data : data.subarray();
  try {
    return verify('sha256', bytes, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

let installed = false;

/** Routes every libp2p secp256k1 public key's `verify` through `verifySecp256k1` (once per process). */
export function installFastSecp256k1Verify(): void {
  if (installed) return;
  installed = true;
  // The class is not exported by @libp2p/crypto; any key it makes carries it.
  const sample = publicKeyFromRaw(
    Buffer.from('0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798', 'hex'),
  );
  const prototype = Object.getPrototypeOf(sample) as {
    verify(this: { raw: Uint8Array }, data: Bytes, signature: Uint8Array): boolean;
  };
  prototype.verify = function (data, signature) {
    return verifySecp256k1(this.raw, data, signature);
  };
}
