/**
 * Regression tests for weaknesses found in `src/core/market/discovery.ts` (fixed): each asserts what a user must see.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { LocalBus, MemoryNetwork } from '../../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../../src/core/config/index.ts';
import {
  nodeIdFromSecret,
  publicKeyFromSecret,
  sha256,
  signDigest,
  toHex,
} from '../../../../../src/core/crypto/index.ts';
import { type Database, migrate, openDatabase } from '../../../../../src/core/db/index.ts';
import { IdentityService } from '../../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../../src/core/log/index.ts';
import {
  marketMigrations,
  OfferDiscovery,
  unsubscribeSigningMessage,
} from '../../../../../src/core/market/index.ts';

interface Node {
  bus: LocalBus;
  db: Database;
  discovery: OfferDiscovery;
  nodeId: string;
}

async function node(network?: MemoryNetwork, perProviderLimit = 256): Promise<Node> {
  const bus = new LocalBus();
  const db = openDatabase(':memory:');
  await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
  migrate(db, marketMigrations);
  const discovery = new OfferDiscovery(
    { bus, db, logger: silentLogger },
    { antiEntropyMs: 0, perProviderLimit },
  );
  discovery.start();
  network?.join(bus);
  return { bus, db, discovery, nodeId: bus.nodeId! };
}

const content = (providerId: string) => ({
  providerId,
  properties: { 'golem.node.id.name': 'p' },
  constraints: '()',
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
});

/** A tombstone signed by a key that does not own the offer (the signature itself is valid). */
function tombstoneBy(secret: Uint8Array, offerId: string) {
  return {
    offerId,
    providerId: nodeIdFromSecret(secret),
    expiresAt: '2999-01-01T00:00:00.000Z',
    publicKey: toHex(publicKeyFromSecret(secret)),
    signature: toHex(signDigest(secret, sha256(unsubscribeSigningMessage(offerId)))),
  };
}

describe('offer discovery: known gaps', () => {
  it('a tombstone signed by another node does not block an offer the receiver has not seen yet', async () => {
    const provider = await node();
    const receiver = await node();
    const offer = await provider.discovery.publish(content(provider.nodeId));
    receiver.discovery.receiveTombstone(tombstoneBy(randomBytes(32), offer.offerId));
    receiver.discovery.receive(offer);
    assert.deepEqual(receiver.discovery.get(offer.offerId), offer);
  });

  it('tombstones from one node are bounded like its offers, and live no longer than an offer', async () => {
    const receiver = await node(undefined, 10);
    const attacker = randomBytes(32);
    for (let i = 0; i < 50; i++) {
      const offerId = `${randomBytes(16).toString('hex')}-${randomBytes(32).toString('hex')}`;
      receiver.discovery.receiveTombstone(tombstoneBy(attacker, offerId));
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
    const honest = await node(network);
    const liar = new LocalBus();
    liar.setNodeIds(nodeIdFromSecret(randomBytes(32)));
    liar.bind('/public/market/discovery/Ids', () => ({ ids: [], next: 'z' }));
    liar.bind('/public/market/discovery/Tombstones', () => []);
    network.join(liar);
    assert.equal(await honest.discovery.reconcileWith(liar.nodeId!), 0);
  });
});
