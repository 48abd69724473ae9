/**
 * The market of one node: offers (published through discovery) and demands (never leave the node), matching on
 * the requestor's node, negotiation and agreements with the counterparty's market over the bus, and the events
 * both REST sides poll. Every step is persisted before it is acknowledged.
 */

import { Notifier } from '../api/index.ts';
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import { canonicalJson, digestOf, fromHex, toHex, verifyNodeSignature } from '../crypto/index.ts';
import { type Database, migrate } from '../db/index.ts';
import { GolemError, httpError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { IdentityAddress } from '../model/identity.ts';
import {
  type AgreementApproved,
  type AgreementContent,
  type AgreementReceived,
  type AgreementRejected,
  type AgreementTerminated,
  NegotiationAddress,
  type ProposalReceived,
  type ProposalRejected,
  type SignedOffer,
} from '../model/market.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { type DiscoveryOptions, OfferDiscovery } from './discovery.ts';
import { randomId, SUBSCRIPTION_ID, subscriptionId } from './ids.ts';
import { compileChecked, createMatcher, type Matcher, matchSides } from './matching.ts';
import { marketMigrations } from './migrations.ts';
import { registerMarketRoutes } from './rest.ts';
import { type AgreementRow, bareProposalId, type ProposalRow, proposalView, type Role } from './views.ts';

export const SUBSCRIPTION_TTL_MS = 60 * 60 * 1000;
const PEER_CALL_TIMEOUT_MS = 30_000;

type Reason = Record<string, unknown> | null;

interface DemandRow {
  demand_id: string;
  requestor_id: string;
  properties: string;
  constraints: string;
  created_at: string;
  expires_at: string;
  active: number;
}

type EventBody =
  | { kind: 'proposal'; id: string; role: Role; at: string }
  | { kind: 'rejected'; proposalId: string; reason: Reason; at: string }
  | { kind: 'agreement'; agreementId: string; at: string };

const now = () => new Date().toISOString();

function reasonOf(body: unknown): Reason {
  if (body === undefined || body === null) return null;
  if (typeof body !== 'object' || Array.isArray(body))
    throw httpError.badRequest('MARKET_BAD_REASON', 'a reason is a JSON object like {"message": "..."}');
  return body as Record<string, unknown>;
}

function stateError(current: string, action: string): GolemError {
  // yagna: from Proposal a wrong transition is 409, from any other state 410.
  const status = current === 'Proposal' ? 409 : 410;
  return new GolemError('MARKET_AGREEMENT_STATE', `cannot ${action} an agreement in state ${current}`, {
    httpStatus: status,
    details: { state: current },
  });
}

export interface MarketServiceOptions {
  discovery?: Partial<DiscoveryOptions>;
}

export class MarketService implements Service {
  readonly name = 'market';
  readonly discovery: OfferDiscovery;
  #bus: Bus;
  #db: Database;
  #log: Logger;
  #unbinds: Unbind[] = [];
  #matchers = new Map<string, Matcher>();
  #expiryTimer: NodeJS.Timeout | undefined;
  #expiryAt = Number.POSITIVE_INFINITY;
  readonly notifier = new Notifier();

  constructor(
    components: Pick<CoreComponents, 'bus' | 'db' | 'logger'> & Partial<Pick<CoreComponents, 'rest'>>,
    options: MarketServiceOptions = {},
  ) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('market');
    this.discovery = new OfferDiscovery(components, options.discovery);
    components.rest?.register('/market-api/v1', (app) => registerMarketRoutes(app, this));
  }

  async start(): Promise<void> {
    migrate(this.#db, marketMigrations);
    this.discovery.onOffer((offer) => this.#matchOffer(offer));
    this.discovery.start();
    const bind = <M>(address: string, handler: (message: M, context: CallContext) => unknown) =>
      this.#unbinds.push(
        this.#bus.bind(address, (message: unknown, context) => handler(message as M, context)),
      );
    bind<ProposalReceived>(NegotiationAddress.ProposalReceived, (m, c) =>
      this.#onProposalReceived(m, c.caller),
    );
    bind<ProposalRejected>(NegotiationAddress.ProposalRejected, (m, c) =>
      this.#onProposalRejected(m, c.caller),
    );
    bind<AgreementReceived>(NegotiationAddress.AgreementReceived, (m, c) =>
      this.#onAgreementReceived(m, c.caller),
    );
    bind<AgreementApproved>(NegotiationAddress.AgreementApproved, (m, c) =>
      this.#onAgreementApproved(m, c.caller),
    );
    bind<AgreementRejected>(NegotiationAddress.AgreementRejected, (m, c) =>
      this.#onAgreementRejected(m, c.caller),
    );
    bind<AgreementRejected>(NegotiationAddress.AgreementCancelled, (m, c) =>
      this.#onAgreementCancelled(m, c.caller),
    );
    bind<AgreementTerminated>(NegotiationAddress.AgreementTerminated, (m, c) =>
      this.#onAgreementTerminated(m, c.caller),
    );
    bind('/local/market/Offers', () => this.discovery.list());
    bind('/local/market/Demands', () =>
      this.#db.all<DemandRow>('SELECT * FROM market_demand WHERE active = 1').map(demandView),
    );
    bind('/local/market/Agreements', () =>
      this.#db
        .all<AgreementRow>('SELECT * FROM market_agreement ORDER BY created_at')
        .map((row) => this.agreementView(row)),
    );
    bind<{ constraints?: string; properties?: unknown }>('/local/market/Scan', (m) =>
      this.scan(m?.properties ?? {}, m?.constraints ?? '()'),
    );
    // An approval in flight died with the last process: the provider never got the commit, so both sides are
    // back to Pending, where the provider may approve again (or the agreement expires).
    this.#db.run("UPDATE market_agreement SET state = 'Pending' WHERE state = 'Approving'");
    this.#expireDue();
  }

  async stop(): Promise<void> {
    this.#armExpiry(Number.POSITIVE_INFINITY);
    this.discovery.stop();
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }

  // ---------------------------------------------------------------- offers

  async subscribeOffer(owner: string, body: unknown): Promise<string> {
    const { properties, constraints } = compileChecked(body);
    const createdAt = now();
    const offer = await this.discovery.publish({
      providerId: owner,
      properties,
      constraints,
      createdAt,
      expiresAt: new Date(Date.now() + SUBSCRIPTION_TTL_MS).toISOString(),
    });
    return offer.offerId;
  }

  listOffers(owner: string): Record<string, unknown>[] {
    return this.discovery
      .list()
      .filter((offer) => offer.providerId === owner)
      .map((offer) => ({
        properties: offer.properties,
        constraints: offer.constraints,
        offerId: offer.offerId,
        providerId: offer.providerId,
        timestamp: offer.createdAt,
      }));
  }

  async unsubscribeOffer(owner: string, offerId: string): Promise<void> {
    const offer = this.discovery.get(offerId);
    if (offer === undefined || offer.providerId !== owner)
      throw httpError.notFound('MARKET_OFFER_NOT_FOUND', `offer ${offerId} not found`);
    await this.discovery.unsubscribe(offerId);
    this.notifier.notify(`sub:${offerId}`);
  }

  // ---------------------------------------------------------------- demands

  subscribeDemand(owner: string, body: unknown): string {
    const { properties, constraints } = compileChecked(body);
    const createdAt = now();
    const expiresAt = new Date(Date.now() + SUBSCRIPTION_TTL_MS).toISOString();
    const demandId = subscriptionId({ requestorId: owner, properties, constraints, createdAt, expiresAt });
    this.#db.run(
      'INSERT INTO market_demand (demand_id, requestor_id, properties, constraints, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      demandId,
      owner,
      JSON.stringify(properties),
      constraints,
      createdAt,
      expiresAt,
    );
    // Match against every offer already known; new offers are matched as they arrive.
    const matcher = this.#matcher(demandId);
    for (const offer of this.discovery.list())
      if (matcher !== undefined) this.#tryMatch(demandId, owner, matcher, offer);
    return demandId;
  }

  listDemands(owner: string): Record<string, unknown>[] {
    return this.#db
      .all<DemandRow>(
        'SELECT * FROM market_demand WHERE requestor_id = ? AND active = 1 AND expires_at > ?',
        owner,
        now(),
      )
      .map(demandView);
  }

  unsubscribeDemand(owner: string, demandId: string): void {
    const demand = this.#activeDemand(owner, demandId);
    this.#db.transaction(() => {
      this.#db.run('UPDATE market_demand SET active = 0 WHERE demand_id = ?', demand.demand_id);
      this.#db.run('DELETE FROM market_event WHERE subscription_id = ?', demand.demand_id);
    });
    this.#matchers.delete(demandId);
    this.notifier.notify(`sub:${demandId}`);
  }

  /** Offers that match a demand given as properties + constraints; for a demand that matches nothing, why. */
  scan(properties: unknown, constraints: string) {
    const demand = compileChecked({ properties, constraints });
    const offers = this.discovery.list();
    const results = offers.map((offer) => ({ offer, match: matchSides(demand, offer) }));
    return {
      matching: results.filter((r) => r.match.result === 'yes').map((r) => r.offer),
      closest: results
        .filter((r) => r.match.result !== 'yes')
        .map((r) => ({
          offerId: r.offer.offerId,
          providerId: r.offer.providerId,
          result: r.match.result,
          explanation: r.match.explanation,
        }))
        .slice(0, 5),
      total: offers.length,
    };
  }

  // ---------------------------------------------------------------- events

  /** Destructive read of a subscription's proposal events, waiting up to `timeoutMs` for the first. */
  async collectEvents(
    owner: string,
    subscriptionId: string,
    role: Role,
    timeoutMs: number,
    maxEvents: number,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>[]> {
    const check = () =>
      role === 'requestor'
        ? this.#activeDemand(owner, subscriptionId)
        : this.#ownOffer(owner, subscriptionId);
    check();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = this.#db.transaction(() => {
        const taken = this.#db.all<{ seq: number; body: string }>(
          'SELECT seq, body FROM market_event WHERE subscription_id = ? ORDER BY seq LIMIT ?',
          subscriptionId,
          maxEvents,
        );
        if (taken.length > 0)
          this.#db.run(
            'DELETE FROM market_event WHERE subscription_id = ? AND seq <= ?',
            subscriptionId,
            taken[taken.length - 1]!.seq,
          );
        return taken;
      });
      if (rows.length > 0)
        return rows
          .map((row) => this.#renderEvent(JSON.parse(row.body) as EventBody))
          .filter((e) => e !== undefined);
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return [];
      await this.notifier.wait(`sub:${subscriptionId}`, left, signal);
      check();
    }
  }

  async agreementEvents(
    owner: string,
    options: { afterTimestamp: string; maxEvents: number; appSessionId?: string; timeoutMs: number },
    signal?: AbortSignal,
  ) {
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      const rows = this.#db.all<{ body: string }>(
        `SELECT body FROM market_agreement_event WHERE owner_id = ? AND event_date > ? ${options.appSessionId !== undefined ? 'AND app_session_id = ?' : ''} ORDER BY event_date, seq LIMIT ?`,
        ...(options.appSessionId !== undefined
          ? [owner, options.afterTimestamp, options.appSessionId, options.maxEvents]
          : [owner, options.afterTimestamp, options.maxEvents]),
      );
      if (rows.length > 0) return rows.map((row) => JSON.parse(row.body) as Record<string, unknown>);
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return [];
      await this.notifier.wait(`agreements:${owner}`, left, signal);
    }
  }

  // ---------------------------------------------------------------- proposals

  getProposal(
    owner: string,
    subscriptionId: string,
    proposalId: string,
    role: Role,
  ): Record<string, unknown> {
    return proposalView(this.#proposalOf(owner, subscriptionId, proposalId, role));
  }

  /** Counters a proposal from the other side; returns the new proposal's prefixed id. */
  async counterProposal(
    owner: string,
    subscriptionId: string,
    proposalId: string,
    role: Role,
    body: unknown,
  ): Promise<string> {
    const previous = this.#proposalOf(owner, subscriptionId, proposalId, role);
    if (previous.issuer === role)
      throw httpError.badRequest('MARKET_OWN_PROPOSAL', 'a proposal cannot be countered by its own issuer');
    if (previous.state === 'Rejected')
      throw httpError.badRequest('MARKET_PROPOSAL_REJECTED', 'this proposal was rejected');
    if (previous.countered === 1 || previous.state === 'Accepted')
      throw httpError.gone('MARKET_PROPOSAL_COUNTERED', 'this proposal was already countered');
    const content = compileChecked(body);
    const match = matchSides(content, {
      properties: JSON.parse(previous.properties),
      constraints: previous.constraints,
    });
    if (match.result !== 'yes') {
      throw httpError.badRequest(
        'MARKET_NO_MATCH',
        `the counter-proposal does not match the proposal it answers (${match.result})`,
        { explanation: match.explanation },
      );
    }
    const id = randomId();
    const row: ProposalRow = {
      id,
      role,
      demand_id: previous.demand_id,
      offer_id: previous.offer_id,
      issuer: role,
      issuer_id: owner,
      peer_id: previous.peer_id,
      properties: JSON.stringify(content.properties),
      constraints: content.constraints,
      prev_id: previous.id,
      state: 'Draft',
      countered: 0,
      created_at: now(),
    };
    const message: ProposalReceived = {
      demandId: previous.demand_id,
      offerId: previous.offer_id,
      proposal: {
        proposalId: id,
        prevProposalId: previous.id,
        properties: content.properties,
        constraints: content.constraints,
        timestamp: row.created_at,
      },
    };
    await this.#callPeer(previous.peer_id, NegotiationAddress.ProposalReceived, message);
    this.#db.transaction(() => {
      this.#insertProposal(row);
      this.#db.run('UPDATE market_proposal SET countered = 1 WHERE id = ? AND role = ?', previous.id, role);
    });
    return `${role === 'requestor' ? 'R-' : 'P-'}${id}`;
  }

  async rejectProposal(
    owner: string,
    subscriptionId: string,
    proposalId: string,
    role: Role,
    body: unknown,
  ): Promise<void> {
    const proposal = this.#proposalOf(owner, subscriptionId, proposalId, role);
    if (proposal.issuer === role)
      throw httpError.badRequest('MARKET_OWN_PROPOSAL', 'a node cannot reject its own proposal');
    if (proposal.state === 'Rejected') return;
    const reason = reasonOf(body);
    this.#db.run(
      "UPDATE market_proposal SET state = 'Rejected' WHERE id = ? AND role = ?",
      proposal.id,
      role,
    );
    // The provider never saw the requestor's Initial proposal: rejecting one is local.
    if (proposal.state !== 'Initial' || role === 'provider') {
      await this.#callPeer(proposal.peer_id, NegotiationAddress.ProposalRejected, {
        proposalId: proposal.id,
        reason,
      } satisfies ProposalRejected).catch((error) => {
        this.#log.warn('could not tell the other side about a rejection', { proposalId: proposal.id, error });
      });
    }
  }

  // ---------------------------------------------------------------- agreements (requestor)

  createAgreement(owner: string, body: unknown): string {
    const request = (body ?? {}) as { proposalId?: unknown; validTo?: unknown };
    if (typeof request.proposalId !== 'string')
      throw httpError.badRequest('MARKET_BAD_REQUEST', 'proposalId is required');
    const validTo = typeof request.validTo === 'string' ? Date.parse(request.validTo) : Number.NaN;
    if (Number.isNaN(validTo))
      throw httpError.badRequest('MARKET_BAD_REQUEST', 'validTo must be an RFC 3339 date');
    if (validTo <= Date.now()) throw httpError.gone('MARKET_EXPIRED', 'validTo is in the past');
    const id = bareProposalId(request.proposalId, 'requestor');
    const proposal =
      id === undefined
        ? undefined
        : this.#db.get<ProposalRow>("SELECT * FROM market_proposal WHERE id = ? AND role = 'requestor'", id);
    if (proposal === undefined)
      throw httpError.badRequest('MARKET_PROPOSAL_NOT_FOUND', `proposal ${request.proposalId} not found`);
    const demand = this.#db.get<DemandRow>(
      'SELECT * FROM market_demand WHERE demand_id = ? AND requestor_id = ?',
      proposal.demand_id,
      owner,
    );
    if (demand === undefined)
      throw httpError.badRequest('MARKET_PROPOSAL_NOT_FOUND', `proposal ${request.proposalId} not found`);
    if (proposal.state === 'Initial')
      throw httpError.badRequest(
        'MARKET_INITIAL_PROPOSAL',
        'an agreement needs a counter-proposal from the provider, not the initial offer',
      );
    if (proposal.issuer === 'requestor')
      throw httpError.badRequest(
        'MARKET_OWN_PROPOSAL',
        'an agreement is made from the other side’s proposal',
      );
    if (proposal.state === 'Rejected')
      throw httpError.badRequest('MARKET_PROPOSAL_REJECTED', 'this proposal was rejected');
    if (proposal.state === 'Accepted')
      throw httpError.conflict(
        'MARKET_PROPOSAL_PROMOTED',
        'an agreement was already made from this proposal',
      );
    const requestorSide =
      proposal.prev_id === null
        ? undefined
        : this.#db.get<ProposalRow>(
            "SELECT * FROM market_proposal WHERE id = ? AND role = 'requestor'",
            proposal.prev_id,
          );
    const content: AgreementContent = {
      agreementId: randomId(),
      demand: {
        demandId: proposal.demand_id,
        requestorId: owner,
        properties: JSON.parse(requestorSide?.properties ?? demand.properties),
        constraints: requestorSide?.constraints ?? demand.constraints,
      },
      offer: {
        offerId: proposal.offer_id,
        providerId: proposal.peer_id,
        properties: JSON.parse(proposal.properties),
        constraints: proposal.constraints,
      },
      proposalId: proposal.id,
      validTo: new Date(validTo).toISOString(),
      createdAt: now(),
    };
    this.#db.transaction(() => {
      this.#db.run(
        "UPDATE market_proposal SET state = 'Accepted' WHERE id = ? AND role = 'requestor'",
        proposal.id,
      );
      this.#insertAgreement(content, 'requestor', owner, 'Proposal');
    });
    return content.agreementId;
  }

  async confirmAgreement(
    owner: string,
    agreementId: string,
    appSessionId: string | undefined,
  ): Promise<void> {
    const row = this.#agreement(owner, agreementId, 'requestor');
    if (row.state !== 'Proposal') throw stateError(row.state, 'confirm');
    const content = JSON.parse(row.content) as AgreementContent;
    const proposedSignature = await this.#sign(owner, digestOf(content));
    this.#db.run(
      'UPDATE market_agreement SET proposed_signature = ?, app_session_id = ? WHERE id = ? AND role = ?',
      proposedSignature,
      appSessionId ?? null,
      row.id,
      row.role,
    );
    await this.#callPeer(content.offer.providerId, NegotiationAddress.AgreementReceived, {
      agreement: content,
      proposedSignature,
    } satisfies AgreementReceived);
    this.#setState(row, 'Pending');
  }

  /** Waits for the provider's decision. Resolves when approved; throws 410/408/400 otherwise, as yagna. */
  async waitForApproval(
    owner: string,
    agreementId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = this.#agreement(owner, agreementId, 'requestor');
      switch (row.state) {
        case 'Approved':
          return;
        case 'Rejected':
        case 'Cancelled':
        case 'Expired':
          throw httpError.gone('MARKET_AGREEMENT_STATE', row.state);
        case 'Proposal':
          throw httpError.badRequest('MARKET_AGREEMENT_STATE', 'the agreement is not confirmed');
        case 'Terminated':
          throw httpError.badRequest('MARKET_AGREEMENT_STATE', 'the agreement is terminated');
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted)
        throw httpError.timeout('MARKET_WAIT_TIMEOUT', 'the provider has not approved the agreement yet');
      await this.notifier.wait(`agreement:${agreementId}`, left, signal);
    }
  }

  async cancelAgreement(owner: string, agreementId: string, body: unknown): Promise<void> {
    const row = this.#agreement(owner, agreementId, 'requestor');
    if (row.state !== 'Proposal' && row.state !== 'Pending' && row.state !== 'Approving')
      throw stateError(row.state, 'cancel');
    const reason = reasonOf(body);
    const wasSent = row.state !== 'Proposal';
    this.#setState(row, 'Cancelled', { eventType: 'AgreementCancelledEvent', reason });
    if (wasSent) {
      const content = JSON.parse(row.content) as AgreementContent;
      await this.#callPeer(content.offer.providerId, NegotiationAddress.AgreementCancelled, {
        agreementId,
        reason,
      } satisfies AgreementRejected).catch((error) =>
        this.#log.warn('could not tell the provider about a cancellation', { agreementId, error }),
      );
    }
  }

  // ---------------------------------------------------------------- agreements (provider)

  async approveAgreement(
    owner: string,
    agreementId: string,
    appSessionId: string | undefined,
  ): Promise<void> {
    const row = this.#agreement(owner, agreementId, 'provider');
    if (row.state !== 'Pending') throw stateError(row.state, 'approve');
    const content = JSON.parse(row.content) as AgreementContent;
    const approvedSignature = await this.#sign(owner, digestOf(content));
    const approvedAt = now();
    this.#db.run(
      "UPDATE market_agreement SET state = 'Approving', approved_signature = ?, app_session_id = ? WHERE id = ? AND role = 'provider'",
      approvedSignature,
      appSessionId ?? null,
      row.id,
    );
    let reply: { committedSignature: string };
    try {
      reply = await this.#callPeer(content.demand.requestorId, NegotiationAddress.AgreementApproved, {
        agreementId,
        approvedSignature,
        approvedAt,
      } satisfies AgreementApproved);
    } catch (error) {
      const current = this.#agreement(owner, agreementId, 'provider');
      if (current.state === 'Approving')
        this.#db.run(
          "UPDATE market_agreement SET state = 'Pending' WHERE id = ? AND role = 'provider'",
          row.id,
        );
      if (isGolemError(error) && error.httpStatus === 410)
        throw httpError.gone('MARKET_AGREEMENT_STATE', error.message);
      throw error;
    }
    if (
      !verifyNodeSignature(
        content.demand.requestorId,
        commitDigest(agreementId, approvedSignature),
        safeHex(reply.committedSignature),
      )
    ) {
      this.#db.run(
        "UPDATE market_agreement SET state = 'Pending' WHERE id = ? AND role = 'provider'",
        row.id,
      );
      throw new GolemError('MARKET_BAD_SIGNATURE', 'the requestor’s commit signature does not verify', {
        httpStatus: 500,
      });
    }
    this.#db.run(
      'UPDATE market_agreement SET committed_signature = ?, approved_at = ? WHERE id = ? AND role = ?',
      reply.committedSignature,
      approvedAt,
      row.id,
      'provider',
    );
    this.#setState(this.#agreement(owner, agreementId, 'provider'), 'Approved', {
      eventType: 'AgreementApprovedEvent',
    });
  }

  async rejectAgreement(owner: string, agreementId: string, body: unknown): Promise<void> {
    const row = this.#agreement(owner, agreementId, 'provider');
    if (row.state !== 'Pending') throw stateError(row.state, 'reject');
    const reason = reasonOf(body);
    this.#setState(row, 'Rejected', { eventType: 'AgreementRejectedEvent', reason });
    const content = JSON.parse(row.content) as AgreementContent;
    await this.#callPeer(content.demand.requestorId, NegotiationAddress.AgreementRejected, {
      agreementId,
      reason,
    } satisfies AgreementRejected).catch((error) =>
      this.#log.warn('could not tell the requestor about a rejection', { agreementId, error }),
    );
  }

  // ---------------------------------------------------------------- agreements (both)

  getAgreement(owner: string, agreementId: string): Record<string, unknown> {
    return this.agreementView(this.#anyAgreement(owner, agreementId));
  }

  listAgreements(
    owner: string,
    filter: { state?: string; appSessionId?: string },
  ): Record<string, unknown>[] {
    return this.#db
      .all<AgreementRow>('SELECT * FROM market_agreement WHERE owner_id = ? ORDER BY created_at', owner)
      .map((row) => this.#expireIfDue(row))
      .filter(
        (row) =>
          (filter.state === undefined || row.state === filter.state) &&
          (filter.appSessionId === undefined || row.app_session_id === filter.appSessionId),
      )
      .map((row) => ({
        id: row.id,
        timestamp: row.created_at,
        approvedDate: row.approved_at,
        role: row.role === 'requestor' ? 'Requestor' : 'Provider',
      }));
  }

  async terminateAgreement(owner: string, agreementId: string, body: unknown): Promise<void> {
    const row = this.#anyAgreement(owner, agreementId);
    if (row.state !== 'Approved') throw stateError(row.state, 'terminate');
    const reason = reasonOf(body);
    const content = JSON.parse(row.content) as AgreementContent;
    const terminatedAt = now();
    const signature = await this.#sign(owner, terminationDigest(agreementId, reason, terminatedAt));
    const peer = row.role === 'requestor' ? content.offer.providerId : content.demand.requestorId;
    const terminator = row.role === 'requestor' ? 'Requestor' : 'Provider';
    this.#db.run(
      'UPDATE market_agreement SET termination = ? WHERE id = ? AND role = ?',
      JSON.stringify({ terminator, reason, signature, terminatedAt }),
      row.id,
      row.role,
    );
    this.#setState(row, 'Terminated', {
      eventType: 'AgreementTerminatedEvent',
      terminator,
      signature,
      reason,
    });
    await this.#callPeer(peer, NegotiationAddress.AgreementTerminated, {
      agreementId,
      reason,
      terminatedAt,
      signature,
    } satisfies AgreementTerminated).catch((error) =>
      this.#log.warn('could not tell the other side about a termination', { agreementId, error }),
    );
  }

  terminationReason(owner: string, agreementId: string): Record<string, unknown> {
    const row = this.#anyAgreement(owner, agreementId);
    if (row.state !== 'Terminated' || row.termination === null)
      throw httpError.badRequest('MARKET_NOT_TERMINATED', 'the agreement is not terminated');
    const termination = JSON.parse(row.termination) as {
      terminator: string;
      reason: Reason;
      signature: string;
      terminatedAt: string;
    };
    const event: Record<string, unknown> = {
      eventDate: termination.terminatedAt,
      agreementId,
      terminator: termination.terminator,
      signature: termination.signature,
    };
    if (termination.reason !== null) event.reason = termination.reason;
    return event;
  }

  agreementView(input: AgreementRow): Record<string, unknown> {
    const row = this.#expireIfDue(input);
    const content = JSON.parse(row.content) as AgreementContent;
    const view: Record<string, unknown> = {
      agreementId: row.id,
      demand: {
        properties: content.demand.properties,
        constraints: content.demand.constraints,
        demandId: content.demand.demandId,
        requestorId: content.demand.requestorId,
        timestamp: content.createdAt,
      },
      offer: {
        properties: content.offer.properties,
        constraints: content.offer.constraints,
        offerId: content.offer.offerId,
        providerId: content.offer.providerId,
        timestamp: content.createdAt,
      },
      validTo: content.validTo,
      state: row.state === 'Approving' ? 'Pending' : row.state,
      timestamp: content.createdAt,
    };
    if (row.approved_at !== null) view.approvedDate = row.approved_at;
    if (row.app_session_id !== null) view.appSessionId = row.app_session_id;
    if (row.proposed_signature !== null) view.proposedSignature = row.proposed_signature;
    if (row.approved_signature !== null) view.approvedSignature = row.approved_signature;
    if (row.committed_signature !== null) view.committedSignature = row.committed_signature;
    return view;
  }

  // ---------------------------------------------------------------- handlers of the other side's messages

  #onProposalReceived(message: ProposalReceived, caller: string): void {
    const proposal = message?.proposal;
    if (
      proposal === undefined ||
      typeof message.offerId !== 'string' ||
      typeof message.demandId !== 'string' ||
      typeof proposal.proposalId !== 'string'
    ) {
      throw httpError.badRequest('MARKET_BAD_REQUEST', 'malformed proposal');
    }
    const providerSide = this.discovery.get(message.offerId);
    if (
      providerSide !== undefined &&
      this.#bus.isLocalNode(providerSide.providerId) &&
      !this.#bus.isLocalNode(caller)
    ) {
      this.#receiveAsProvider(message, caller, providerSide);
    } else {
      this.#receiveAsRequestor(message, caller);
    }
  }

  #receiveAsProvider(message: ProposalReceived, caller: string, offer: SignedOffer): void {
    const { proposal } = message;
    let previous = this.#db.get<ProposalRow>(
      "SELECT * FROM market_proposal WHERE id = ? AND role = 'provider'",
      proposal.prevProposalId,
    );
    if (previous === undefined) {
      // First counter on an offer: the provider records its offer as the Initial proposal of this negotiation.
      previous = {
        id: proposal.prevProposalId,
        role: 'provider',
        demand_id: message.demandId,
        offer_id: offer.offerId,
        issuer: 'provider',
        issuer_id: offer.providerId,
        peer_id: caller,
        properties: JSON.stringify(offer.properties),
        constraints: offer.constraints,
        prev_id: null,
        state: 'Initial',
        countered: 0,
        created_at: now(),
      };
      this.#insertProposal(previous);
    }
    if (previous.peer_id !== caller)
      throw httpError.forbidden(
        'MARKET_NOT_COUNTERPARTY',
        'only the counterparty of a negotiation may counter in it',
      );
    if (previous.issuer !== 'provider')
      throw httpError.badRequest('MARKET_OWN_PROPOSAL', 'a counter answers the other side’s proposal');
    if (previous.countered === 1)
      throw httpError.gone('MARKET_PROPOSAL_COUNTERED', 'this proposal was already countered');
    const match = matchSides(compileChecked(proposal), {
      properties: JSON.parse(previous.properties),
      constraints: previous.constraints,
    });
    if (match.result !== 'yes')
      throw httpError.badRequest('MARKET_NO_MATCH', 'the counter-proposal does not match the offer');
    this.#db.transaction(() => {
      this.#insertProposal({
        id: proposal.proposalId,
        role: 'provider',
        demand_id: message.demandId,
        offer_id: offer.offerId,
        issuer: 'requestor',
        issuer_id: caller,
        peer_id: caller,
        properties: JSON.stringify(proposal.properties),
        constraints: proposal.constraints,
        prev_id: previous.id,
        state: 'Draft',
        countered: 0,
        created_at: now(),
      });
      this.#db.run(
        "UPDATE market_proposal SET countered = 1 WHERE id = ? AND role = 'provider'",
        previous.id,
      );
      this.#queueEvent(offer.offerId, {
        kind: 'proposal',
        id: proposal.proposalId,
        role: 'provider',
        at: now(),
      });
    });
  }

  #receiveAsRequestor(message: ProposalReceived, caller: string): void {
    const { proposal } = message;
    const previous = this.#db.get<ProposalRow>(
      "SELECT * FROM market_proposal WHERE id = ? AND role = 'requestor'",
      proposal.prevProposalId,
    );
    if (previous === undefined)
      throw httpError.notFound('MARKET_PROPOSAL_NOT_FOUND', 'unknown previous proposal');
    if (previous.peer_id !== caller)
      throw httpError.forbidden(
        'MARKET_NOT_COUNTERPARTY',
        'only the counterparty of a negotiation may counter in it',
      );
    if (previous.issuer !== 'requestor')
      throw httpError.badRequest('MARKET_OWN_PROPOSAL', 'a counter answers the other side’s proposal');
    if (previous.countered === 1)
      throw httpError.gone('MARKET_PROPOSAL_COUNTERED', 'this proposal was already countered');
    const demand = this.#db.get<DemandRow>(
      'SELECT * FROM market_demand WHERE demand_id = ? AND active = 1',
      previous.demand_id,
    );
    if (demand === undefined) throw httpError.gone('MARKET_DEMAND_GONE', 'the demand was unsubscribed');
    const match = matchSides(
      { properties: JSON.parse(previous.properties), constraints: previous.constraints },
      compileChecked(proposal),
    );
    if (match.result !== 'yes')
      throw httpError.badRequest('MARKET_NO_MATCH', 'the counter-proposal does not match the demand');
    this.#db.transaction(() => {
      this.#insertProposal({
        id: proposal.proposalId,
        role: 'requestor',
        demand_id: previous.demand_id,
        offer_id: previous.offer_id,
        issuer: 'provider',
        issuer_id: caller,
        peer_id: caller,
        properties: JSON.stringify(proposal.properties),
        constraints: proposal.constraints,
        prev_id: previous.id,
        state: 'Draft',
        countered: 0,
        created_at: now(),
      });
      this.#db.run(
        "UPDATE market_proposal SET countered = 1 WHERE id = ? AND role = 'requestor'",
        previous.id,
      );
      this.#queueEvent(previous.demand_id, {
        kind: 'proposal',
        id: proposal.proposalId,
        role: 'requestor',
        at: now(),
      });
    });
  }

  #onProposalRejected(message: ProposalRejected, caller: string): void {
    if (typeof message?.proposalId !== 'string')
      throw httpError.badRequest('MARKET_BAD_REQUEST', 'malformed rejection');
    const rows = this.#db.all<ProposalRow>('SELECT * FROM market_proposal WHERE id = ?', message.proposalId);
    const own = rows.find((row) => row.issuer === row.role && row.peer_id === caller);
    if (own === undefined)
      throw httpError.notFound(
        'MARKET_PROPOSAL_NOT_FOUND',
        'no proposal of ours with this id for this caller',
      );
    const subscription = own.role === 'requestor' ? own.demand_id : own.offer_id;
    this.#db.transaction(() => {
      this.#db.run(
        "UPDATE market_proposal SET state = 'Rejected' WHERE id = ? AND role = ?",
        own.id,
        own.role,
      );
      this.#queueEvent(subscription, {
        kind: 'rejected',
        proposalId: (own.role === 'requestor' ? 'R-' : 'P-') + own.id,
        reason: reasonOf(message.reason),
        at: now(),
      });
    });
  }

  #onAgreementReceived(message: AgreementReceived, caller: string): void {
    const content = message?.agreement;
    if (
      content === undefined ||
      typeof content.agreementId !== 'string' ||
      typeof message.proposedSignature !== 'string'
    ) {
      throw httpError.badRequest('MARKET_BAD_REQUEST', 'malformed agreement');
    }
    if (content.demand?.requestorId !== caller)
      throw httpError.forbidden('MARKET_NOT_COUNTERPARTY', 'an agreement is proposed by its requestor only');
    const proposal = this.#db.get<ProposalRow>(
      "SELECT * FROM market_proposal WHERE id = ? AND role = 'provider'",
      content.proposalId,
    );
    if (
      proposal === undefined ||
      proposal.issuer !== 'provider' ||
      proposal.peer_id !== caller ||
      proposal.offer_id !== content.offer.offerId
    ) {
      throw httpError.badRequest(
        'MARKET_PROPOSAL_NOT_FOUND',
        'the agreement does not come from a proposal of this provider',
      );
    }
    if (
      canonicalJson(JSON.parse(proposal.properties)) !== canonicalJson(content.offer.properties) ||
      proposal.constraints !== content.offer.constraints
    ) {
      throw httpError.badRequest(
        'MARKET_AGREEMENT_MISMATCH',
        'the agreement’s offer differs from the proposal it cites',
      );
    }
    if (!verifyNodeSignature(caller, digestOf(content), safeHex(message.proposedSignature))) {
      throw new GolemError('MARKET_BAD_SIGNATURE', 'the requestor’s signature does not verify', {
        httpStatus: 400,
      });
    }
    if (
      this.#db.get(
        "SELECT 1 FROM market_agreement WHERE id = ? AND role = 'provider'",
        content.agreementId,
      ) !== undefined
    )
      return;
    this.#db.transaction(() => {
      this.#db.run(
        "UPDATE market_proposal SET state = 'Accepted' WHERE id = ? AND role = 'provider'",
        proposal.id,
      );
      this.#insertAgreement(
        content,
        'provider',
        content.offer.providerId,
        'Pending',
        message.proposedSignature,
      );
      this.#queueEvent(content.offer.offerId, {
        kind: 'agreement',
        agreementId: content.agreementId,
        at: now(),
      });
    });
  }

  #onAgreementApproved(
    message: AgreementApproved,
    caller: string,
  ): Promise<{ committedSignature: string }> | { committedSignature: string } {
    const row = this.#peerAgreement(
      message?.agreementId,
      'requestor',
      caller,
      (content) => content.offer.providerId,
    );
    if (row.state !== 'Pending') throw stateError(row.state, 'approve');
    const content = JSON.parse(row.content) as AgreementContent;
    if (!verifyNodeSignature(caller, digestOf(content), safeHex(message.approvedSignature))) {
      throw new GolemError('MARKET_BAD_SIGNATURE', 'the provider’s signature does not verify', {
        httpStatus: 400,
      });
    }
    this.#db.run(
      "UPDATE market_agreement SET state = 'Approving' WHERE id = ? AND role = 'requestor'",
      row.id,
    );
    return this.#sign(row.owner_id, commitDigest(row.id, message.approvedSignature)).then(
      (committedSignature) => {
        this.#db.run(
          'UPDATE market_agreement SET approved_signature = ?, committed_signature = ?, approved_at = ? WHERE id = ? AND role = ?',
          message.approvedSignature,
          committedSignature,
          message.approvedAt,
          row.id,
          'requestor',
        );
        this.#setState(
          this.#db.get<AgreementRow>(
            "SELECT * FROM market_agreement WHERE id = ? AND role = 'requestor'",
            row.id,
          )!,
          'Approved',
          { eventType: 'AgreementApprovedEvent' },
        );
        return { committedSignature };
      },
      (error: unknown) => {
        this.#db.run(
          "UPDATE market_agreement SET state = 'Pending' WHERE id = ? AND role = 'requestor' AND state = 'Approving'",
          row.id,
        );
        throw error;
      },
    );
  }

  #onAgreementRejected(message: AgreementRejected, caller: string): void {
    const row = this.#peerAgreement(
      message?.agreementId,
      'requestor',
      caller,
      (content) => content.offer.providerId,
    );
    if (row.state !== 'Pending') throw stateError(row.state, 'reject');
    this.#setState(row, 'Rejected', {
      eventType: 'AgreementRejectedEvent',
      reason: reasonOf(message.reason),
    });
  }

  #onAgreementCancelled(message: AgreementRejected, caller: string): void {
    const row = this.#peerAgreement(
      message?.agreementId,
      'provider',
      caller,
      (content) => content.demand.requestorId,
    );
    if (row.state !== 'Pending' && row.state !== 'Approving') throw stateError(row.state, 'cancel');
    this.#setState(row, 'Cancelled', {
      eventType: 'AgreementCancelledEvent',
      reason: reasonOf(message.reason),
    });
  }

  #onAgreementTerminated(message: AgreementTerminated, caller: string): void {
    const rows = this.#db.all<AgreementRow>(
      'SELECT * FROM market_agreement WHERE id = ?',
      message?.agreementId ?? '',
    );
    const row = rows.find((r) => {
      const content = JSON.parse(r.content) as AgreementContent;
      return (r.role === 'requestor' ? content.offer.providerId : content.demand.requestorId) === caller;
    });
    if (row === undefined)
      throw httpError.forbidden(
        'MARKET_NOT_COUNTERPARTY',
        'only the counterparty may terminate this agreement',
      );
    if (row.state !== 'Approved') throw stateError(row.state, 'terminate');
    if (
      !verifyNodeSignature(
        caller,
        terminationDigest(row.id, message.reason ?? null, message.terminatedAt),
        safeHex(message.signature),
      )
    ) {
      throw new GolemError('MARKET_BAD_SIGNATURE', 'the termination signature does not verify', {
        httpStatus: 400,
      });
    }
    const terminator = row.role === 'requestor' ? 'Provider' : 'Requestor';
    this.#db.run(
      'UPDATE market_agreement SET termination = ? WHERE id = ? AND role = ?',
      JSON.stringify({
        terminator,
        reason: message.reason ?? null,
        signature: message.signature,
        terminatedAt: message.terminatedAt,
      }),
      row.id,
      row.role,
    );
    this.#setState(row, 'Terminated', {
      eventType: 'AgreementTerminatedEvent',
      terminator,
      signature: message.signature,
      reason: reasonOf(message.reason),
    });
  }

  // ---------------------------------------------------------------- internals

  #matcher(demandId: string): Matcher | undefined {
    let matcher = this.#matchers.get(demandId);
    if (matcher === undefined) {
      const demand = this.#db.get<DemandRow>(
        'SELECT * FROM market_demand WHERE demand_id = ? AND active = 1',
        demandId,
      );
      if (demand === undefined) return undefined;
      matcher = createMatcher({ properties: JSON.parse(demand.properties), constraints: demand.constraints });
      this.#matchers.set(demandId, matcher);
    }
    return matcher;
  }

  #matchOffer(offer: SignedOffer): void {
    const demands = this.#db.all<DemandRow>(
      'SELECT * FROM market_demand WHERE active = 1 AND expires_at > ?',
      now(),
    );
    for (const demand of demands) {
      const matcher = this.#matcher(demand.demand_id);
      if (matcher !== undefined) this.#tryMatch(demand.demand_id, demand.requestor_id, matcher, offer);
    }
  }

  #tryMatch(demandId: string, requestorId: string, matcher: Matcher, offer: SignedOffer): void {
    // A demand never matches an offer of its own node.
    if (offer.providerId === requestorId || matcher(offer) !== 'yes') return;
    if (
      this.#db.get(
        "SELECT 1 FROM market_proposal WHERE demand_id = ? AND offer_id = ? AND role = 'requestor' AND state = 'Initial'",
        demandId,
        offer.offerId,
      ) !== undefined
    )
      return;
    const id = randomId();
    this.#db.transaction(() => {
      this.#insertProposal({
        id,
        role: 'requestor',
        demand_id: demandId,
        offer_id: offer.offerId,
        issuer: 'provider',
        issuer_id: offer.providerId,
        peer_id: offer.providerId,
        properties: JSON.stringify(offer.properties),
        constraints: offer.constraints,
        prev_id: null,
        state: 'Initial',
        countered: 0,
        created_at: now(),
      });
      this.#queueEvent(demandId, { kind: 'proposal', id, role: 'requestor', at: now() });
    });
  }

  #insertProposal(row: ProposalRow): void {
    this.#db.run(
      `INSERT INTO market_proposal (id, role, demand_id, offer_id, issuer, issuer_id, peer_id, properties, constraints, prev_id, state, countered, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.id,
      row.role,
      row.demand_id,
      row.offer_id,
      row.issuer,
      row.issuer_id,
      row.peer_id,
      row.properties,
      row.constraints,
      row.prev_id,
      row.state,
      row.countered,
      row.created_at,
    );
  }

  #insertAgreement(
    content: AgreementContent,
    role: Role,
    owner: string,
    state: AgreementRow['state'],
    proposedSignature?: string,
  ): void {
    this.#db.run(
      'INSERT INTO market_agreement (id, role, owner_id, content, state, proposed_signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      content.agreementId,
      role,
      owner,
      JSON.stringify(content),
      state,
      proposedSignature ?? null,
      now(),
    );
    const validTo = Date.parse(content.validTo);
    if (Number.isFinite(validTo) && validTo < this.#expiryAt) this.#armExpiry(validTo);
  }

  #queueEvent(subscriptionId: string, body: EventBody): void {
    this.#db.run(
      'INSERT INTO market_event (subscription_id, body) VALUES (?, ?)',
      subscriptionId,
      JSON.stringify(body),
    );
    queueMicrotask(() => this.notifier.notify(`sub:${subscriptionId}`));
  }

  #renderEvent(body: EventBody): Record<string, unknown> | undefined {
    if (body.kind === 'proposal') {
      const row = this.#db.get<ProposalRow>(
        'SELECT * FROM market_proposal WHERE id = ? AND role = ?',
        body.id,
        body.role,
      );
      return row === undefined
        ? undefined
        : { eventType: 'ProposalEvent', eventDate: body.at, proposal: proposalView(row) };
    }
    if (body.kind === 'rejected') {
      const event: Record<string, unknown> = {
        eventType: 'ProposalRejectedEvent',
        eventDate: body.at,
        proposalId: body.proposalId,
      };
      if (body.reason !== null) event.reason = body.reason;
      return event;
    }
    const row = this.#db.get<AgreementRow>(
      "SELECT * FROM market_agreement WHERE id = ? AND role = 'provider'",
      body.agreementId,
    );
    return row === undefined
      ? undefined
      : { eventType: 'AgreementEvent', eventDate: body.at, agreement: this.agreementView(row) };
  }

  /** Moves an agreement to a new state and records the agreement event both REST sides read. */
  #setState(row: AgreementRow, state: AgreementRow['state'], event?: Record<string, unknown>): void {
    const eventDate = now();
    this.#db.transaction(() => {
      this.#db.run(
        'UPDATE market_agreement SET state = ? WHERE id = ? AND role = ?',
        state,
        row.id,
        row.role,
      );
      if (event !== undefined) {
        const body: Record<string, unknown> = { eventDate, agreementId: row.id, ...event };
        if (body.reason === null || body.reason === undefined) delete body.reason;
        this.#db.run(
          'INSERT INTO market_agreement_event (agreement_id, owner_id, app_session_id, event_date, body) VALUES (?, ?, ?, ?, ?)',
          row.id,
          row.owner_id,
          row.app_session_id,
          eventDate,
          JSON.stringify(body),
        );
      }
    });
    this.notifier.notify(`agreement:${row.id}`);
    this.notifier.notify(`agreements:${row.owner_id}`);
  }

  /**
   * Expires every unapproved agreement past its validTo, then arms one timer for the next: waiters (wait for
   * approval, event long-polls) learn of the expiry when it happens, not at their next call.
   */
  #expireDue(): void {
    this.#armExpiry(Number.POSITIVE_INFINITY);
    const open = this.#db.all<AgreementRow>(
      "SELECT * FROM market_agreement WHERE state IN ('Proposal', 'Pending')",
    );
    let next = Number.POSITIVE_INFINITY;
    for (const row of open) {
      const validTo = validToOf(row);
      if (this.#expireIfDue(row).state !== 'Expired' && Number.isFinite(validTo))
        next = Math.min(next, validTo);
    }
    this.#armExpiry(next);
  }

  /** One timer, at the earliest validTo of an unapproved agreement (infinity disarms it). */
  #armExpiry(at: number): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    // setTimeout holds at most ~24.8 days; a later expiry re-arms when this one fires.
    this.#expiryTimer = setTimeout(
      () => this.#expireDue(),
      Math.min(Math.max(0, at - Date.now()) + 5, 2 ** 31 - 1),
    );
    this.#expiryTimer.unref();
  }

  /** The agreement itself, or its copy marked Expired (and waiters told) when it is unapproved and past validTo. */
  #expireIfDue(row: AgreementRow): AgreementRow {
    if ((row.state === 'Proposal' || row.state === 'Pending') && validToOf(row) <= Date.now()) {
      this.#setState(row, 'Expired');
      return { ...row, state: 'Expired' };
    }
    return row;
  }

  #agreement(owner: string, agreementId: string, role: Role): AgreementRow {
    const row = this.#db.get<AgreementRow>(
      'SELECT * FROM market_agreement WHERE id = ? AND role = ? AND owner_id = ?',
      agreementId,
      role,
      owner,
    );
    if (row === undefined)
      throw httpError.notFound('MARKET_AGREEMENT_NOT_FOUND', `agreement ${agreementId} not found`);
    return this.#expireIfDue(row);
  }

  #anyAgreement(owner: string, agreementId: string): AgreementRow {
    const row =
      this.#db.get<AgreementRow>(
        "SELECT * FROM market_agreement WHERE id = ? AND role = 'requestor' AND owner_id = ?",
        agreementId,
        owner,
      ) ??
      this.#db.get<AgreementRow>(
        "SELECT * FROM market_agreement WHERE id = ? AND role = 'provider' AND owner_id = ?",
        agreementId,
        owner,
      );
    if (row === undefined)
      throw httpError.notFound('MARKET_AGREEMENT_NOT_FOUND', `agreement ${agreementId} not found`);
    return this.#expireIfDue(row);
  }

  /** The agreement a message from `caller` is about; refused unless the caller is its counterparty. */
  #peerAgreement(
    agreementId: unknown,
    role: Role,
    caller: string,
    counterparty: (content: AgreementContent) => string,
  ): AgreementRow {
    const row =
      typeof agreementId === 'string'
        ? this.#db.get<AgreementRow>(
            'SELECT * FROM market_agreement WHERE id = ? AND role = ?',
            agreementId,
            role,
          )
        : undefined;
    if (row === undefined) throw httpError.notFound('MARKET_AGREEMENT_NOT_FOUND', 'unknown agreement');
    if (counterparty(JSON.parse(row.content) as AgreementContent) !== caller)
      throw httpError.forbidden('MARKET_NOT_COUNTERPARTY', 'only the counterparty may do this');
    return this.#expireIfDue(row);
  }

  #activeDemand(owner: string, demandId: string): DemandRow {
    const demand = SUBSCRIPTION_ID.test(demandId)
      ? this.#db.get<DemandRow>(
          'SELECT * FROM market_demand WHERE demand_id = ? AND requestor_id = ?',
          demandId,
          owner,
        )
      : undefined;
    if (demand === undefined || demand.active !== 1 || demand.expires_at <= now())
      throw httpError.notFound('MARKET_DEMAND_NOT_FOUND', `demand ${demandId} not found or unsubscribed`);
    return demand;
  }

  #ownOffer(owner: string, offerId: string): SignedOffer {
    const offer = this.discovery.get(offerId);
    if (offer === undefined || offer.providerId !== owner)
      throw httpError.notFound('MARKET_OFFER_NOT_FOUND', `offer ${offerId} not found or unsubscribed`);
    return offer;
  }

  #proposalOf(owner: string, subscriptionId: string, proposalId: string, role: Role): ProposalRow {
    if (role === 'requestor') this.#activeDemand(owner, subscriptionId);
    else this.#ownOffer(owner, subscriptionId);
    const id = bareProposalId(proposalId, role);
    const row =
      id === undefined
        ? undefined
        : this.#db.get<ProposalRow>('SELECT * FROM market_proposal WHERE id = ? AND role = ?', id, role);
    if (row === undefined || (role === 'requestor' ? row.demand_id : row.offer_id) !== subscriptionId) {
      throw httpError.notFound('MARKET_PROPOSAL_NOT_FOUND', `proposal ${proposalId} not found`);
    }
    return row;
  }

  async #sign(nodeId: string, digest: Uint8Array): Promise<string> {
    return this.#bus.call<string>(IdentityAddress.Sign, { nodeId, digest: toHex(digest) });
  }

  async #callPeer<T>(nodeId: string, address: string, message: unknown): Promise<T> {
    const service = address.replace('/public/', '');
    try {
      return await this.#bus.call<T>(`/net/${nodeId}/${service}`, message, {
        timeoutMs: PEER_CALL_TIMEOUT_MS,
      });
    } catch (error) {
      if (isGolemError(error) && error.httpStatus !== undefined && error.httpStatus < 500) throw error;
      throw new GolemError(
        'MARKET_PEER_UNREACHABLE',
        `the other side (${nodeId}) did not answer: ${(error as Error).message}`,
        { cause: error, httpStatus: 500 },
      );
    }
  }
}

function commitDigest(agreementId: string, approvedSignature: string): Uint8Array {
  return digestOf({ commit: agreementId, approvedSignature });
}

function terminationDigest(agreementId: string, reason: Reason, terminatedAt: string): Uint8Array {
  return digestOf({ terminate: agreementId, reason, terminatedAt });
}

function demandView(row: DemandRow): Record<string, unknown> {
  return {
    properties: JSON.parse(row.properties),
    constraints: row.constraints,
    demandId: row.demand_id,
    requestorId: row.requestor_id,
    timestamp: row.created_at,
  };
}

function safeHex(hex: unknown): Uint8Array {
  try {
    return typeof hex === 'string' ? fromHex(hex) : new Uint8Array(0);
  } catch {
    return new Uint8Array(0);
  }
}

/** When an agreement's offer of terms runs out (NaN if its content has no valid date). */
function validToOf(row: AgreementRow): number {
  return Date.parse((JSON.parse(row.content) as AgreementContent).validTo);
}
