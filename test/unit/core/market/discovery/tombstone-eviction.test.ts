/**
 * Fair eviction of tombstones: when the store is full, a new tombstone takes the place of one of the provider
 * holding the most, so a swarm of identities cannot keep an honest provider's withdrawal out. Real SQLite, small
 * configured limits; each test asserts what the receiving node keeps (rows in its table) and what it answers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, mock } from 'node:test';
import { nodeIdFromSecret } from '../../../../../src/core/crypto/index.ts';
import { type Database, openDatabase } from '../../../../../src/core/db/index.ts';
import type { OfferDiscovery } from '../../../../../src/core/market/index.ts';
import {
  offerContentOf,
  publishingNode,
  randomOfferId,
  receiver,
  signedOffer,
  signedTombstone,
} from './fixtures.ts';

type Receiver = ReturnType<typeof receiver>;

/** Tombstones per provider as the table holds them. */
function held(node: Receiver, secret: Uint8Array): number {
  return (
    node.db.get<{ n: number }>(
      'SELECT COUNT(*) AS n FROM market_offer WHERE unsubscribed = 1 AND provider_id = ?',
      nodeIdFromSecret(secret),
    )?.n ?? 0
  );
}

function tombstonesInTable(db: Database): number {
  return db.get<{ n: number }>('SELECT COUNT(*) AS n FROM market_offer WHERE unsubscribed = 1')?.n ?? 0;
}

/** Sends `count` tombstones of unseen offers signed by `secret`, each expiring `expiresInMs` from now; all accepted. */
function fill(node: Receiver, secret: Uint8Array, count: number, expiresInMs = 3_600_000): void {
  for (let i = 0; i < count; i++) {
    const expiresAt = new Date(Date.now() + expiresInMs + i * 60_000).toISOString();
    assert.equal(
      node.discovery.judgeTombstone(signedTombstone(secret, randomOfferId(), { expiresAt })),
      'accept',
      'filling',
    );
  }
}

