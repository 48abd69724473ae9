import { GolemError } from '../errors/index.ts';

/** Every error code of the market module; the wire shape (`{code, message, details?}`) is what REST clients see. */
export const MarketErrorCode = {
  BadRequest: 'MARKET_BAD_REQUEST',
  BadConstraints: 'MARKET_BAD_CONSTRAINTS',
  BadReason: 'MARKET_BAD_REASON',
  BadSignature: 'MARKET_BAD_SIGNATURE',
  BadScan: 'MARKET_BAD_SCAN',
  NoMatch: 'MARKET_NO_MATCH',
  Expired: 'MARKET_EXPIRED',
  OfferNotFound: 'MARKET_OFFER_NOT_FOUND',
  /** Raised by discovery (an own offer unsubscribed twice). */
  OfferGone: 'MARKET_OFFER_GONE',
  DemandNotFound: 'MARKET_DEMAND_NOT_FOUND',
  DemandGone: 'MARKET_DEMAND_GONE',
  /** A stored demand that does not read back as one (a damaged row). */
  DemandCorrupt: 'MARKET_DEMAND_CORRUPT',
  ProposalNotFound: 'MARKET_PROPOSAL_NOT_FOUND',
  /** A stored proposal that does not read back as one (a damaged row). */
  ProposalCorrupt: 'MARKET_PROPOSAL_CORRUPT',
  /** A peer holds as many open proposals on one offer as it may. */
  TooManyProposals: 'MARKET_TOO_MANY_PROPOSALS',
  ProposalCountered: 'MARKET_PROPOSAL_COUNTERED',
  ProposalRejected: 'MARKET_PROPOSAL_REJECTED',
  ProposalPromoted: 'MARKET_PROPOSAL_PROMOTED',
  InitialProposal: 'MARKET_INITIAL_PROPOSAL',
  OwnProposal: 'MARKET_OWN_PROPOSAL',
  AgreementNotFound: 'MARKET_AGREEMENT_NOT_FOUND',
  AgreementState: 'MARKET_AGREEMENT_STATE',
  AgreementMismatch: 'MARKET_AGREEMENT_MISMATCH',
  /** A stored agreement whose content does not parse as one (a damaged row): refused, never guessed at. */
  AgreementCorrupt: 'MARKET_AGREEMENT_CORRUPT',
  NotTerminated: 'MARKET_NOT_TERMINATED',
  /** A reason, proposal or agreement larger than the market stores (413). */
  TooLarge: 'MARKET_TOO_LARGE',
  NotCounterparty: 'MARKET_NOT_COUNTERPARTY',
  PeerUnreachable: 'MARKET_PEER_UNREACHABLE',
  WaitTimeout: 'MARKET_WAIT_TIMEOUT',
  ScanNotFound: 'MARKET_SCAN_NOT_FOUND',
  ScanExpired: 'MARKET_SCAN_EXPIRED',
} as const;

export type MarketErrorCode = (typeof MarketErrorCode)[keyof typeof MarketErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    market: MarketErrorCode;
  }
}

/** A wrong transition: yagna answers 409 from Proposal and 410 from any later state. */
export function agreementStateError(current: string, action: string): GolemError {
  return new GolemError(MarketErrorCode.AgreementState, `cannot ${action} an agreement in state ${current}`, {
    httpStatus: current === 'Proposal' ? 409 : 410,
    details: { state: current },
  });
}

export function badSignature(whose: string, httpStatus = 400): GolemError {
  return new GolemError(MarketErrorCode.BadSignature, `${whose} signature does not verify`, { httpStatus });
}

/** Most bytes (of its JSON) the market stores for one thing a peer or a client sends. */
export const MarketLimit = {
  reasonBytes: 4 * 1024,
  proposalBytes: 64 * 1024,
  agreementBytes: 256 * 1024,
} as const;

/** Refuses `value` (413) when its JSON is longer than `limit` bytes. */
export function checkSize(value: unknown, limit: number, what: string): void {
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
  if (bytes > limit)
    throw new GolemError(
      MarketErrorCode.TooLarge,
      `${what} is too large (${bytes} bytes, at most ${limit})`,
      {
        httpStatus: 413,
        details: { bytes, limit },
      },
    );
}
