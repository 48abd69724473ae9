import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { encryptKeystoreJson, Wallet } from 'ethers';
import { nodeIdFromSecret, toHex } from '../../../../src/core/crypto/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { decryptKeystore, encryptKeystore } from '../../../../src/core/identity/index.ts';

describe('V3 keystore', () => {
  it('round-trips a key with pbkdf2 (as yagna writes) and with scrypt', () => {
    const secret = new Uint8Array(randomBytes(32));
    for (const kdf of [{ kdf: 'pbkdf2' as const }, { kdf: 'scrypt' as const, n: 1024 }]) {
      const file = encryptKeystore(secret, 'pw', kdf);
      assert.equal(file.crypto.kdf, kdf.kdf);
      assert.equal(`0x${file.address}`, nodeIdFromSecret(secret));
      assert.deepEqual(decryptKeystore(JSON.stringify(file), 'pw'), secret);
    }
  });

  it('reads a key file written by ethers (scrypt) and ethers reads ours', async () => {
    const wallet = Wallet.createRandom();
    const fromEthers = await encryptKeystoreJson(
      { address: wallet.address, privateKey: wallet.privateKey },
      'secret pw',
      { scrypt: { N: 1024 } },
    );
    const secret = decryptKeystore(fromEthers, 'secret pw');
    assert.equal(toHex(secret), wallet.privateKey);
    assert.equal(nodeIdFromSecret(secret), wallet.address.toLowerCase());

    const ours = encryptKeystore(secret, 'other pw');
    const back = await Wallet.fromEncryptedJson(JSON.stringify(ours), 'other pw');
    assert.equal(back.address, wallet.address);
  });

  it('refuses a wrong password and malformed files with codes', () => {
    const file = encryptKeystore(new Uint8Array(randomBytes(32)), 'right');
    assert.throws(
      () => decryptKeystore(file, 'wrong'),
      (e) => isGolemError(e, 'IDENTITY_WRONG_PASSWORD'),
    );
    assert.throws(
      () => decryptKeystore('{not json', ''),
      (e) => isGolemError(e, 'IDENTITY_BAD_KEYSTORE'),
    );
    assert.throws(
      () => decryptKeystore({ version: 1 }, ''),
      (e) => isGolemError(e, 'IDENTITY_BAD_KEYSTORE'),
    );
    const otherCipher = { ...file, crypto: { ...file.crypto, cipher: 'aes-256-gcm' } };
    assert.throws(
      () => decryptKeystore(otherCipher, 'right'),
      (e) => isGolemError(e, 'IDENTITY_UNSUPPORTED_KEYSTORE'),
    );
    // Parameters that would take gigabytes of memory or hours are refused before scrypt runs.
    const heavy = [
      { n: 2 ** 30, r: 8, p: 1, dklen: 32 },
      { n: 2 ** 14, r: 1_000_000, p: 1, dklen: 32 },
      { n: 2 ** 20, r: 9, p: 1, dklen: 32 },
      { n: 2 ** 14, r: 8, p: 1_000_000, dklen: 32 },
      { n: 2 ** 14, r: 8.5, p: 1, dklen: 32 },
      { n: 2 ** 14, r: 8, p: 1, dklen: 2 ** 30 },
    ];
    for (const params of heavy) {
      const file2 = {
        ...file,
        crypto: { ...file.crypto, kdf: 'scrypt', kdfparams: { ...params, salt: 'aa' } },
      };
      // Refused as bad parameters (scrypt itself would fail otherwise, or take hours): no timing asserted.
      assert.throws(
        () => decryptKeystore(file2, 'right'),
        (e) => isGolemError(e, 'IDENTITY_BAD_KEYSTORE'),
        JSON.stringify(params),
      );
    }
    // pbkdf2 past 10 million iterations (seconds of a blocked daemon each) is refused as well.
    const slow = {
      ...file,
      crypto: {
        ...file.crypto,
        kdf: 'pbkdf2',
        kdfparams: { c: 10_000_001, dklen: 32, prf: 'hmac-sha256', salt: 'aa' },
      },
    };
    assert.throws(
      () => decryptKeystore(slow, 'right'),
      (e) => isGolemError(e, 'IDENTITY_BAD_KEYSTORE'),
    );
  });
});
