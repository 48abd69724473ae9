/**
 * Noise's ChaCha20-Poly1305 with the key prepared once per cipher state instead of once per message.
 *
 * libp2p-noise seals every transport message (up to 64 KiB) with a fresh `createCipheriv` on the raw key bytes, and
 * Node turns those bytes into a key object each time: a third of the sealing time for bulk data. The key of a
 * cipher state is one Uint8Array for the life of the connection (Noise as libp2p uses it never rekeys), so its
 * key object is cached on that array. Same algorithm, same bytes on the wire: only the cost changes.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';

/** Below this size libp2p-noise's WebAssembly cipher is faster than a Node cipher object (its own measurement). */
const NODE_CIPHER_MIN_BYTES = 1200;
const TAG_BYTES = 16;

const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function keyObjectOf(key: Uint8Array): KeyObject {
  let prepared = keyObjects.get(key);
  if (prepared === undefined) {
    prepared = createSecretKey(key);
    keyObjects.set(key, prepared);
  }
  return prepared;
}

type Bytes = Parameters<ICryptoInterface['chaCha20Poly1305Encrypt']>[0];

/** The chunks of a byte array or a byte list. */
function chunksOf(data: Bytes): Iterable<Uint8Array> {
  return data instanceof Uint8Array ? [data] : data;
}

export const noiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, key) {
    if (plaintext.byteLength < NODE_CIPHER_MIN_BYTES)
      return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, key);
    const cipher = createCipheriv('chacha20-poly1305', keyObjectOf(key), nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const parts: Uint8Array[] = [];
    for (const chunk of chunksOf(plaintext)) parts.push(cipher.update(chunk));
    parts.push(cipher.final(), cipher.getAuthTag());
    return Buffer.concat(parts);
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, key, dst) {
    if (ciphertext.byteLength < NODE_CIPHER_MIN_BYTES)
      return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, key, dst);
    const textLength = ciphertext.byteLength - TAG_BYTES;
    const decipher = createDecipheriv('chacha20-poly1305', keyObjectOf(key), nonce, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(ad, { plaintextLength: textLength });
    decipher.setAuthTag(ciphertext.subarray(textLength));
    const text =
      ciphertext instanceof Uint8Array
        ? ciphertext.subarray(0, textLength)
        : ciphertext.sublist(0, textLength);
    const parts: Uint8Array[] = [];
    for (const chunk of chunksOf(text)) parts.push(decipher.update(chunk));
    // final() throws when the tag does not match: the connection is then reset by the encrypted stream.
    parts.push(decipher.final());
    return parts.length === 2 && parts[1]!.byteLength === 0 ? parts[0]! : Buffer.concat(parts);
  },
};
