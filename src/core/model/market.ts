/**
 * Bus contract of the market: what markets on different nodes say to each other (`/public/market/…`, reached
 * as `/net/<nodeId>/market/…`) and the broadcast topics of offer propagation. Only offers travel; demands never
 * leave the requestor's node. Every offer, unsubscription and agreement step is signed by its author.
 */

export const MARKET_LOCAL = '/local/market';

/** Broadcast topics (gossip). */
export const OFFERS_TOPIC = 'market/offers/v1';
export const UNSUBSCRIBES_TOPIC = 'market/unsubscribes/v1';

export const DiscoveryAddress = {
  /** `{ after?: string, limit }` → `{ ids: string[], next?: string }`: alive offer ids, sorted, paged. */
  Ids: '/public/market/discovery/Ids',
  /** `{ ids: string[] }` → `SignedOffer[]` (unknown ids are skipped). */
  Get: '/public/market/discovery/Get',
  /** `{ after?: string, limit }` → `SignedUnsubscribe[]`. */
  Tombstones: '/public/market/discovery/Tombstones',
} as const;

export const NegotiationAddress = {
  /** Requestor → provider: a counter to an offer (or to an earlier counter). */
  ProposalReceived: '/public/market/negotiation/ProposalReceived',
  ProposalRejected: '/public/market/negotiation/ProposalRejected',
  /** Requestor → provider: confirm an agreement (signed by the requestor). */
  AgreementReceived: '/public/market/negotiation/AgreementReceived',
  /** Provider → requestor: approval (signed); the reply carries the requestor's commit signature. */
  AgreementApproved: '/public/market/negotiation/AgreementApproved',
  AgreementRejected: '/public/market/negotiation/AgreementRejected',
  AgreementCancelled: '/public/market/negotiation/AgreementCancelled',
  AgreementTerminated: '/public/market/negotiation/AgreementTerminated',
} as const;

/** What a provider publishes; `offerId` = `<32 hex nonce>-<64 hex sha3-256 of the canonical content>`. */
export interface SignedOffer {
  offerId: string;
  providerId: string;
  /** Flat properties as JSON values. */
  properties: Record<string, unknown>;
  constraints: string;
  createdAt: string;
  expiresAt: string;
  /** The provider's compressed secp256k1 public key (hex); its node id must be `providerId`. */
  publicKey: string;
  /** r‖s‖v hex by `publicKey` over sha256 of canonicalJson({offer: offerId}). */
  signature: string;
}

export interface SignedUnsubscribe {
  offerId: string;
  providerId: string;
  expiresAt: string;
  /** The provider's compressed secp256k1 public key (hex). */
  publicKey: string;
  /** r‖s‖v hex by `publicKey` over sha256 of canonicalJson({unsubscribe: offerId}). */
  signature: string;
}

export interface ProposalContent {
  /** Bare 64-hex id (the `R-`/`P-` prefix is the REST view). */
  proposalId: string;
  prevProposalId: string;
  properties: Record<string, unknown>;
  constraints: string;
  timestamp: string;
}

export interface ProposalReceived {
  demandId: string;
  offerId: string;
  proposal: ProposalContent;
}

export interface ProposalRejected {
  proposalId: string;
  reason: Record<string, unknown> | null;
}

export interface AgreementContent {
  agreementId: string;
  demand: { demandId: string; requestorId: string; properties: Record<string, unknown>; constraints: string };
  offer: { offerId: string; providerId: string; properties: Record<string, unknown>; constraints: string };
  /** Proposal the agreement was made from (bare id). */
  proposalId: string;
  validTo: string;
  createdAt: string;
}

export interface AgreementReceived {
  agreement: AgreementContent;
  proposedSignature: string;
}

export interface AgreementApproved {
  agreementId: string;
  approvedSignature: string;
  approvedAt: string;
}

export interface AgreementRejected {
  agreementId: string;
  reason: Record<string, unknown> | null;
}

export interface AgreementTerminated {
  agreementId: string;
  reason: Record<string, unknown> | null;
  terminatedAt: string;
  /** Signature of the terminating party over digestOf({terminate: agreementId, reason, terminatedAt}). */
  signature: string;
}
