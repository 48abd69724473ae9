/**
 * Regression tests for weaknesses found in `src/core/market/discovery.ts` (fixed): each asserts what a user must see.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LocalBus, MemoryNetwork } from '../../../../../src/core/bus/index.ts';
import { nodeIdFromSecret } from '../../../../../src/core/crypto/index.ts';
import { offerContentOf, publishingNode, randomOfferId, signedTombstone } from './fixtures.ts';

/** A tombstone signed by a key that does not own the offer (the signature itself is valid), asking to live long. */
const tombstoneBy = (secret: Uint8Array, offerId: string) =>
  signedTombstone(secret, offerId, { expiresAt: '2999-01-01T00:00:00.000Z' });

describe('offer discovery: known gaps', () => {
  it('a tombstone signed by another node does not block an offer the receiver has not seen yet', async () => {
    const provider = await publishingNode();
    const receiver = await publishingNode();
    const offer = await provider.discovery.publish(offerContentOf(provider.nodeId));
    receiver.discovery.receiveTombstone(tombstoneBy(randomBytes(32), offer.offerId));
    receiver.discovery.receive(offer);
    assert.deepEqual(receiver.discovery.get(offer.offerId), offer);
  });

  it('tombstones from one node are bounded like its offers, and live no longer than an offer', async () => {
    const receiver = await publishingNode({ perProviderLimit: 10 });
    const attacker = randomBytes(32);
    for (let i = 0; i < 50; i++) {
      receiver.discovery.receiveTombstone(tombstoneBy(attacker, randomOfferId()));
    }
    const stored = receiver.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM market_offer')?.n ?? 0;
    assert.equal(stored, 10, 'the per-provider limit holds for tombstones');
    const latest = receiver.db.get<{ e: string }>('SELECT MAX(expires_at) AS e FROM market_offer')?.e ?? '';
    assert.ok(
      latest < new Date(Date.now() + 3 * 3_600_000).toISOString(),
      `a tombstone asked to live until 2999 is kept until ${latest}`,
    );
  });

  it('stops reconciling with a peer whose page cursor does not move forward', async () => {
    const network = new MemoryNetwork();
    const honest = await publishingNode({}, network);
    const liar = new LocalBus();
    liar.setNodeIds(nodeIdFromSecret(randomBytes(32)));
    liar.bind('/public/market/discovery/Ids', () => ({ ids: [], next: 'z' }));
    liar.bind('/public/market/discovery/Tombstones', () => []);
    network.join(liar);
    assert.equal(await honest.discovery.reconcileWith(liar.nodeId!), 0);
  });
});
