/**
 * The checks of an offer or tombstone from the network that need no store: form and size of every field, an
 * expiry within bounds, properties and constraints that parse, the id's hash, and the provider's signature. Nodes
 * (discovery) and relays (which forward gossip without keeping it) judge offers with the same code.
 */
import { flattenProperties, parseConstraints } from '../../language/index.ts';
import { canonicalJson, fromHex, verifyByPublicKey } from '../crypto/index.ts';
import {
  OFFERS_TOPIC,
  type SignedOffer,
  type SignedUnsubscribe,
  UNSUBSCRIBES_TOPIC,
} from '../model/market.ts';
import { SUBSCRIPTION_ID, verifySubscriptionId } from './ids.ts';

/** Deepest nesting of a property value, and most properties, an offer may have. */
const MAX_PROPERTY_DEPTH = 8;
const MAX_PROPERTIES = 1024;
/** How far in the future an offer's creation time may lie (clock skew between nodes). */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
export const NODE_ID = /^0x[0-9a-f]{40}$/;
/** A compressed (33 bytes) or uncompressed (65 bytes) secp256k1 key, in hex. */
export const PUBLIC_KEY_HEX = /^(0x)?([0-9a-fA-F]{66}|[0-9a-fA-F]{130})$/;
/** r‖s or r‖s‖v, in hex. */
export const SIGNATURE_HEX = /^(0x)?([0-9a-fA-F]{128}|[0-9a-fA-F]{130})$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

export type OfferContent = Pick<
  SignedOffer,
  'providerId' | 'properties' | 'constraints' | 'createdAt' | 'expiresAt'
>;

export interface OfferLimits {
  /** Largest offer accepted (bytes of its JSON). */
  maxOfferBytes: number;
  /** Latest expiry accepted, from now. */
  maxOfferTtlMs: number;
}

export function offerContent(offer: OfferContent): OfferContent {
  return {
    providerId: offer.providerId,
    properties: offer.properties,
    constraints: offer.constraints,
    createdAt: offer.createdAt,
    expiresAt: offer.expiresAt,
  };
}

/** What an offer's signature covers: the offer id, itself a hash of the whole content. */
export const offerSigningMessage = (offerId: string) => canonicalJson({ offer: offerId });
export const unsubscribeSigningMessage = (offerId: string) => canonicalJson({ unsubscribe: offerId });

/**
 * Every check of an offer but its signature, cheapest first; only the known fields are kept. The signature, the
 * costly part, is `offerSignatureValid` (run here, or in a worker thread).
 */
export function checkOfferForm(
  input: unknown,
  limits: OfferLimits,
  now = Date.now(),
): SignedOffer | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  const offer = input as SignedOffer;
  if (
    typeof offer.offerId !== 'string' ||
    !SUBSCRIPTION_ID.test(offer.offerId) ||
    typeof offer.providerId !== 'string' ||
    !NODE_ID.test(offer.providerId) ||
    typeof offer.constraints !== 'string' ||
    typeof offer.createdAt !== 'string' ||
    !isIsoDate(offer.createdAt) ||
    typeof offer.expiresAt !== 'string' ||
    !isIsoDate(offer.expiresAt) ||
    typeof offer.signature !== 'string' ||
    !SIGNATURE_HEX.test(offer.signature) ||
    typeof offer.publicKey !== 'string' ||
    !PUBLIC_KEY_HEX.test(offer.publicKey) ||
    offer.properties === null ||
    typeof offer.properties !== 'object' ||
    Array.isArray(offer.properties)
  ) {
    return undefined;
  }
  if (
    !(offer.expiresAt > new Date(now).toISOString()) ||
    offer.expiresAt > new Date(now + limits.maxOfferTtlMs).toISOString() ||
    offer.createdAt > new Date(now + MAX_CLOCK_SKEW_MS).toISOString()
  )
    return undefined;
  const clean: SignedOffer = {
    offerId: offer.offerId,
    ...offerContent(offer),
    publicKey: offer.publicKey,
    signature: offer.signature,
  };
  // The offer as it came, not only its known fields: gossip forwards what arrived, junk fields and all.
  if (JSON.stringify(input).length > limits.maxOfferBytes) return undefined;
  if (!propertiesWithinBounds(clean.properties)) return undefined;
  try {
    flattenProperties(clean.properties);
    parseConstraints(clean.constraints);
  } catch {
    return undefined;
  }
  if (!verifySubscriptionId(clean.offerId, offerContent(clean))) return undefined;
  return clean;
}

/** True if the offer is signed by its provider (its key hashes to the provider id and signs the offer id). */
export function offerSignatureValid(
  offer: Pick<SignedOffer, 'offerId' | 'providerId' | 'publicKey' | 'signature'>,
): boolean {
  return verifyByPublicKey(
    offer.providerId,
    safeHex(offer.publicKey),
    offerSigningMessage(offer.offerId),
    safeHex(offer.signature),
  );
}

/** The whole check of an offer from the network: its form, then its signature. */
export function checkOffer(input: unknown, limits: OfferLimits): SignedOffer | undefined {
  const offer = checkOfferForm(input, limits);
  return offer !== undefined && offerSignatureValid(offer) ? offer : undefined;
}

