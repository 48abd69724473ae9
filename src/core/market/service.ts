/**
 * The market of one node: offers (published through discovery) and demands (never leave the node), matching on
 * the requestor's node, negotiation and agreements with the counterparty's market over the bus, and the events
 * both REST sides poll. Every step is persisted before it is acknowledged.
 */

import { Notifier } from '../api/index.ts';
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import { type Database, migrate } from '../db/index.ts';
import { httpError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  type AgreementContent,
  MarketLocalAddress,
  NegotiationAddress,
  type ProposalReceived,
  type ProposalRejected,
  type SignedOffer,
} from '../model/market.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { AgreementProtocol, type MarketGate, reasonOf } from './agreement-protocol.ts';
import { AgreementStore, type Reason } from './agreements.ts';
import { type DiscoveryOptions, OfferDiscovery } from './discovery.ts';
import { MarketErrorCode } from './errors.ts';
import { randomId, SUBSCRIPTION_ID, subscriptionId } from './ids.ts';
import { compileChecked, createMatcher, type Matcher, matchSides } from './matching.ts';
import { marketMigrations } from './migrations.ts';
import { callPeer } from './peer.ts';
import { registerMarketRoutes } from './rest.ts';
import { agreementRestView, bareProposalId, type ProposalRow, proposalView, type Role } from './views.ts';

export const SUBSCRIPTION_TTL_MS = 60 * 60 * 1000;

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

export interface MarketServiceOptions {
  discovery?: Partial<DiscoveryOptions>;
  /** Milliseconds since the epoch as the market sees them (agreement expiry, dates it writes); tests drive it. */
  clock?: () => number;
  /** Holds the agreement protocol at named points, for tests that race its steps deterministically. */
  gate?: MarketGate;
}

export class MarketService implements Service {
  readonly name = 'market';
  readonly discovery: OfferDiscovery;
  readonly notifier = new Notifier();
  /** The agreement protocol of both roles (state machine, peer handlers, expiry). */
  readonly agreements: AgreementProtocol;
  #bus: Bus;
  #db: Database;
  #log: Logger;
  #clock: () => number;
  #store: AgreementStore;
  #unbinds: Unbind[] = [];
  #matchers = new Map<string, Matcher>();

