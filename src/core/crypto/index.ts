/**
 * Pure signing primitives shared by every module: digests, recoverable secp256k1 signatures and node ids.
 * No key storage here (that is the identity module); anything that only verifies uses these functions.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { GolemError } from '../errors/index.ts';
import { CryptoErrorCode } from './errors.ts';

export { CryptoErrorCode } from './errors.ts';

export { bytesToHex, hexToBytes };

export function keccak256(data: Uint8Array | string): Uint8Array {
  return keccak_256(typeof data === 'string' ? new TextEncoder().encode(data) : data);
}

export function toHex(bytes: Uint8Array): string {
  return `0x${bytesToHex(bytes)}`;
}

export function fromHex(hex: string): Uint8Array {
  const clean = hex.startsWith('0x') || hex.startsWith('0X') ? hex.slice(2) : hex;
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new GolemError(CryptoErrorCode.BadHex, 'not a hex string', {
      details: { value: hex.slice(0, 80) },
    });
  }
  return hexToBytes(clean);
}

/** Node id (lower-case Ethereum address) of an uncompressed (65-byte) or compressed (33-byte) public key. */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  const uncompressed =
    publicKey.length === 65 ? publicKey : secp256k1.Point.fromBytes(publicKey).toBytes(false);
  return toHex(keccak256(uncompressed.subarray(1)).subarray(12));
}

export function nodeIdFromSecret(secret: Uint8Array): string {
  return nodeIdFromPublicKey(secp256k1.getPublicKey(secret, false));
}

/** Compressed (33-byte) secp256k1 public key of a secret. */
export function publicKeyFromSecret(secret: Uint8Array): Uint8Array {
  return secp256k1.getPublicKey(secret, true);
}

export function sha256(data: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(data).digest());
}

export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && /^0x[0-9a-f]{40}$/.test(value);
}

/** Signs a 32-byte digest; returns r‖s‖v (v = 27/28), the Ethereum layout. */
export function signDigest(secret: Uint8Array, digest: Uint8Array): Uint8Array {
  if (digest.length !== 32) throw new GolemError(CryptoErrorCode.BadDigest, 'a digest has 32 bytes');
  const signature = secp256k1.sign(digest, secret, { prehash: false, format: 'recovered' });
  // noble's recovered format is v‖r‖s with v = 0/1.
  const out = new Uint8Array(65);
  out.set(signature.subarray(1, 65), 0);
  out[64] = signature[0]! + 27;
  return out;
}

/** Node id that produced `signature` (r‖s‖v) over `digest`. */
export function recoverNodeId(digest: Uint8Array, signature: Uint8Array): string {
  if (signature.length !== 65) throw new GolemError(CryptoErrorCode.BadSignature, 'a signature has 65 bytes');
  const v = signature[64]!;
  const recovery = v >= 27 ? v - 27 : v;
  if (recovery !== 0 && recovery !== 1) throw new GolemError(CryptoErrorCode.BadSignature, 'bad recovery id');
  const noble = new Uint8Array(65);
  noble[0] = recovery;
  noble.set(signature.subarray(0, 64), 1);
  try {
    const publicKey = secp256k1.recoverPublicKey(noble, digest, { prehash: false });
    return nodeIdFromPublicKey(publicKey);
  } catch (cause) {
    throw new GolemError(CryptoErrorCode.BadSignature, 'signature does not recover to a public key', {
      cause,
    });
  }
}

/** Whether `signature` over `digest` was made by `nodeId`. Never throws for malformed input. */
export function verifyNodeSignature(nodeId: string, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    return recoverNodeId(digest, signature) === nodeId.toLowerCase();
  } catch {
    return false;
  }
}

// DER SubjectPublicKeyInfo header (id-ecPublicKey, secp256k1) for a compressed and an uncompressed point.
const SPKI_HEADER: Record<number, Buffer> = {
  33: Buffer.from('3036301006072a8648ce3d020106052b8104000a032200', 'hex'),
  65: Buffer.from('3056301006072a8648ce3d020106052b8104000a034200', 'hex'),
};
const KEY_CACHE_LIMIT = 4096;
const verifyingKeys = new Map<string, { nodeId: string; key: KeyObject } | null>();

/**
 * Node id and OpenSSL key of a secp256k1 public key (33 or 65 bytes), or undefined if it is no point of the
 * curve. Cached, because every offer of a provider carries the same key and importing one costs ~70 µs.
 */
function verifyingKey(publicKey: Uint8Array): { nodeId: string; key: KeyObject } | undefined {
  const id = Buffer.from(publicKey).toString('hex');
  const cached = verifyingKeys.get(id);
  if (cached !== undefined) return cached ?? undefined;
  let entry: { nodeId: string; key: KeyObject } | null = null;
  const header = SPKI_HEADER[publicKey.length];
  if (header !== undefined) {
    try {
      const key = createPublicKey({ key: Buffer.concat([header, publicKey]), format: 'der', type: 'spki' });
      const { x, y } = key.export({ format: 'jwk' });
      const uncompressed = Buffer.concat([
        Buffer.from([4]),
        Buffer.from(x!, 'base64url'),
        Buffer.from(y!, 'base64url'),
      ]);
      entry = { nodeId: nodeIdFromPublicKey(uncompressed), key };
    } catch {
      entry = null;
    }
  }
  if (verifyingKeys.size >= KEY_CACHE_LIMIT) verifyingKeys.delete(verifyingKeys.keys().next().value!);
  verifyingKeys.set(id, entry);
  return entry ?? undefined;
}

/**
 * Whether `signature` (r‖s, or r‖s‖v with v ignored) over sha256(`message`) was made with `publicKey`, and that
 * key is `nodeId`'s. The fast check for data that travels with its signer's key (offers): OpenSSL verifies in
 * ~0.4 ms where recovering the key in JavaScript takes ~2 ms. Never throws for malformed input.
 */
export function verifyByPublicKey(
  nodeId: string,
  publicKey: Uint8Array,
  message: Uint8Array | string,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64 && signature.length !== 65) return false;
  const key = verifyingKey(publicKey);
  if (key === undefined || key.nodeId !== nodeId.toLowerCase()) return false;
  try {
    return verify(
      'sha256',
      typeof message === 'string' ? Buffer.from(message) : message,
      {
        key: key.key,
        dsaEncoding: 'ieee-p1363',
      },
      signature.subarray(0, 64),
    );
  } catch {
    return false;
  }
}

/**
 * Canonical JSON (keys sorted, no white space) of a JSON value: what gets hashed and signed, so both parties
 * and any verifier hash the same bytes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new GolemError(CryptoErrorCode.NotCanonical, 'non-finite number');
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** keccak256 of the canonical JSON of `value`. */
export function digestOf(value: unknown): Uint8Array {
  return keccak256(canonicalJson(value));
}
