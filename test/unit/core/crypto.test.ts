import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { privateKeyToAccount } from 'viem/accounts';
import {
  canonicalJson,
  digestOf,
  fromHex,
  nodeIdFromSecret,
  publicKeyFromSecret,
  recoverNodeId,
  sha256,
  signDigest,
  toHex,
  verifyByPublicKey,
  verifyNodeSignature,
} from '../../../src/core/crypto/index.ts';

const secretHex = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';

describe('crypto', () => {
  it('derives the same node id as viem does for the Ethereum address', () => {
    const account = privateKeyToAccount(secretHex);
    assert.equal(nodeIdFromSecret(fromHex(secretHex)), account.address.toLowerCase());
  });

  it('signs recoverably in the layout viem verifies', async () => {
    const account = privateKeyToAccount(secretHex);
    const digest = digestOf({ b: 1, a: [1, 'x'] });
    const signature = signDigest(fromHex(secretHex), digest);
    assert.equal(recoverNodeId(digest, signature), account.address.toLowerCase());
    const viemSignature = await account.sign({ hash: toHex(digest) as `0x${string}` });
    assert.equal(toHex(signature), viemSignature);
  });

  it('rejects a signature over other content or from another key', () => {
    const secret = fromHex(secretHex);
    const id = nodeIdFromSecret(secret);
    const signature = signDigest(secret, digestOf('a'));
    assert.equal(verifyNodeSignature(id, digestOf('a'), signature), true);
    assert.equal(verifyNodeSignature(id, digestOf('b'), signature), false);
    assert.equal(verifyNodeSignature(id, digestOf('a'), new Uint8Array(65)), false);
  });

  it('verifies by a carried public key, compressed or not, only for the node id that key makes', () => {
    const secret = fromHex(secretHex);
    const nodeId = nodeIdFromSecret(secret);
    const message = canonicalJson({ offer: 'abc' });
    const signature = signDigest(secret, sha256(message));
    const compressed = publicKeyFromSecret(secret);
    const uncompressed = secp256k1.getPublicKey(secret, false);
    assert.equal(verifyByPublicKey(nodeId, compressed, message, signature), true, 'r‖s‖v, compressed key');
    assert.equal(
      verifyByPublicKey(nodeId, uncompressed, message, signature.subarray(0, 64)),
      true,
      'r‖s, full key',
    );
    assert.equal(
      verifyByPublicKey(nodeId.toUpperCase().replace('0X', '0x'), compressed, message, signature),
      true,
    );
    assert.equal(verifyByPublicKey(nodeId, compressed, `${message} `, signature), false, 'other message');
    const other = publicKeyFromSecret(fromHex(`0x${'11'.repeat(32)}`));
    assert.equal(verifyByPublicKey(nodeId, other, message, signature), false, 'key of another node');
    assert.equal(
      verifyByPublicKey(nodeIdFromSecret(fromHex(`0x${'11'.repeat(32)}`)), other, message, signature),
      false,
      'a signature the key did not make',
    );
    const offCurve = new Uint8Array(compressed);
    offCurve[0] = 0x05;
    assert.equal(verifyByPublicKey(nodeId, offCurve, message, signature), false, 'not a point encoding');
    assert.equal(verifyByPublicKey(nodeId, new Uint8Array(0), message, signature), false, 'empty key');
    assert.equal(
      verifyByPublicKey(nodeId, compressed, message, signature.subarray(0, 40)),
      false,
      'short signature',
    );
    const flipped = new Uint8Array(signature);
    flipped[10] = flipped[10]! ^ 1;
    assert.equal(verifyByPublicKey(nodeId, compressed, message, flipped), false, 'tampered signature');
  });

  it('writes canonical JSON with sorted keys', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } }),
      '{"a":{"c":"x","d":[true,null]},"b":1}',
    );
  });
});
