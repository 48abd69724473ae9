/**
 * Negotiation: proposals and counter-proposals between a requestor's demand and a provider's offer, both roles.
 * One handler takes a counter from the other side whichever side this node is on; the agreement made from a
 * proposal is handed to the agreement protocol.
 */

import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import { GolemError, httpError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  type AgreementContent,
  NegotiationAddress,
  type ProposalReceived,
  type ProposalRejected,
  type SignedOffer,
} from '../model/market.ts';
import { type AgreementProtocol, reasonOf } from './agreement-protocol.ts';
import type { DemandStore } from './demands.ts';
import { checkSize, MarketErrorCode, MarketLimit } from './errors.ts';
import type { SubscriptionEvents } from './events.ts';
import { randomId } from './ids.ts';
import type { Match } from './live-matching.ts';
import { type Checked, compileChecked, matchSides } from './matching.ts';
import { callPeer } from './peer.ts';
import type { Proposal, ProposalStore } from './proposals.ts';
import { bareProposalId, prefixOf, type Role } from './views.ts';

/** Proposals one peer may open on one offer of this provider (each is stored until the offer goes). */
export const MAX_PROPOSALS_PER_PEER_AND_OFFER = 256;

const HEX_ID = /^[0-9a-f]{64}$/;

/** A proposal as a REST client names it: under its subscription, on its side. */
export interface ProposalRef {
  owner: string;
  subscriptionId: string;
  /** Prefixed (`R-…`/`P-…`) or bare. */
  proposalId: string;
  role: Role;
}

export interface NegotiationComponents {
  bus: Bus;
  db: Database;
  logger: Logger;
  proposals: ProposalStore;
  demands: DemandStore;
  events: SubscriptionEvents;
  agreements: AgreementProtocol;
  /** An alive offer discovery holds. */
  offer: (offerId: string) => SignedOffer | undefined;
  /** Throws 404 unless `subscriptionId` is an alive demand (requestor) or offer (provider) of `owner`. */
  checkSubscription: (owner: string, subscriptionId: string, role: Role) => void;
  now: () => string;
  clock: () => number;
}

export class Negotiation {
  #c: NegotiationComponents;
  #unbinds: Unbind[] = [];

  constructor(components: NegotiationComponents) {
    this.#c = components;
  }

