/**
 * A receiving node's discovery, and offers and tombstones signed by any key, as any node on the network (hostile or
 * not) can make them: for tests of what a receiving node keeps.
 */
import { randomBytes } from 'node:crypto';
import { LocalBus, type MemoryNetwork } from '../../../../../src/core/bus/index.ts';
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
import { subscriptionId } from '../../../../../src/core/market/ids.ts';
import {
  type DiscoveryOptions,
  marketMigrations,
  OfferDiscovery,
  offerSigningMessage,
  unsubscribeSigningMessage,
} from '../../../../../src/core/market/index.ts';
import type { SignedOffer } from '../../../../../src/core/model/market.ts';

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

/** An offer signed by `secret` over whatever content it is given (as a hostile provider can). */
export function signedOffer(
  secret: Uint8Array,
  overrides: Partial<Pick<SignedOffer, 'properties' | 'constraints' | 'createdAt' | 'expiresAt'>> = {},
): SignedOffer {
  const body = {
    providerId: nodeIdFromSecret(secret),
    properties: { 'golem.node.id.name': 'p' } as Record<string, unknown>,
    constraints: '()',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    ...overrides,
  };
  const offerId = subscriptionId(body);
  return {
    offerId,
    ...body,
    publicKey: toHex(publicKeyFromSecret(secret)),
    signature: toHex(signDigest(secret, sha256(offerSigningMessage(offerId)))),
  };
}

/** A tombstone of `offerId` signed by `secret`, expiring in an hour; `extra` overrides or adds fields. */
export function signedTombstone(secret: Uint8Array, offerId: string, extra: Record<string, unknown> = {}) {
  return {
    offerId,
    providerId: nodeIdFromSecret(secret),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    publicKey: toHex(publicKeyFromSecret(secret)),
    signature: toHex(signDigest(secret, sha256(unsubscribeSigningMessage(offerId)))),
    ...extra,
  };
}

export const randomOfferId = () => `${randomBytes(16).toString('hex')}-${randomBytes(32).toString('hex')}`;