  constructor(
    components: Pick<CoreComponents, 'bus' | 'db' | 'logger'> & Partial<Pick<CoreComponents, 'rest'>>,
    options: MarketServiceOptions = {},
  ) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('market');
    this.#clock = options.clock ?? Date.now;
    this.discovery = new OfferDiscovery(components, options.discovery);
    this.#store = new AgreementStore({
      db: this.#db,
      bus: this.#bus,
      notifier: this.notifier,
      logger: this.#log,
      now: () => this.#now(),
    });
    this.agreements = new AgreementProtocol({
      bus: this.#bus,
      store: this.#store,
      transaction: (work) => this.#db.transaction(work),
      notifier: this.notifier,
      logger: this.#log,
      clock: this.#clock,
      gate: options.gate,
      proposals: {
        providerProposal: (id) =>
          this.#db.get<ProposalRow>("SELECT * FROM market_proposal WHERE id = ? AND role = 'provider'", id),
        accepted: (proposal, agreement) => {
          this.#db.run(
            "UPDATE market_proposal SET state = 'Accepted' WHERE id = ? AND role = 'provider'",
            proposal.id,
          );
          this.#queueEvent(agreement.offer.offerId, {
            kind: 'agreement',
            agreementId: agreement.agreementId,
            at: this.#now(),
          });
        },
      },
    });
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
    bind(MarketLocalAddress.Offers, () => this.discovery.list());
    bind(MarketLocalAddress.Demands, () =>
      this.#db.all<DemandRow>('SELECT * FROM market_demand WHERE active = 1').map(demandView),
    );
    bind<{ constraints?: string; properties?: unknown }>(MarketLocalAddress.Scan, (m) =>
      this.scan(m?.properties ?? {}, m?.constraints ?? '()'),
    );
    this.agreements.start();
  }

  async stop(): Promise<void> {
    this.agreements.stop();
    this.discovery.stop();
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }

  #now(): string {
    return new Date(this.#clock()).toISOString();
  }

  // ---------------------------------------------------------------- offers

  async subscribeOffer(owner: string, body: unknown): Promise<string> {
    const { properties, constraints } = compileChecked(body);
    const createdAt = this.#now();
    const offer = await this.discovery.publish({
      providerId: owner,
      properties,
      constraints,
      createdAt,
      expiresAt: new Date(this.#clock() + SUBSCRIPTION_TTL_MS).toISOString(),
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
      throw httpError.notFound(MarketErrorCode.OfferNotFound, `offer ${offerId} not found`);
    await this.discovery.unsubscribe(offerId);
    this.notifier.notify(`sub:${offerId}`);
  }

  // ---------------------------------------------------------------- demands

  subscribeDemand(owner: string, body: unknown): string {
    const { properties, constraints } = compileChecked(body);
    const createdAt = this.#now();
    const expiresAt = new Date(this.#clock() + SUBSCRIPTION_TTL_MS).toISOString();
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
        this.#now(),
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
      const events = this.#store.events(
        owner,
        options.afterTimestamp,
        options.maxEvents,
        options.appSessionId,
      );
      if (events.length > 0) return events;
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
      throw httpError.badRequest(
        MarketErrorCode.OwnProposal,
        'a proposal cannot be countered by its own issuer',
      );
    if (previous.state === 'Rejected')
      throw httpError.badRequest(MarketErrorCode.ProposalRejected, 'this proposal was rejected');
    if (previous.countered === 1 || previous.state === 'Accepted')
      throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
    const content = compileChecked(body);
    const match = matchSides(content, {
      properties: JSON.parse(previous.properties),
      constraints: previous.constraints,
    });
    if (match.result !== 'yes') {
      throw httpError.badRequest(
        MarketErrorCode.NoMatch,
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
      created_at: this.#now(),
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
    await callPeer(this.#bus, previous.peer_id, NegotiationAddress.ProposalReceived, message);
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
      throw httpError.badRequest(MarketErrorCode.OwnProposal, 'a node cannot reject its own proposal');
    if (proposal.state === 'Rejected') return;
    const reason = reasonOf(body);
    this.#db.run(
      "UPDATE market_proposal SET state = 'Rejected' WHERE id = ? AND role = ?",
      proposal.id,
      role,
    );
    // The provider never saw the requestor's Initial proposal: rejecting one is local.
    if (proposal.state !== 'Initial' || role === 'provider') {
      await callPeer(this.#bus, proposal.peer_id, NegotiationAddress.ProposalRejected, {
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
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'proposalId is required');
    const validTo = typeof request.validTo === 'string' ? Date.parse(request.validTo) : Number.NaN;
    if (Number.isNaN(validTo))
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'validTo must be an RFC 3339 date');
    if (validTo <= this.#clock()) throw httpError.gone(MarketErrorCode.Expired, 'validTo is in the past');
    const id = bareProposalId(request.proposalId, 'requestor');
    const proposal =
      id === undefined
        ? undefined
        : this.#db.get<ProposalRow>("SELECT * FROM market_proposal WHERE id = ? AND role = 'requestor'", id);
    if (proposal === undefined)
      throw httpError.badRequest(
        MarketErrorCode.ProposalNotFound,
        `proposal ${request.proposalId} not found`,
      );
    const demand = this.#db.get<DemandRow>(
      'SELECT * FROM market_demand WHERE demand_id = ? AND requestor_id = ?',
      proposal.demand_id,
      owner,
    );
    if (demand === undefined)
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
      createdAt: this.#now(),
    };
    this.#db.transaction(() => {
      this.#db.run(
        "UPDATE market_proposal SET state = 'Accepted' WHERE id = ? AND role = 'requestor'",
        proposal.id,
      );
      this.agreements.created(content, owner);
    });
    return content.agreementId;
  }

  confirmAgreement(owner: string, agreementId: string, appSessionId: string | undefined): Promise<void> {
    return this.agreements.confirm(owner, agreementId, appSessionId);
  }

  waitForApproval(
    owner: string,
    agreementId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.agreements.waitForApproval(owner, agreementId, timeoutMs, signal);
  }

  cancelAgreement(owner: string, agreementId: string, body: unknown): Promise<void> {
    return this.agreements.cancel(owner, agreementId, body);
  }

  // ---------------------------------------------------------------- agreements (provider)

  approveAgreement(owner: string, agreementId: string, appSessionId: string | undefined): Promise<void> {
    return this.agreements.approve(owner, agreementId, appSessionId);
  }

  rejectAgreement(owner: string, agreementId: string, body: unknown): Promise<void> {
    return this.agreements.reject(owner, agreementId, body);
  }

  // ---------------------------------------------------------------- agreements (both)

  getAgreement(owner: string, agreementId: string): Record<string, unknown> {
    return agreementRestView(this.agreements.get(owner, agreementId));
  }

  listAgreements(
    owner: string,
    filter: { state?: string; appSessionId?: string },
  ): Record<string, unknown>[] {
    return this.agreements
      .list(owner)
      .filter(
        (agreement) =>
          (filter.state === undefined || agreement.state === filter.state) &&
          (filter.appSessionId === undefined || agreement.appSessionId === filter.appSessionId),
      )
      .map((agreement) => ({
        id: agreement.id,
        timestamp: agreement.createdAt,
        approvedDate: agreement.approvedAt,
        role: agreement.role === 'requestor' ? 'Requestor' : 'Provider',
      }));
  }

  terminateAgreement(owner: string, agreementId: string, body: unknown): Promise<void> {
    return this.agreements.terminate(owner, agreementId, body);
  }

  terminationReason(owner: string, agreementId: string): Record<string, unknown> {
    return this.agreements.terminationReason(owner, agreementId);
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
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'malformed proposal');
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
        created_at: this.#now(),
      };
      this.#insertProposal(previous);
    }
    if (previous.peer_id !== caller)
      throw httpError.forbidden(
        MarketErrorCode.NotCounterparty,
        'only the counterparty of a negotiation may counter in it',
      );
    if (previous.issuer !== 'provider')
      throw httpError.badRequest(MarketErrorCode.OwnProposal, 'a counter answers the other side’s proposal');
    if (previous.countered === 1)
      throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
    const match = matchSides(compileChecked(proposal), {
      properties: JSON.parse(previous.properties),
      constraints: previous.constraints,
    });
    if (match.result !== 'yes')
      throw httpError.badRequest(MarketErrorCode.NoMatch, 'the counter-proposal does not match the offer');
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
        created_at: this.#now(),
      });
      this.#db.run(
        "UPDATE market_proposal SET countered = 1 WHERE id = ? AND role = 'provider'",
        previous.id,
      );
      this.#queueEvent(offer.offerId, {
        kind: 'proposal',
        id: proposal.proposalId,
        role: 'provider',
        at: this.#now(),
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
      throw httpError.notFound(MarketErrorCode.ProposalNotFound, 'unknown previous proposal');
    if (previous.peer_id !== caller)
      throw httpError.forbidden(
        MarketErrorCode.NotCounterparty,
        'only the counterparty of a negotiation may counter in it',
      );
    if (previous.issuer !== 'requestor')
      throw httpError.badRequest(MarketErrorCode.OwnProposal, 'a counter answers the other side’s proposal');
    if (previous.countered === 1)
      throw httpError.gone(MarketErrorCode.ProposalCountered, 'this proposal was already countered');
    const demand = this.#db.get<DemandRow>(
      'SELECT * FROM market_demand WHERE demand_id = ? AND active = 1',
      previous.demand_id,
    );
    if (demand === undefined) throw httpError.gone(MarketErrorCode.DemandGone, 'the demand was unsubscribed');
    const match = matchSides(
      { properties: JSON.parse(previous.properties), constraints: previous.constraints },
      compileChecked(proposal),
    );
    if (match.result !== 'yes')
      throw httpError.badRequest(MarketErrorCode.NoMatch, 'the counter-proposal does not match the demand');
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
        created_at: this.#now(),
      });
      this.#db.run(
        "UPDATE market_proposal SET countered = 1 WHERE id = ? AND role = 'requestor'",
        previous.id,
      );
      this.#queueEvent(previous.demand_id, {
        kind: 'proposal',
        id: proposal.proposalId,
        role: 'requestor',
        at: this.#now(),
      });
    });
  }

  #onProposalRejected(message: ProposalRejected, caller: string): void {
    if (typeof message?.proposalId !== 'string')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'malformed rejection');
    const rows = this.#db.all<ProposalRow>('SELECT * FROM market_proposal WHERE id = ?', message.proposalId);
    const own = rows.find((row) => row.issuer === row.role && row.peer_id === caller);
    if (own === undefined)
      throw httpError.notFound(
        MarketErrorCode.ProposalNotFound,
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
        at: this.#now(),
      });
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
      this.#now(),
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
        created_at: this.#now(),
      });
      this.#queueEvent(demandId, { kind: 'proposal', id, role: 'requestor', at: this.#now() });
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
    const agreement = this.#store.get(body.agreementId, 'provider');
    return agreement === undefined
      ? undefined
      : { eventType: 'AgreementEvent', eventDate: body.at, agreement: agreementRestView(agreement) };
  }

  /** Moves an agreement to a new state and records the agreement event both REST sides read. */
  #activeDemand(owner: string, demandId: string): DemandRow {
    const demand = SUBSCRIPTION_ID.test(demandId)
      ? this.#db.get<DemandRow>(
          'SELECT * FROM market_demand WHERE demand_id = ? AND requestor_id = ?',
          demandId,
          owner,
        )
      : undefined;
    if (demand === undefined || demand.active !== 1 || demand.expires_at <= this.#now())
      throw httpError.notFound(
        MarketErrorCode.DemandNotFound,
        `demand ${demandId} not found or unsubscribed`,
      );
    return demand;
  }

  #ownOffer(owner: string, offerId: string): SignedOffer {
    const offer = this.discovery.get(offerId);
    if (offer === undefined || offer.providerId !== owner)
      throw httpError.notFound(MarketErrorCode.OfferNotFound, `offer ${offerId} not found or unsubscribed`);
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
      throw httpError.notFound(MarketErrorCode.ProposalNotFound, `proposal ${proposalId} not found`);
    }
    return row;
  }
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