  start(): void {
    const bind = <M>(address: string, handler: (message: M, context: CallContext) => unknown) =>
      this.#unbinds.push(
        this.#c.bus.bind(address, (message: unknown, context) => handler(message as M, context)),
      );
    bind<ProposalReceived>(NegotiationAddress.ProposalReceived, (m, c) =>
      this.#onProposalReceived(m, c.caller),
    );
    bind<ProposalRejected>(NegotiationAddress.ProposalRejected, (m, c) =>
      this.#onProposalRejected(m, c.caller),
    );
  }

  stop(): void {
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }

  /** Queues matches on their demands (one event per demand, one transaction); proposals are written as collected. */
  recordMatches(matches: Match[]): void {
    const byDemand = new Map<string, string[]>();
    for (const { demandId, offer } of matches) {
      const offerIds = byDemand.get(demandId) ?? [];
      if (offerIds.length === 0) byDemand.set(demandId, offerIds);
      offerIds.push(offer.offerId);
    }
    const at = this.#c.now();
    this.#c.db.transaction(() => {
      for (const [demandId, offerIds] of byDemand)
        this.#c.events.queue(demandId, { kind: 'matched', offerIds, at });
    });
  }

  /** The requestor's Initial proposal of a matched offer, written as the match is collected. */
  initialProposal(demandId: string, offer: SignedOffer, at: string): Proposal {
    const proposal: Proposal = {
      id: randomId(),
      role: 'requestor',
      demandId,
      offerId: offer.offerId,
      issuer: 'provider',
      issuerId: offer.providerId,
      peerId: offer.providerId,
      properties: offer.properties,
      constraints: offer.constraints,
      prevId: null,
      state: 'Initial',
      countered: false,
      createdAt: at,
    };
    this.#c.proposals.insert(proposal);
    return proposal;
  }

  /** An offer went (unsubscribed, expired, evicted): the proposals made on it go with it. */
  offerRemoved(offerId: string): void {
    const deleted = this.#c.proposals.deleteForOffer(offerId);
    if (deleted > 0) this.#c.logger.debug('proposals of a removed offer deleted', { offerId, deleted });
  }

  get({ owner, subscriptionId, proposalId, role }: ProposalRef): Proposal {
    this.#c.checkSubscription(owner, subscriptionId, role);
    const id = bareProposalId(proposalId, role);
    const proposal = id === undefined ? undefined : this.#c.proposals.get(id, role);
    if (
      proposal === undefined ||
      (role === 'requestor' ? proposal.demandId : proposal.offerId) !== subscriptionId
    )
      throw httpError.notFound(MarketErrorCode.ProposalNotFound, `proposal ${proposalId} not found`);
    return proposal;
  }

  /** Counters a proposal from the other side; returns the new proposal's prefixed id. */
  async counter(ref: ProposalRef, body: unknown): Promise<string> {
    const { owner, role } = ref;
    const previous = this.get(ref);
    if (previous.issuer === role)
      throw httpError.badRequest(
        MarketErrorCode.OwnProposal,
        'a proposal cannot be countered by its own issuer',
      );
    if (previous.state === 'Rejected')
      throw httpError.badRequest(MarketErrorCode.ProposalRejected, 'this proposal was rejected');
    if (previous.countered || previous.state === 'Accepted')
      throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
    const content = compileChecked(body);
    const [demandSide, offerSide] = role === 'requestor' ? [content, previous] : [previous, content];
    const match = matchSides(demandSide, offerSide);
    if (match.result !== 'yes') {
      throw httpError.badRequest(
        MarketErrorCode.NoMatch,
        `the counter-proposal does not match the proposal it answers (${match.result})`,
        { explanation: match.explanation },
      );
    }
    const counter = this.#draft(previous, randomId(), role, owner, content);
    await callPeer(this.#c.bus, previous.peerId, NegotiationAddress.ProposalReceived, {
      demandId: previous.demandId,
      offerId: previous.offerId,
      proposal: {
        proposalId: counter.id,
        prevProposalId: previous.id,
        properties: counter.properties,
        constraints: counter.constraints,
        timestamp: counter.createdAt,
      },
    } satisfies ProposalReceived);
    this.#c.db.transaction(() => {
      if (!this.#c.proposals.markCountered(previous))
        throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
      this.#c.proposals.insert(counter);
    });
    return prefixOf(role) + counter.id;
  }

  async reject(ref: ProposalRef, body: unknown): Promise<void> {
    const { role } = ref;
    const proposal = this.get(ref);
    if (proposal.issuer === role)
      throw httpError.badRequest(MarketErrorCode.OwnProposal, 'a node cannot reject its own proposal');
    const reason = reasonOf(body);
    if (proposal.state === 'Rejected' || !this.#c.proposals.setState(proposal, proposal.state, 'Rejected'))
      return;
    // The provider never saw the requestor's Initial proposal: rejecting one is local.
    if (proposal.state === 'Initial' && role === 'requestor') return;
    await callPeer(this.#c.bus, proposal.peerId, NegotiationAddress.ProposalRejected, {
      proposalId: proposal.id,
      reason,
    } satisfies ProposalRejected).catch((error: unknown) => {
      this.#c.logger.warn('could not tell the other side about a rejection', {
        proposalId: proposal.id,
        error,
      });
    });
  }

  /** The requestor makes an agreement from the provider's latest proposal; returns its id. */
  createAgreement(owner: string, body: unknown): string {
    const request = (body ?? {}) as { proposalId?: unknown; validTo?: unknown };
    if (typeof request.proposalId !== 'string')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'proposalId is required');
    const validTo = typeof request.validTo === 'string' ? Date.parse(request.validTo) : Number.NaN;
    if (Number.isNaN(validTo))
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'validTo must be an RFC 3339 date');
    if (validTo <= this.#c.clock()) throw httpError.gone(MarketErrorCode.Expired, 'validTo is in the past');
    const id = bareProposalId(request.proposalId, 'requestor');
    const proposal = id === undefined ? undefined : this.#c.proposals.get(id, 'requestor');
    const demand = proposal === undefined ? undefined : this.#c.demands.get(proposal.demandId);
    if (proposal === undefined || demand === undefined || demand.requestorId !== owner)
      throw httpError.badRequest(
        MarketErrorCode.ProposalNotFound,
        `proposal ${request.proposalId} not found`,
      );
    if (proposal.state === 'Initial')
      throw httpError.badRequest(
        MarketErrorCode.InitialProposal,
        'an agreement needs a counter-proposal from the provider, not the initial offer',
      );
    if (proposal.issuer === 'requestor')
      throw httpError.badRequest(
        MarketErrorCode.OwnProposal,
        'an agreement is made from the other side’s proposal',
      );
    if (proposal.state === 'Rejected')
      throw httpError.badRequest(MarketErrorCode.ProposalRejected, 'this proposal was rejected');
    if (proposal.state === 'Accepted')
      throw httpError.conflict(
        MarketErrorCode.ProposalPromoted,
        'an agreement was already made from this proposal',
      );
    const requestorSide =
      proposal.prevId === null ? undefined : this.#c.proposals.get(proposal.prevId, 'requestor');
    const content: AgreementContent = {
      agreementId: randomId(),
      demand: {
        demandId: proposal.demandId,
        requestorId: owner,
        properties: requestorSide?.properties ?? demand.properties,
        constraints: requestorSide?.constraints ?? demand.constraints,
      },
      offer: {
        offerId: proposal.offerId,
        providerId: proposal.peerId,
        properties: proposal.properties,
        constraints: proposal.constraints,
      },
      proposalId: proposal.id,
      validTo: new Date(validTo).toISOString(),
      createdAt: this.#c.now(),
    };
    this.#c.db.transaction(() => {
      if (!this.#c.proposals.setState(proposal, 'Draft', 'Accepted'))
        throw httpError.conflict(
          MarketErrorCode.ProposalPromoted,
          'an agreement was already made from this proposal',
        );
      this.#c.agreements.created(content, owner);
    });
    return content.agreementId;
  }

  /** The provider-side proposals an incoming agreement is checked against. */
  readonly ledger = {
    providerProposal: (id: string) => this.#c.proposals.get(id, 'provider'),
    accepted: (proposal: Proposal, agreement: AgreementContent): boolean => {
      if (!this.#c.proposals.setState(proposal, 'Draft', 'Accepted')) return false;
      this.#c.events.queue(agreement.offer.offerId, {
        kind: 'agreement',
        agreementId: agreement.agreementId,
        at: this.#c.now(),
      });
      return true;
    },
  };

  /** A Draft proposal answering `previous`, held on the same side as it. */
  #draft(previous: Proposal, id: string, issuer: Role, issuerId: string, content: Checked): Proposal {
    return {
      id,
      role: previous.role,
      demandId: previous.demandId,
      offerId: previous.offerId,
      issuer,
      issuerId,
      peerId: previous.peerId,
      properties: content.properties,
      constraints: content.constraints,
      prevId: previous.id,
      state: 'Draft',
      countered: false,
      createdAt: this.#c.now(),
    };
  }

  // ---------------------------------------------------------------- the other side's messages

  /**
   * A counter from the other side. On the provider (the offer is ours, the caller is not), the first counter of
   * a negotiation answers the offer itself, which becomes the Initial proposal of that negotiation.
   */
  #onProposalReceived(message: ProposalReceived, caller: string): void {
    const incoming = message?.proposal;
    if (
      incoming === undefined ||
      incoming === null ||
      typeof message.offerId !== 'string' ||
      typeof message.demandId !== 'string' ||
      typeof incoming.proposalId !== 'string' ||
      typeof incoming.prevProposalId !== 'string' ||
      !HEX_ID.test(incoming.proposalId) ||
      !HEX_ID.test(incoming.prevProposalId)
    ) {
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'malformed proposal');
    }
    checkSize(incoming, MarketLimit.proposalBytes, 'the proposal');
    const offer = this.#c.offer(message.offerId);
    const role: Role =
      offer !== undefined && this.#c.bus.isLocalNode(offer.providerId) && !this.#c.bus.isLocalNode(caller)
        ? 'provider'
        : 'requestor';
    const theirs: Role = role === 'provider' ? 'requestor' : 'provider';
    let previous = this.#c.proposals.get(incoming.prevProposalId, role);
    let initial: Proposal | undefined;
    if (previous === undefined && offer !== undefined && role === 'provider') {
      initial = {
        id: incoming.prevProposalId,
        role,
        demandId: message.demandId,
        offerId: offer.offerId,
        issuer: 'provider',
        issuerId: offer.providerId,
        peerId: caller,
        properties: offer.properties,
        constraints: offer.constraints,
        prevId: null,
        state: 'Initial',
        countered: false,
        createdAt: this.#c.now(),
      };
      previous = initial;
    }
    if (previous === undefined)
      throw httpError.notFound(MarketErrorCode.ProposalNotFound, 'unknown previous proposal');
    if (previous.peerId !== caller)
      throw httpError.forbidden(
        MarketErrorCode.NotCounterparty,
        'only the counterparty of a negotiation may counter in it',
      );
    if (previous.issuer !== role)
      throw httpError.badRequest(MarketErrorCode.OwnProposal, 'a counter answers the other side’s proposal');
    if (previous.countered)
      throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
    if (this.#c.proposals.get(incoming.proposalId, role) !== undefined)
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'a proposal with this id exists');
    if (role === 'requestor' && this.#c.demands.get(previous.demandId)?.active !== true)
      throw httpError.gone(MarketErrorCode.DemandGone, 'the demand was unsubscribed');
    if (
      role === 'provider' &&
      this.#c.proposals.countFromPeer(previous.offerId, caller) >= MAX_PROPOSALS_PER_PEER_AND_OFFER
    )
      throw new GolemError(
        MarketErrorCode.TooManyProposals,
        'too many open proposals from this node on this offer',
        {
          httpStatus: 429,
          details: { offerId: previous.offerId, limit: MAX_PROPOSALS_PER_PEER_AND_OFFER },
        },
      );
    const content = compileChecked(incoming);
    const match = role === 'provider' ? matchSides(content, previous) : matchSides(previous, content);
    if (match.result !== 'yes')
      throw httpError.badRequest(
        MarketErrorCode.NoMatch,
        `the counter-proposal does not match the ${role === 'provider' ? 'offer' : 'demand'}`,
      );
    const counter = this.#draft(previous, incoming.proposalId, theirs, caller, content);
    const known = previous;
    this.#c.db.transaction(() => {
      if (initial !== undefined) this.#c.proposals.insert({ ...initial, countered: true });
      else if (!this.#c.proposals.markCountered(known))
        throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
      this.#c.proposals.insert(counter);
      this.#c.events.queue(role === 'provider' ? counter.offerId : counter.demandId, {
        kind: 'proposal',
        id: counter.id,
        role,
        at: counter.createdAt,
      });
    });
  }

  #onProposalRejected(message: ProposalRejected, caller: string): void {
    if (typeof message?.proposalId !== 'string')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'malformed rejection');
    const reason = reasonOf(message.reason);
    const own = this.#c.proposals
      .withId(message.proposalId)
      .find((proposal) => proposal.issuer === proposal.role && proposal.peerId === caller);
    if (own === undefined)
      throw httpError.notFound(
        MarketErrorCode.ProposalNotFound,
        'no proposal of ours with this id for this caller',
      );
    if (own.state === 'Rejected') return;
    this.#c.db.transaction(() => {
      if (!this.#c.proposals.setState(own, own.state, 'Rejected')) return;
      this.#c.events.queue(own.role === 'requestor' ? own.demandId : own.offerId, {
        kind: 'rejected',
        proposalId: prefixOf(own.role) + own.id,
        reason,
        at: this.#c.now(),
      });
    });
  }
}
