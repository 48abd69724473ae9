/**
 * Bus contract of the market: what markets on different nodes say to each other (`/public/market/…`, reached
 * as `/net/<nodeId>/market/…`) and the broadcast topics of offer propagation. Only offers travel; demands never
 * leave the requestor's node. Every offer, unsubscription and agreement step is signed by its author.
 */

export const MARKET_LOCAL = '/local/market';

/**
 * Local addresses of the market: what payment, activity and the CLI call on this node. Agreements are reached
 * only through these, never by importing the market.
 */
export const MarketLocalAddress = {
  Offers: `${MARKET_LOCAL}/Offers`,
  Demands: `${MARKET_LOCAL}/Demands`,
  Agreements: `${MARKET_LOCAL}/Agreements`,
  Scan: `${MARKET_LOCAL}/Scan`,
  /** `GetAgreement` → `AgreementView` (error `MARKET_AGREEMENT_NOT_FOUND` when this node holds no such agreement). */
  GetAgreement: `${MARKET_LOCAL}/GetAgreement`,
} as const;

/** Local topic: every agreement state change (`AgreementEvent`), published where the state changes. */
export const AGREEMENT_EVENTS_TOPIC = 'local:market-agreement-events';

export type AgreementState =
  | 'Proposal'
  | 'Pending'
  | 'Approving'
  | 'Approved'
  | 'Rejected'
  | 'Cancelled'
  | 'Expired'
  | 'Terminated';

export interface GetAgreement {
  agreementId: string;
  /** The side asked for, when this node holds both (a node trading with itself is refused, so rarely needed). */
  role?: 'requestor' | 'provider';
}

/** One agreement as other modules see it: the signed terms in flat keys, the parties and the state. */
export interface AgreementView {
  agreementId: string;
  /** This node's side. */
  role: 'requestor' | 'provider';
  state: AgreementState;
  requestorId: string;
  providerId: string;
  demandId: string;
  offerId: string;
  /** Flat properties both sides signed (`golem.com.payment.platform.erc20-dev-tglm.address`, …). */
  demandProperties: Record<string, unknown>;
  demandConstraints: string;
  offerProperties: Record<string, unknown>;
  offerConstraints: string;
  validTo: string;
  createdAt: string;
  approvedAt: string | null;
  /** Set once terminated. */
  terminatedAt: string | null;
  /** `requestor` or `provider`: who terminated (null while not terminated). */
  terminatedBy: 'requestor' | 'provider' | null;
  terminationReason: Record<string, unknown> | null;
  /** The session this node's owner confirmed (requestor) or approved (provider) with; golem-js filters payment
   * events by it, so documents of the agreement must carry it. */
  appSessionId?: string | null;
}

export type AgreementEvent =
  | { type: 'approved'; agreementId: string; role: 'requestor' | 'provider'; at: string }
  | {
      type: 'rejected';
      agreementId: string;
      role: 'requestor' | 'provider';
      at: string;
      reason: Record<string, unknown> | null;
    }
  | {
      type: 'cancelled';
      agreementId: string;
      role: 'requestor' | 'provider';
      at: string;
      reason: Record<string, unknown> | null;
    }
  | { type: 'expired'; agreementId: string; role: 'requestor' | 'provider'; at: string }
  | {
      type: 'terminated';
      agreementId: string;
      role: 'requestor' | 'provider';
      at: string;
      terminatedBy: 'requestor' | 'provider';
      reason: Record<string, unknown> | null;
    };

/** Where a `/public/market/…` address of node `nodeId` is called from another node: `/net/<nodeId>/market/…`. */
export function marketAddressAt(nodeId: string, publicAddress: string): string {
  return `/net/${nodeId}/${publicAddress.slice('/public/'.length)}`;
}

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
