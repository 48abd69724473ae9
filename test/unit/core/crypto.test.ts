import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { privateKeyToAccount } from 'viem/accounts';
import {
  canonicalJson,
  digestOf,
  fromHex,
  nodeIdFromSecret,
  recoverNodeId,
  signDigest,
  toHex,
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

  it('writes canonical JSON with sorted keys', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } }),
      '{"a":{"c":"x","d":[true,null]},"b":1}',
    );
  });
});
