/**
 * Offers and tombstones signed by any key, as any node on the network (hostile or not) can make them: for tests and
 * benches of what a receiving node keeps.
 */
import { randomBytes } from 'node:crypto';
import {
  nodeIdFromSecret,
  publicKeyFromSecret,
  sha256,
  signDigest,
  toHex,
} from '../../src/core/crypto/index.ts';
import { subscriptionId } from '../../src/core/market/ids.ts';
import { offerSigningMessage, unsubscribeSigningMessage } from '../../src/core/market/index.ts';
import type { SignedOffer } from '../../src/core/model/market.ts';

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
