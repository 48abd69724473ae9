/**
 * Ethereum V3 keystore files (the format geth, ethers, MetaMask and yagna write): the secret is encrypted with
 * aes-128-ctr under a key derived from the password by scrypt or pbkdf2-hmac-sha256; the MAC is
 * keccak256(derivedKey[16..32] ‖ ciphertext), which is also how a wrong password is detected.
 */
import {
  createCipheriv,
  createDecipheriv,
  pbkdf2Sync,
  randomBytes,
  randomUUID,
  scryptSync,
  timingSafeEqual,
} from 'node:crypto';
import { bytesToHex, fromHex, keccak256, nodeIdFromSecret } from '../crypto/index.ts';
import { GolemError } from '../errors/index.ts';
import { IdentityErrorCode } from './errors.ts';

export interface KeystoreV3 {
  version: 3;
  id: string;
  address: string;
  crypto: {
    cipher: 'aes-128-ctr';
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: 'pbkdf2' | 'scrypt';
    kdfparams: Pbkdf2Params | ScryptParams;
    mac: string;
  };
}

interface Pbkdf2Params {
  c: number;
  dklen: number;
  prf: 'hmac-sha256';
  salt: string;
}

interface ScryptParams {
  n: number;
  r: number;
  p: number;
  dklen: number;
  salt: string;
}

export type KdfChoice =
  | { kdf: 'pbkdf2'; iterations?: number }
  | { kdf: 'scrypt'; n?: number; r?: number; p?: number };

/** What yagna writes for new keys. */
export const DEFAULT_KDF: KdfChoice = { kdf: 'pbkdf2', iterations: 10_240 };

const MAX_SCRYPT_N = 1 << 20;
/** scrypt needs 128·N·r bytes: at most what N = 2^20, r = 8 (geth's heaviest setting ×4) takes, 1 GiB. */
const MAX_SCRYPT_MEMORY = 1 << 30;
/** Parallel passes multiply scrypt's time; key files use 1. */
const MAX_SCRYPT_P = 16;
/** The key is 32 bytes; tools write dklen 32. */
const MAX_DKLEN = 64;
const MAX_PBKDF2_ITERATIONS = 10_000_000;

function badKeystore(message: string, details?: Record<string, unknown>): GolemError {
  return new GolemError(IdentityErrorCode.BadKeystore, message, { details, httpStatus: 400 });
}

function deriveKey(password: string, kdf: string, params: Record<string, unknown>): Buffer {
  const salt = Buffer.from(fromHex(String(params.salt ?? '')));
  const dklen = Number(params.dklen ?? 32);
  if (!Number.isInteger(dklen) || dklen < 32 || dklen > MAX_DKLEN)
    throw badKeystore(`derived key length must be 32 to ${MAX_DKLEN} bytes`, { dklen });
  if (kdf === 'pbkdf2') {
    const prf = params.prf ?? 'hmac-sha256';
    if (prf !== 'hmac-sha256') {
      throw new GolemError(IdentityErrorCode.UnsupportedKeystore, `unsupported pbkdf2 prf ${String(prf)}`, {
        httpStatus: 400,
      });
    }
    const c = Number(params.c);
    if (!Number.isInteger(c) || c < 1 || c > MAX_PBKDF2_ITERATIONS)
      throw badKeystore('bad pbkdf2 iteration count', { c });
    return pbkdf2Sync(password, salt, c, dklen, 'sha256');
  }
  if (kdf === 'scrypt') {
    const n = Number(params.n);
    const r = Number(params.r);
    const p = Number(params.p);
    // A key file is input: parameters that would take gigabytes or hours are refused before scrypt runs.
    const fits =
      Number.isInteger(n) &&
      n >= 2 &&
      n <= MAX_SCRYPT_N &&
      (n & (n - 1)) === 0 &&
      Number.isInteger(r) &&
      r >= 1 &&
      128 * n * r <= MAX_SCRYPT_MEMORY &&
      Number.isInteger(p) &&
      p >= 1 &&
      p <= MAX_SCRYPT_P;
    if (!fits) throw badKeystore('bad scrypt parameters', { n, r, p });
    return scryptSync(password, salt, dklen, { N: n, r, p, maxmem: 256 * n * r * p + 1024 * 1024 });
  }
  throw new GolemError(IdentityErrorCode.UnsupportedKeystore, `unsupported key derivation ${kdf}`, {
    httpStatus: 400,
  });
}

function mac(derived: Buffer, ciphertext: Uint8Array): Uint8Array {
  return keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext]));
}

