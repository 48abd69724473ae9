/**
 * The OpenSSL check of libp2p secp256k1 signatures gives @noble/curves' answer (what libp2p ships) on valid,
 * tampered, malleated (high-s), malformed and foreign signatures.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { installFastSecp256k1Verify, verifySecp256k1 } from '../../../../src/core/net/fast-verify.ts';

const ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

type Verify = (this: unknown, data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>;

/** @noble's own verify, taken before the fast one is installed. */
async function nobleVerify(): Promise<Verify> {
  const key = await generateKeyPair('secp256k1');
  return Object.getPrototypeOf(key.publicKey).verify as Verify;
}

/** The same signature with s replaced by n − s (valid for ECDSA, refused as malleable by @noble). */
function highS(der: Uint8Array): Uint8Array {
  const rLength = der[3]!;
  const r = der.subarray(4, 4 + rLength);
  const sLength = der[5 + rLength]!;
  const s = BigInt(`0x${Buffer.from(der.subarray(6 + rLength, 6 + rLength + sLength)).toString('hex')}`);
  let twin = (ORDER - s).toString(16);
  if (twin.length % 2 === 1) twin = `0${twin}`;
  let twinBytes = Buffer.from(twin, 'hex');
  if (twinBytes[0]! >= 0x80) twinBytes = Buffer.concat([Buffer.from([0]), twinBytes]);
  const body = Buffer.concat([
    Buffer.from([0x02, r.length]),
    r,
    Buffer.from([0x02, twinBytes.length]),
    twinBytes,
  ]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('fast secp256k1 verify', () => {
  it('answers as @noble/curves does, and is what libp2p keys use once installed', async () => {
    const original = await nobleVerify();
    for (let round = 0; round < 40; round++) {
      const pair = await generateKeyPair('secp256k1');
      const data = randomBytes(1 + round * 13);
      const signature = await pair.sign(data);
      const tampered = Uint8Array.from(signature);
      tampered[10] = tampered[10]! ^ 1;
      const cases: [string, Uint8Array, Uint8Array][] = [
        ['valid', data, signature],
        ['other data', randomBytes(data.length), signature],
        ['tampered signature', data, tampered],
        ['high s', data, highS(signature)],
        ['random bytes', data, randomBytes(70)],
        ['empty', data, new Uint8Array(0)],
      ];
      for (const [what, bytes, sig] of cases) {
        let expected: boolean;
        try {
          expected = await original.call(pair.publicKey, bytes, sig);
        } catch {
          expected = false;
        }
        assert.equal(verifySecp256k1(pair.publicKey.raw, bytes, sig), expected, `${what} (round ${round})`);
      }
      assert.equal(verifySecp256k1(pair.publicKey.raw, data, signature), true);
    }
    installFastSecp256k1Verify();
    const pair = await generateKeyPair('secp256k1');
    const data = randomBytes(32);
    const signature = await pair.sign(data);
    const key = publicKeyFromRaw(pair.publicKey.raw);
    assert.notEqual(Object.getPrototypeOf(key).verify, original);
    assert.equal(await key.verify(data, signature), true);
    assert.equal(await key.verify(data, highS(signature)), false);
  });
});