/** Runs `work` in a new temporary directory, removed after. */
async function inTempDir(work: (dir: string) => unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tombstones-'));
  try {
    await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A tombstone of an unseen offer from a new identity: what a swarm sends. */
const fromNewIdentity = () => signedTombstone(randomBytes(32), randomOfferId());

describe('tombstones under a swarm of identities', () => {
  for (const swarm of [
    { identities: 10, each: 5, what: 'each identity at its per-provider limit' },
    { identities: 50, each: 1, what: 'one tombstone per identity' },
  ]) {
    it(`keeps an honest provider's withdrawal when a swarm fills the store (${swarm.what})`, () => {
      const node = receiver({ tombstoneLimit: 50, perProviderLimit: 5 });
      const identities = Array.from({ length: swarm.identities }, () => randomBytes(32));
      for (const identity of identities) fill(node, identity, swarm.each);
      assert.equal(node.discovery.storageStats().tombstones, 50);
      // The swarm's own identities get nothing more in: each already holds the most.
      assert.equal(node.discovery.judgeTombstone(signedTombstone(identities[0]!, randomOfferId())), 'ignore');

      const honest = randomBytes(32);
      const offer = signedOffer(honest);
      const withdrawal = signedTombstone(honest, offer.offerId, { expiresAt: offer.expiresAt });
      assert.equal(node.discovery.judgeTombstone(withdrawal), 'accept', 'the honest withdrawal is kept');
      assert.equal(tombstonesInTable(node.db), 50, 'by taking the place of one of the swarm');
      // A late copy of the withdrawn offer (from a peer that missed the withdrawal) does not come back.
      assert.equal(node.discovery.judgeOffer(offer), 'ignore');
      assert.equal(node.discovery.get(offer.offerId), undefined);
      assert.deepEqual(node.discovery.list(), []);
    });
  }

  // Pigeonhole: while fewer providers than `tombstoneLimit` hold tombstones, one of them holds at least two, so a
  // provider holding one never loses it. Here 10 + 1 + 30 providers share 50 places.
  it('keeps the honest withdrawal while new identities keep coming, as long as some provider holds more', () => {
    const node = receiver({ tombstoneLimit: 50, perProviderLimit: 5 });
    for (let i = 0; i < 10; i++) fill(node, randomBytes(32), 5);
    const honest = randomBytes(32);
    const offer = signedOffer(honest);
    assert.equal(
      node.discovery.judgeTombstone(signedTombstone(honest, offer.offerId, { expiresAt: offer.expiresAt })),
      'accept',
    );
    for (let i = 0; i < 30; i++) assert.equal(node.discovery.judgeTombstone(fromNewIdentity()), 'accept');
    assert.equal(held(node, honest), 1);
    assert.equal(tombstonesInTable(node.db), 50);
    assert.equal(node.discovery.judgeOffer(offer), 'ignore');
    assert.equal(node.discovery.get(offer.offerId), undefined);
  });

  it('takes from the provider holding the most, its soonest-expiring tombstone, and never after a forgery', () => {
    const node = receiver({ tombstoneLimit: 20, perProviderLimit: 10 });
    const [a, b, c, d] = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
    const soonest = signedTombstone(a, randomOfferId(), {
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    assert.equal(node.discovery.judgeTombstone(soonest), 'accept');
    fill(node, a, 7);
    fill(node, b, 5);
    fill(node, c, 3);
    fill(node, d, 4);
    assert.equal(tombstonesInTable(node.db), 20);

    // A forged tombstone of a provider that would get a place is refused, and evicts nothing.
    const forged = {
      ...signedTombstone(randomBytes(32), randomOfferId()),
      signature: `0x${'11'.repeat(65)}`,
    };
    assert.equal(node.discovery.judgeTombstone(forged), 'reject');
    assert.equal(held(node, a), 8);

    const e = randomBytes(32);
    assert.equal(node.discovery.judgeTombstone(signedTombstone(e, randomOfferId())), 'accept');
    assert.equal(held(node, a), 7, 'the heaviest provider lost one');
    assert.equal(node.discovery.storageStats().tombstones, 20);
    const kept = node.db.get('SELECT 1 FROM market_offer WHERE offer_id = ?', soonest.offerId);
    assert.equal(kept, undefined, 'its soonest-expiring one');

    // The heaviest provider itself gets nothing more in; a lighter one does, at the heaviest's cost.
    assert.equal(node.discovery.judgeTombstone(signedTombstone(a, randomOfferId())), 'ignore');
    assert.equal(node.discovery.judgeTombstone(signedTombstone(b, randomOfferId())), 'accept');
    assert.deepEqual([held(node, a), held(node, b)], [6, 6]);
    // Now a and b hold the most, tied: neither takes from the other.
    assert.equal(node.discovery.judgeTombstone(signedTombstone(b, randomOfferId())), 'ignore');
    assert.equal(node.discovery.judgeTombstone(signedTombstone(a, randomOfferId())), 'ignore');
    assert.equal(node.discovery.judgeTombstone(signedTombstone(c, randomOfferId())), 'accept');
    assert.equal(held(node, a) + held(node, b), 11, 'one of the two heaviest lost one');
    assert.deepEqual([held(node, c), held(node, d), held(node, e)], [4, 4, 1]);
    assert.equal(tombstonesInTable(node.db), 20);
  });

  it('keeps the counts per provider across a restart on the same database', async () => {
    await inTempDir((dir) => {
      const options = { tombstoneLimit: 12, perProviderLimit: 10 };
      const path = join(dir, 'market.db');
      const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
      const before = receiver(options, openDatabase(path));
      fill(before, a, 6);
      fill(before, b, 4);
      fill(before, c, 2);
      before.discovery.stop();
      before.db.close();

      const after = receiver(options, openDatabase(path));
      assert.equal(after.discovery.storageStats().tombstones, 12);
      assert.equal(
        after.discovery.judgeTombstone(signedTombstone(a, randomOfferId())),
        'ignore',
        'a holds the most',
      );
      assert.equal(after.discovery.judgeTombstone(signedTombstone(b, randomOfferId())), 'accept');
      assert.deepEqual([held(after, a), held(after, b), held(after, c)], [5, 5, 2]);
      assert.equal(tombstonesInTable(after.db), 12);
      after.discovery.stop();
      after.db.close();
    });
  });

  it('keeps the counts per provider across expiry', () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const node = receiver({ tombstoneLimit: 10, perProviderLimit: 10 });
      const [a, b, c] = [randomBytes(32), randomBytes(32), randomBytes(32)];
      fill(node, a, 5, 60_000);
      fill(node, b, 4, 3_600_000);
      fill(node, c, 1, 3_600_000);
      mock.timers.tick(10 * 60_000);
      node.discovery.sweepExpired();
      assert.equal(held(node, a), 0);
      assert.equal(node.discovery.storageStats().tombstones, 5);
      // Five places are free again: no eviction for them.
      for (let i = 0; i < 5; i++) assert.equal(node.discovery.judgeTombstone(fromNewIdentity()), 'accept');
      assert.equal(held(node, b), 4);
      // Full again: the next one takes from b, now the heaviest (a's expired ones count no more).
      assert.equal(node.discovery.judgeTombstone(fromNewIdentity()), 'accept');
      assert.deepEqual([held(node, b), held(node, c)], [3, 1]);
      assert.equal(tombstonesInTable(node.db), 10);
      assert.equal(node.discovery.storageStats().tombstones, 10);
    } finally {
      mock.timers.reset();
    }
  });

  it("keeps the counts when an offer arrives in place of a stranger's tombstone", () => {
    const node = receiver({ tombstoneLimit: 6, perProviderLimit: 6 });
    const [stranger, other, provider] = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const offer = signedOffer(provider);
    // A tombstone of another provider's offer, validly signed by the stranger: it must not block the offer.
    assert.equal(node.discovery.judgeTombstone(signedTombstone(stranger, offer.offerId)), 'accept');
    fill(node, stranger, 3);
    fill(node, other, 2);
    assert.equal(node.discovery.judgeOffer(offer), 'accept');
    assert.equal(held(node, stranger), 3);
    assert.equal(node.discovery.storageStats().tombstones, 5);
    assert.equal(node.discovery.judgeTombstone(fromNewIdentity()), 'accept');
    assert.equal(held(node, stranger), 3, 'a free place takes nothing');
    assert.equal(node.discovery.judgeTombstone(fromNewIdentity()), 'accept');
    assert.deepEqual([held(node, stranger), held(node, other)], [2, 2]);
    assert.equal(tombstonesInTable(node.db), 6);
  });

  it('always applies the withdrawal of an offer held here, within the bounds', () => {
    const node = receiver({ tombstoneLimit: 4, perProviderLimit: 2 });
    const [provider, other] = [randomBytes(32), randomBytes(32)];
    const offer = signedOffer(provider);
    assert.equal(node.discovery.judgeOffer(offer), 'accept');
    fill(node, provider, 2);
    fill(node, other, 2);
    // The provider is at its limit and among the heaviest of a full store: its withdrawal still applies, in place
    // of its own soonest-expiring tombstone.
    assert.equal(
      node.discovery.judgeTombstone(signedTombstone(provider, offer.offerId, { expiresAt: offer.expiresAt })),
      'accept',
    );
    assert.equal(node.discovery.get(offer.offerId), undefined);
    assert.deepEqual([held(node, provider), held(node, other)], [2, 2]);
    assert.equal(node.discovery.storageStats().tombstones, 4);
    assert.equal(node.discovery.judgeOffer(offer), 'ignore', 'a late copy does not come back');
  });

  it("never evicts this node's own withdrawals, before and after a restart", async () => {
    await inTempDir(async (dir) => {
      const path = join(dir, 'market.db');
      const options = { tombstoneLimit: 3 };
      const node = await publishingNode(options, undefined, openDatabase(path));
      const own = await node.discovery.publish(offerContentOf(node.nodeId, 60_000));
      await node.discovery.unsubscribe(own.offerId);
      const flood = (discovery: OfferDiscovery) => {
        for (let i = 0; i < 20; i++) assert.equal(discovery.judgeTombstone(fromNewIdentity()), 'accept');
      };
      flood(node.discovery);
      const ownWithdrawal = (db: Database) =>
        db.get<{ unsubscribed: number }>(
          'SELECT unsubscribed FROM market_offer WHERE offer_id = ?',
          own.offerId,
        )?.unsubscribed;
      assert.equal(ownWithdrawal(node.db), 1, 'the own withdrawal, soonest to expire, is kept');
      assert.equal(tombstonesInTable(node.db), 3);
      node.discovery.stop();
      node.db.close();

      // After a restart the node knows its own withdrawal from the table (it holds no offer of its own any more).
      const after = receiver(options, openDatabase(path));
      flood(after.discovery);
      assert.equal(ownWithdrawal(after.db), 1);
      assert.equal(tombstonesInTable(after.db), 3);
      after.discovery.stop();
      after.db.close();
    });
  });
});
