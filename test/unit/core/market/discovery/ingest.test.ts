/**
 * Offers taken in by batch, their signatures checked in worker threads: the forged ones are refused, the rest kept
 * in the order they came (a provider at its quota keeps its first offers, not whichever check finished first).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LocalBus } from '../../../../../src/core/bus/index.ts';
import { toHex } from '../../../../../src/core/crypto/index.ts';
import { migrate, openDatabase } from '../../../../../src/core/db/index.ts';
import { silentLogger } from '../../../../../src/core/log/index.ts';
import { marketMigrations, OfferDiscovery } from '../../../../../src/core/market/index.ts';
import { SignaturePool } from '../../../../../src/core/market/signature-pool.ts';
import { signedOffer } from './fixtures.ts';

/** Offer number `i` of a provider: offers differ by name, so each has its own id. */
const numberedOffer = (secret: Uint8Array, i: number) =>
  signedOffer(secret, { properties: { 'golem.node.id.name': `p-${i}` } });

function discovery(perProviderLimit: number) {
  const db = openDatabase(':memory:');
  migrate(db, marketMigrations);
  return new OfferDiscovery(
    { bus: new LocalBus(), db, logger: silentLogger },
    { antiEntropyMs: 0, perProviderLimit, verifyThreads: 2 },
  );
}

describe('offer ingest through the signature pool', () => {
  it('the pool answers one flag per offer, in order', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const offers = Array.from({ length: 300 }, (_, i) => numberedOffer(secret, i));
    for (const i of [0, 129, 299]) offers[i] = { ...offers[i]!, signature: toHex(randomBytes(64)) };
    const pool = new SignaturePool({ threads: 2, maxInFlight: 1 });
    try {
      const valid = await pool.verify(offers);
      assert.equal(valid.length, 300);
      assert.deepEqual(
        valid.flatMap((flag, i) => (flag ? [] : [i])),
        [0, 129, 299],
      );
    } finally {
      await pool.close();
    }
  });

  it('refuses forged offers and keeps a provider’s first offers when its quota fills', async () => {
    const node = discovery(100);
    try {
      const secret = new Uint8Array(randomBytes(32));
      const offers = Array.from({ length: 200 }, (_, i) => numberedOffer(secret, i));
      const forged = {
        ...numberedOffer(new Uint8Array(randomBytes(32)), 999),
        signature: toHex(randomBytes(64)),
      };
      offers.splice(10, 0, forged);
      const stored = await node.ingest(offers);
      assert.equal(stored, 100);
      assert.equal(node.get(forged.offerId), undefined, 'the forged offer is refused');
      const kept = new Set(node.list().map((offer) => offer.offerId));
      const expected = offers.filter((offer) => offer !== forged).slice(0, 100);
      assert.deepEqual(
        expected.filter((offer) => !kept.has(offer.offerId)).map((o) => o.properties['golem.node.id.name']),
        [],
        'the first 100 in order are the ones kept',
      );
      assert.equal(await node.ingest(offers), 0, 'a second copy stores nothing');
    } finally {
      node.stop();
    }
  });
});
