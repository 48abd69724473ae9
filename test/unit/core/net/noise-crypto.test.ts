import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { noiseCrypto } from '../../../../src/core/net/noise-crypto.ts';

const key = randomBytes(32);
const nonce = Buffer.from('000000000700000000000000', 'hex');
const ad = randomBytes(32);
const bytes = (data: Uint8Array | { subarray(): Uint8Array }) =>
  Buffer.from(data instanceof Uint8Array ? data : data.subarray());

describe('Noise ChaCha20-Poly1305 with prepared keys', () => {
  for (const size of [0, 100, 1199, 1200, 65_519]) {
    it(`seals ${size} bytes exactly as libp2p-noise does, and each opens the other's`, () => {
      const message = randomBytes(size);
      const ours = bytes(noiseCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, key));
      const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, key));
      assert.deepEqual(ours, theirs);
      assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(theirs, nonce, ad, key)), message);
      assert.deepEqual(bytes(defaultCrypto.chaCha20Poly1305Decrypt(ours, nonce, ad, key)), message);
    });
  }

  it('takes byte lists as well as arrays', () => {
    const message = randomBytes(5000);
    const list = new Uint8ArrayList(message.subarray(0, 1234), message.subarray(1234));
    const sealed = bytes(noiseCrypto.chaCha20Poly1305Encrypt(list, nonce, ad, key));
    const sealedList = new Uint8ArrayList(sealed.subarray(0, 4000), sealed.subarray(4000));
    assert.deepEqual(bytes(noiseCrypto.chaCha20Poly1305Decrypt(sealedList, nonce, ad, key)), message);
  });

  it('refuses a message changed on the way, or opened with another key or nonce', () => {
    const sealed = bytes(noiseCrypto.chaCha20Poly1305Encrypt(randomBytes(4096), nonce, ad, key));
    const flipped = Buffer.from(sealed);
    flipped[100]! ^= 1;
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(flipped, nonce, ad, key));
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, randomBytes(32)));
    assert.throws(() => noiseCrypto.chaCha20Poly1305Decrypt(sealed, Buffer.alloc(12), ad, key));
  });

  it('prepares each key array separately (each connection has its own)', () => {
    const first = Buffer.from(randomBytes(32));
    const second = Buffer.from(randomBytes(32));
    const message = randomBytes(2000);
    const a = bytes(noiseCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, first));
    const b = bytes(noiseCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, second));
    assert.notDeepEqual(a, b);
    assert.deepEqual(bytes(defaultCrypto.chaCha20Poly1305Decrypt(b, nonce, ad, second)), message);
  });
});