export function encryptKeystore(
  secret: Uint8Array,
  password: string,
  choice: KdfChoice = DEFAULT_KDF,
): KeystoreV3 {
  if (secret.length !== 32) throw new GolemError(IdentityErrorCode.BadKey, 'a secp256k1 secret has 32 bytes');
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const kdfparams: Pbkdf2Params | ScryptParams =
    choice.kdf === 'pbkdf2'
      ? { c: choice.iterations ?? 10_240, dklen: 32, prf: 'hmac-sha256', salt: salt.toString('hex') }
      : { n: choice.n ?? 1 << 17, r: choice.r ?? 8, p: choice.p ?? 1, dklen: 32, salt: salt.toString('hex') };
  const derived = deriveKey(password, choice.kdf, kdfparams as unknown as Record<string, unknown>);
  const cipher = createCipheriv('aes-128-ctr', derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
  return {
    version: 3,
    id: randomUUID(),
    address: nodeIdFromSecret(secret).slice(2),
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv.toString('hex') },
      ciphertext: ciphertext.toString('hex'),
      kdf: choice.kdf,
      kdfparams,
      mac: bytesToHex(mac(derived, ciphertext)),
    },
  };
}

/** Parses keystore JSON text or an object; accepts the `Crypto` spelling some tools write. */
export function parseKeystore(input: unknown): KeystoreV3 {
  let value = input;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (cause) {
      throw new GolemError(IdentityErrorCode.BadKeystore, 'key file is not JSON', { cause, httpStatus: 400 });
    }
  }
  if (value === null || typeof value !== 'object') throw badKeystore('key file is not a JSON object');
  const record = value as Record<string, unknown>;
  if (Number(record.version) !== 3)
    throw badKeystore('only version 3 key files are supported', { version: record.version });
  const crypto = (record.crypto ?? record.Crypto) as Record<string, unknown> | undefined;
  if (crypto === undefined || typeof crypto !== 'object') throw badKeystore('key file has no crypto section');
  if (crypto.cipher !== 'aes-128-ctr') {
    throw new GolemError(
      IdentityErrorCode.UnsupportedKeystore,
      `unsupported cipher ${String(crypto.cipher)}`,
      {
        httpStatus: 400,
      },
    );
  }
  const iv = (crypto.cipherparams as Record<string, unknown> | undefined)?.iv;
  for (const [name, field] of [
    ['iv', iv],
    ['ciphertext', crypto.ciphertext],
    ['mac', crypto.mac],
  ] as const) {
    if (typeof field !== 'string' || !/^(0x)?[0-9a-fA-F]+$/.test(field))
      throw badKeystore(`key file has a bad ${name}`);
  }
  if (typeof crypto.kdfparams !== 'object' || crypto.kdfparams === null)
    throw badKeystore('key file has no kdfparams');
  return {
    version: 3,
    id: typeof record.id === 'string' ? record.id : randomUUID(),
    address: typeof record.address === 'string' ? record.address.replace(/^0x/, '').toLowerCase() : '',
    crypto: {
      cipher: 'aes-128-ctr',
      cipherparams: { iv: iv as string },
      ciphertext: crypto.ciphertext as string,
      kdf: crypto.kdf as 'pbkdf2' | 'scrypt',
      kdfparams: crypto.kdfparams as Pbkdf2Params | ScryptParams,
      mac: crypto.mac as string,
    },
  };
}

/** Decrypts a keystore; a wrong password fails with IDENTITY_WRONG_PASSWORD. */
export function decryptKeystore(input: unknown, password: string): Uint8Array {
  const keystore = parseKeystore(input);
  const { crypto } = keystore;
  const derived = deriveKey(password, crypto.kdf, crypto.kdfparams as unknown as Record<string, unknown>);
  const ciphertext = fromHex(crypto.ciphertext);
  const expected = Buffer.from(mac(derived, ciphertext));
  const seen = Buffer.from(fromHex(crypto.mac));
  if (seen.length !== expected.length || !timingSafeEqual(seen, expected)) {
    throw new GolemError(IdentityErrorCode.WrongPassword, 'wrong password for this key file', {
      httpStatus: 401,
    });
  }
  const decipher = createDecipheriv(
    'aes-128-ctr',
    derived.subarray(0, 16),
    Buffer.from(fromHex(crypto.cipherparams.iv)),
  );
  const secret = new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  if (keystore.address !== '' && nodeIdFromSecret(secret).slice(2) !== keystore.address) {
    throw badKeystore('key file address does not match its key', { address: keystore.address });
  }
  return secret;
}
