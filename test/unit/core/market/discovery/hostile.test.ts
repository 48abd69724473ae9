/**
 * Offers and tombstones as a hostile node would send them: validly signed, but built to break a receiver's scan,
 * fill its store, or live forever. Each test asserts what the receiving node keeps and serves.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { nodeIdFromSecret } from '../../../../../src/core/crypto/index.ts';
import { DiscoveryAddress, OFFERS_TOPIC } from '../../../../../src/core/model/market.ts';
import { randomOfferId, receiver, signedOffer, signedTombstone as tombstone } from './fixtures.ts';

describe('offer discovery against hostile offers', () => {
  it('refuses validly signed offers that do not pass the full check, and keeps serving good ones', () => {
    const node = receiver();
    const secret = randomBytes(32);
    let deep: unknown = 1;
    for (let i = 0; i < 20; i++) deep = [deep];
    const bad = {
      'constraints that do not parse': signedOffer(secret, { constraints: '((golem.inf.mem.gib>' }),
      'an expiry in the year 9999': signedOffer(secret, { expiresAt: '9999-12-31T23:59:59.999Z' }),
      'an expiry that is not a date': signedOffer(secret, { expiresAt: '2999-99-99Tnonsense' }),
      'a creation time far ahead': signedOffer(secret, {
        createdAt: new Date(Date.now() + 3_600_000).toISOString(),
      }),
      'properties nested 20 deep': signedOffer(secret, { properties: { 'golem.x': deep } }),
      'properties by the thousand': signedOffer(secret, {
        properties: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`golem.p${i}`, i])),
      }),
    };
    for (const [what, offer] of Object.entries(bad)) {
      assert.equal(node.discovery.judgeOffer(offer), 'reject', what);
      assert.equal(node.discovery.get(offer.offerId), undefined, what);
    }
    assert.equal(
      node.discovery.judgeOffer({ ...signedOffer(secret), offerId: 'x'.repeat(1_000_000) }),
      'reject',
    );
    const good = signedOffer(secret);
    assert.equal(node.discovery.judgeOffer(good), 'accept');
    assert.equal(node.discovery.judgeOffer(good), 'ignore', 'a duplicate is ignored, not rejected');
    assert.deepEqual(
      node.discovery.list().map((offer) => offer.offerId),
      [good.offerId],
    );
  });

  it('keeps offers within the byte bounds per provider and in all, evicting the heaviest provider first', () => {
    const node = receiver({ perProviderBytesLimit: 10_000, totalBytesLimit: 25_000 });
    const fat = { 'golem.pad': 'x'.repeat(2_800) };
    const heavy = randomBytes(32);
    const offers = Array.from({ length: 6 }, () => signedOffer(heavy, { properties: fat }));
    const stored = offers.filter((offer) => node.discovery.receive(offer)).length;
    assert.equal(stored, 3, 'three offers of ~3.3 kB fit in 10 kB per provider');
    // Two more providers fill the store: the heaviest (the first) loses its soonest-expiring offers.
    for (const secret of [randomBytes(32), randomBytes(32)])
      for (let i = 0; i < 3; i++) assert.ok(node.discovery.receive(signedOffer(secret, { properties: fat })));
    const stats = node.discovery.storageStats();
    assert.ok(stats.offerBytes <= 25_000, `${stats.offerBytes} bytes held`);
    const perProvider = node.db.all<{ provider_id: string; n: number }>(
      'SELECT provider_id, COUNT(*) AS n FROM market_offer WHERE unsubscribed = 0 GROUP BY provider_id',
    );
    assert.ok(perProvider.every((row) => row.n <= 3));
    assert.ok(
      (perProvider.find((row) => row.provider_id === nodeIdFromSecret(heavy))?.n ?? 0) < 3,
      'the heaviest provider was evicted from',
    );
  });

  it('stores tombstones without unknown fields and refuses malformed or oversized ones', () => {
    const node = receiver();
    const secret = randomBytes(32);
    const offerId = randomOfferId();
    // Gossip forwards a tombstone as it came: one padded past MAX_TOMBSTONE_BYTES is refused, not cleaned.
    assert.equal(
      node.discovery.judgeTombstone(tombstone(secret, offerId, { junk: 'x'.repeat(1_000_000) })),
      'reject',
    );
    assert.equal(
      node.discovery.judgeTombstone(tombstone(secret, offerId, { junk: 'x'.repeat(100) })),
      'accept',
    );
    const row = node.db.get<{ tombstone: string }>(
      'SELECT tombstone FROM market_offer WHERE offer_id = ?',
      offerId,
    );
    assert.deepEqual(Object.keys(JSON.parse(row!.tombstone)).sort(), [
      'expiresAt',
      'offerId',
      'providerId',
      'publicKey',
      'signature',
    ]);
    assert.ok(row!.tombstone.length < 1000);
    assert.equal(node.discovery.judgeTombstone(tombstone(secret, 'y'.repeat(1_000_000))), 'reject');
    assert.equal(
      node.discovery.judgeTombstone({
        ...tombstone(secret, randomOfferId()),
        signature: 'z'.repeat(100_000),
      }),
      'reject',
    );
  });

  it('bounds tombstones of unseen offers in all, whatever number of identities sends them', () => {
    const node = receiver({ tombstoneLimit: 20 });
    for (let i = 0; i < 40; i++) node.discovery.receiveTombstone(tombstone(randomBytes(32), randomOfferId()));
    assert.equal(node.discovery.storageStats().tombstones, 20);
  });

  it('serves pages bounded by bytes, even over tombstones stored before the checks', async () => {
    const node = receiver();
    const junk = JSON.stringify({ offerId: 'j', junk: 'x'.repeat(1_000_000) });
    for (let i = 0; i < 10; i++)
      node.db.run(
        `INSERT INTO market_offer (offer_id, provider_id, body, expires_at, received_at, own, unsubscribed, tombstone)
         VALUES (?, '0x00', '{}', '2999-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', 0, 1, ?)`,
        `${i}`,
        junk,
      );
    const page = await node.bus.call<unknown[]>(DiscoveryAddress.Tombstones, { after: '', limit: 1000 });
    assert.ok(page.length >= 1 && page.length <= 4, `${page.length} tombstones of 1 MB in one page`);
  });

  it('writes offers accepted from gossip in batches, one transaction each, within the per-provider quota', async () => {
    const node = receiver({ perProviderLimit: 100 });
    // Outermost transactions are commits (nested ones are savepoints inside them).
    let transactions = 0;
    let depth = 0;
    const synchronousAtCommit: number[] = [];
    const synchronous = () => node.db.get<{ synchronous: number }>('PRAGMA synchronous')!.synchronous;
    const transaction = node.db.transaction.bind(node.db);
    node.db.transaction = ((work: () => unknown) => {
      if (depth === 0) {
        transactions++;
        synchronousAtCommit.push(synchronous());
      }
      depth++;
      try {
        return transaction(work);
      } finally {
        depth--;
      }
    }) as typeof node.db.transaction;
    const secret = randomBytes(32);
    const from = nodeIdFromSecret(secret);
    const verdicts: string[] = [];
    for (let i = 0; i < 150; i++)
      verdicts.push(await node.bus.validateBroadcast(OFFERS_TOPIC, signedOffer(secret), from));
    assert.equal(verdicts.filter((v) => v === 'accept').length, 100, 'the quota counts offers waiting too');
    assert.equal(verdicts.filter((v) => v === 'ignore').length, 50);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(node.discovery.count(), 100);
    assert.ok(transactions <= 2, `${transactions} transactions for 100 offers`);
    // Gossip batches commit without waiting for the disk (NORMAL = 1); the database's own setting comes back after.
    assert.deepEqual([...new Set(synchronousAtCommit)], [1]);
    assert.equal(synchronous(), 2, 'synchronous = FULL again after the batch');
  });

  it('skips the signature check of offers from a provider at its quota', () => {
    const node = receiver({ perProviderLimit: 2 });
    const secret = randomBytes(32);
    assert.ok(node.discovery.receive(signedOffer(secret)));
    assert.ok(node.discovery.receive(signedOffer(secret)));
    // Past the quota a forged signature is not even looked at: the offer is ignored, as a valid one would be.
    const forged = { ...signedOffer(secret), signature: `0x${'11'.repeat(65)}` };
    assert.equal(node.discovery.judgeGossip(forged), 'ignore');
    assert.equal(node.discovery.judgeGossip(signedOffer(secret)), 'ignore');
    // Another provider is not affected.
    assert.equal(
      node.discovery.judgeGossip({ ...signedOffer(randomBytes(32)), signature: `0x${'11'.repeat(65)}` }),
      'reject',
    );
  });
});
