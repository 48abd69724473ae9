/**
 * A receiving node's discovery, a node that publishes, and (from test/support) offers and tombstones signed by any
 * key: for tests of what a receiving node keeps.
 */
import { randomBytes } from 'node:crypto';
import { LocalBus, type MemoryNetwork } from '../../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../../src/core/config/index.ts';
import { nodeIdFromSecret } from '../../../../../src/core/crypto/index.ts';
import { type Database, migrate, openDatabase } from '../../../../../src/core/db/index.ts';
import { IdentityService } from '../../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../../src/core/log/index.ts';
import {
  type DiscoveryOptions,
  marketMigrations,
  OfferDiscovery,
} from '../../../../../src/core/market/index.ts';

/** A started discovery (no anti-entropy) on a bus of its own, over `db` (a new database in memory if none). */
export function receiver(
  options: Partial<DiscoveryOptions> = {},
  db: Database = openDatabase(':memory:'),
): { discovery: OfferDiscovery; db: Database; bus: LocalBus } {
  const bus = new LocalBus();
  bus.setNodeIds(nodeIdFromSecret(randomBytes(32)));
  migrate(db, marketMigrations);
  const discovery = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs: 0, ...options });
  discovery.start();
  return { discovery, db, bus };
}

/**
 * A node with an identity of its own, so its discovery can publish and withdraw offers; on `network` if given, over
 * `db` if given.
 */
export async function publishingNode(
  options: Partial<DiscoveryOptions> = {},
  network?: MemoryNetwork,
  db: Database = openDatabase(':memory:'),
): Promise<{ bus: LocalBus; db: Database; discovery: OfferDiscovery; nodeId: string }> {
  const bus = new LocalBus();
  await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
  migrate(db, marketMigrations);
  const discovery = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs: 0, ...options });
  discovery.start();
  network?.join(bus);
  return { bus, db, discovery, nodeId: bus.nodeId! };
}

/** What a provider publishes: an offer of `providerId` living `expiresInMs`. */
export const offerContentOf = (providerId: string, expiresInMs = 3_600_000) => ({
  providerId,
  properties: { 'golem.node.id.name': 'p' },
  constraints: '()',
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
});

export { randomOfferId, signedOffer, signedTombstone } from '../../../../support/signed-market.ts';