/**
 * A relay's verdict on a message of the offers topic, which it forwards but does not keep: one offer, or a batch,
 * must pass every check (a batch passes if any offer in it does, as on a node), else it is rejected and goes no
 * further.
 */
export function offerGossipVerdict(message: unknown, limits: OfferLimits): 'accept' | 'reject' {
  const offers = Array.isArray(message) ? message : [message];
  return offers.some((offer) => checkOffer(offer, limits) !== undefined) ? 'accept' : 'reject';
}

/**
 * Largest tombstone accepted, as it came (bytes of its JSON): one is about 400 bytes, and gossip forwards what
 * arrived, so a tombstone padded with junk fields is refused rather than cleaned and passed on.
 */
export const MAX_TOMBSTONE_BYTES = 1024;

/**
 * Every check of a tombstone but its signature: the form of each field, its size, and an expiry still ahead.
 * Only the known fields are kept, the expiry cut to `maxOfferTtlMs` from now (no longer than an offer lives).
 * `expired` when it is well formed but over (worth ignoring, not a strike).
 */
export function checkTombstoneForm(
  input: unknown,
  limits: Pick<OfferLimits, 'maxOfferTtlMs'>,
  now = Date.now(),
): SignedUnsubscribe | 'expired' | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  const tombstone = input as SignedUnsubscribe;
  if (
    typeof tombstone.offerId !== 'string' ||
    !SUBSCRIPTION_ID.test(tombstone.offerId) ||
    typeof tombstone.providerId !== 'string' ||
    !NODE_ID.test(tombstone.providerId) ||
    typeof tombstone.signature !== 'string' ||
    !SIGNATURE_HEX.test(tombstone.signature) ||
    typeof tombstone.publicKey !== 'string' ||
    !PUBLIC_KEY_HEX.test(tombstone.publicKey) ||
    typeof tombstone.expiresAt !== 'string' ||
    !isIsoDate(tombstone.expiresAt) ||
    JSON.stringify(input).length > MAX_TOMBSTONE_BYTES
  )
    return undefined;
  if (tombstone.expiresAt <= new Date(now).toISOString()) return 'expired';
  const latest = new Date(now + limits.maxOfferTtlMs).toISOString();
  return {
    offerId: tombstone.offerId,
    providerId: tombstone.providerId,
    // biome-ignore lint/complexity/useMathMinMax: ISO timestamps, compared as strings (Math.min would give NaN)
    expiresAt: tombstone.expiresAt < latest ? tombstone.expiresAt : latest,
    publicKey: tombstone.publicKey,
    signature: tombstone.signature,
  };
}

/** True if the tombstone is signed by the provider of the offer it withdraws. */
export function tombstoneSignatureValid(
  tombstone: Pick<SignedUnsubscribe, 'offerId' | 'providerId' | 'publicKey' | 'signature'>,
): boolean {
  return verifyByPublicKey(
    tombstone.providerId,
    safeHex(tombstone.publicKey),
    unsubscribeSigningMessage(tombstone.offerId),
    safeHex(tombstone.signature),
  );
}

/**
 * A relay's verdict on a message of the unsubscribes topic, which it forwards but does not keep: malformed,
 * oversized or not signed by the offer's provider is rejected (a strike against the sender, and not forwarded);
 * expired is ignored (not forwarded).
 */
export function tombstoneGossipVerdict(
  message: unknown,
  limits: Pick<OfferLimits, 'maxOfferTtlMs'>,
): 'accept' | 'ignore' | 'reject' {
  const tombstone = checkTombstoneForm(message, limits);
  if (tombstone === 'expired') return 'ignore';
  return tombstone !== undefined && tombstoneSignatureValid(tombstone) ? 'accept' : 'reject';
}

/**
 * The checks a relay runs on the market's gossip topics before it forwards a message (`net relay` installs them):
 * the same as a node's, minus what needs a store (duplicates, quotas).
 */
export function marketRelayChecks(
  limits: OfferLimits,
): Record<string, (message: unknown) => 'accept' | 'ignore' | 'reject'> {
  return {
    [OFFERS_TOPIC]: (message) => offerGossipVerdict(message, limits),
    [UNSUBSCRIBES_TOPIC]: (message) => tombstoneGossipVerdict(message, limits),
  };
}

export function isIsoDate(text: string): boolean {
  return ISO_DATE.test(text) && !Number.isNaN(Date.parse(text));
}

/** At most MAX_PROPERTIES properties, none nested deeper than MAX_PROPERTY_DEPTH. */
function propertiesWithinBounds(properties: Record<string, unknown>): boolean {
  let count = 0;
  const walk = (value: unknown, depth: number): boolean => {
    if (value === null || typeof value !== 'object') return true;
    if (depth > MAX_PROPERTY_DEPTH) return false;
    const children = Array.isArray(value) ? value : Object.values(value);
    count += children.length;
    if (count > MAX_PROPERTIES * 8) return false;
    return children.every((child) => walk(child, depth + 1));
  };
  return Object.keys(properties).length <= MAX_PROPERTIES && walk(properties, 0);
}

export function safeHex(hex: string): Uint8Array {
  try {
    return fromHex(hex);
  } catch {
    return new Uint8Array(0);
  }
}
