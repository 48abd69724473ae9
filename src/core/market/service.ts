/**
 * The market of one node: offers (published through discovery) and demands (never leave the node), matching on
 * the requestor's node, negotiation and agreements with the counterparty's market over the bus, and the events
 * both REST sides poll. Every step is persisted before it is acknowledged. This is the face; the parts are
 * `live-matching.ts` (matching in memory), `negotiation.ts` (proposals), `agreement-protocol.ts` and
 * `agreements.ts` (the agreement state machine), `events.ts` (event queues), and the row stores.
 */

import { Notifier } from '../api/index.ts';
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import { type Database, migrate } from '../db/index.ts';
import { httpError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { MarketLocalAddress, marketAddressAt, type SignedOffer } from '../model/market.ts';
import { Outbox } from '../outbox/index.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { AgreementProtocol, type MarketGate } from './agreement-protocol.ts';
import { AgreementStore } from './agreements.ts';
import { type Demand, DemandStore, demandView } from './demands.ts';
import { type DiscoveryOptions, OfferDiscovery } from './discovery.ts';
import { MarketErrorCode } from './errors.ts';
import { SubscriptionEvents, subscriptionTopic, type TakenEvent } from './events.ts';
import { SUBSCRIPTION_ID, subscriptionId } from './ids.ts';
import { LiveMatching } from './live-matching.ts';
import { compileChecked, matchSides } from './matching.ts';
import { marketMigrations } from './migrations.ts';
import { Negotiation } from './negotiation.ts';
import { PEER_CALL_TIMEOUT_MS } from './peer.ts';
import { ProposalStore } from './proposals.ts';
import { registerMarketRoutes } from './rest.ts';
import { agreementRestView, proposalView, type Role } from './views.ts';

/** Notices to the other side: retried from 1 s up to 5 min apart, each attempt as long as a peer call. */
const NOTICE_RETRY = { initialDelayMs: 1000, maxDelayMs: 300_000, callTimeoutMs: PEER_CALL_TIMEOUT_MS };
/** What may wait for one peer: a peer gone for a week, or with a thousand notices queued, loses the oldest. */
const NOTICE_LIMITS = { perTarget: 1000, maxAgeMs: 7 * 24 * 3600_000 };

export const SUBSCRIPTION_TTL_MS = 60 * 60 * 1000;

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
  #notices: Outbox;
  #store: AgreementStore;
  #demands: DemandStore;
  #proposals: ProposalStore;
  #events: SubscriptionEvents;
  #negotiation: Negotiation;
  #matching: LiveMatching;
  #unbinds: (Unbind | (() => void))[] = [];

  constructor(
    components: Pick<CoreComponents, 'bus' | 'db' | 'logger'> & Partial<Pick<CoreComponents, 'rest'>>,
    options: MarketServiceOptions = {},
  ) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('market');
    this.#clock = options.clock ?? Date.now;
    const now = () => new Date(this.#clock()).toISOString();
    this.discovery = new OfferDiscovery(components, options.discovery);
    this.#notices = new Outbox(this.#db, this.#bus, this.#log, NOTICE_RETRY, {
      table: 'market_notice_outbox',
      addressOf: marketAddressAt,
      limits: NOTICE_LIMITS,
    });
    this.#store = new AgreementStore({
      db: this.#db,
      bus: this.#bus,
      notifier: this.notifier,
      logger: this.#log,
      now,
    });
    this.#demands = new DemandStore(this.#db);
    this.#proposals = new ProposalStore(this.#db);
    this.#events = new SubscriptionEvents(this.#db, this.notifier);
    const ledger = {
      providerProposal: (id: string) => this.#negotiation.ledger.providerProposal(id),
      accepted: (...args: Parameters<Negotiation['ledger']['accepted']>) =>
        this.#negotiation.ledger.accepted(...args),
    };
    this.agreements = new AgreementProtocol({
      bus: this.#bus,
      store: this.#store,
      transaction: (work) => this.#db.transaction(work),
      notifier: this.notifier,
      logger: this.#log,
      clock: this.#clock,
      gate: options.gate,
      proposals: ledger,
      notices: this.#notices,
    });
    this.#negotiation = new Negotiation({
      bus: this.#bus,
      db: this.#db,
      logger: this.#log,
      proposals: this.#proposals,
      demands: this.#demands,
      events: this.#events,
      agreements: this.agreements,
      offer: (offerId) => this.discovery.get(offerId),
      checkSubscription: (owner, id, role) => this.#checkSubscription(owner, id, role),
      now,
      clock: this.#clock,
    });
    this.#matching = new LiveMatching({
      isOwnNode: (nodeId) => this.#bus.isLocalNode(nodeId),
      clock: this.#clock,
      record: (matches) => this.#negotiation.recordMatches(matches),
      logger: this.#log,
    });
    components.rest?.register('/market-api/v1', (app) => registerMarketRoutes(app, this));
  }

  async start(): Promise<void> {
    migrate(this.#db, marketMigrations);
    // Matching holds every alive offer in memory from here on, kept in step by discovery's two events; what
    // was matched before the restart is not matched again.
    for (const demand of this.#demands.active(new Date(this.#clock()).toISOString()))
      this.#matching.demandAdded(demand);
    for (const offer of this.discovery.list()) this.#matching.offerKnown(offer);
    this.#unbinds.push(
      this.discovery.onOffer((offer) => this.#matching.offerArrived(offer)),
      this.discovery.onOfferRemoved((offerId) => this.#offerRemoved(offerId)),
    );
    this.discovery.start();
    const bind = <M>(address: string, handler: (message: M, context: CallContext) => unknown) =>
      this.#unbinds.push(
        this.#bus.bind(address, (message: unknown, context) => handler(message as M, context)),
      );
    bind(MarketLocalAddress.Offers, () => this.discovery.list());
    bind(MarketLocalAddress.Demands, () =>
      this.#demands.active(new Date(this.#clock()).toISOString()).map(demandView),
    );
    bind<{ constraints?: string; properties?: unknown }>(MarketLocalAddress.Scan, (m) =>
      this.scan(m?.properties ?? {}, m?.constraints ?? '()'),
    );
    this.#negotiation.start();
    this.agreements.start();
    this.#notices.start();
  }

  async stop(): Promise<void> {
    this.#notices.stop();
    this.agreements.stop();
    this.#negotiation.stop();
    this.discovery.stop();
    for (const unbind of this.#unbinds.splice(0)) unbind();
    await this.#matching.settled();
  }

  /** Resolves once every offer received so far is matched against the live demands and its proposals written. */
  settled(): Promise<void> {
    return this.#matching.settled();
  }

  // ---------------------------------------------------------------- offers

  async subscribeOffer(owner: string, body: unknown): Promise<string> {
    const { properties, constraints } = compileChecked(body);
    const offer = await this.discovery.publish({
      providerId: owner,
      properties,
      constraints,
      createdAt: new Date(this.#clock()).toISOString(),
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
    this.#ownOffer(owner, offerId);
    await this.discovery.unsubscribe(offerId);
    this.#events.clear(offerId);
  }

  #offerRemoved(offerId: string): void {
    this.#matching.offerRemoved(offerId);
    this.#negotiation.offerRemoved(offerId);
  }

  // ---------------------------------------------------------------- demands

  subscribeDemand(owner: string, body: unknown): string {
    const { properties, constraints } = compileChecked(body);
    const createdAt = new Date(this.#clock()).toISOString();
    const expiresAt = new Date(this.#clock() + SUBSCRIPTION_TTL_MS).toISOString();
    const demandId = subscriptionId({ requestorId: owner, properties, constraints, createdAt, expiresAt });
    const demand = { demandId, requestorId: owner, properties, constraints, createdAt, expiresAt };
    // Matched against every offer held now, in one transaction with the demand; later offers as they arrive.
    this.#db.transaction(() => {
      this.#demands.insert(demand);
      this.#negotiation.recordMatches(this.#matching.demandAdded(demand));
    });
    return demandId;
  }

  listDemands(owner: string): Record<string, unknown>[] {
    return this.#demands.active(new Date(this.#clock()).toISOString(), owner).map(demandView);
  }

  unsubscribeDemand(owner: string, demandId: string): void {
    const demand = this.#activeDemand(owner, demandId);
    this.#db.transaction(() => {
      this.#demands.deactivate(demand.demandId);
      this.#events.clear(demand.demandId);
    });
    this.#matching.demandRemoved(demandId);
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
    this.#checkSubscription(owner, subscriptionId, role);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // The read is destructive: events taken for a client that left would be lost, its next poll gets them.
      if (signal?.aborted) return [];
      const rendered = this.#db.transaction(() =>
        this.#events
          .take(subscriptionId, maxEvents)
          .map((event) => this.#render(subscriptionId, event))
          .filter((event) => event !== undefined),
      );
      if (rendered.length > 0) return rendered;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await this.notifier.wait(subscriptionTopic(subscriptionId), left, signal);
      this.#checkSubscription(owner, subscriptionId, role);
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

  /** A queued event as REST serves it; undefined when what it names is gone (a proposal of a removed offer). */
  #render(subscriptionId: string, event: TakenEvent): Record<string, unknown> | undefined {
    if (event.kind === 'matched') {
      const offer = this.#matching.offer(event.offerId);
      // Gone since it matched, or matched twice (evicted, then received again): nothing new to show.
      if (offer === undefined || this.#proposals.hasInitial(subscriptionId, offer.offerId)) return undefined;
      const proposal = this.#negotiation.initialProposal(subscriptionId, offer, event.at);
      return { eventType: 'ProposalEvent', eventDate: event.at, proposal: proposalView(proposal) };
    }
    if (event.kind === 'proposal') {
      const proposal = this.#proposals.get(event.id, event.role);
      return proposal === undefined
        ? undefined
        : { eventType: 'ProposalEvent', eventDate: event.at, proposal: proposalView(proposal) };
    }
    if (event.kind === 'rejected') {
      const rendered: Record<string, unknown> = {
        eventType: 'ProposalRejectedEvent',
        eventDate: event.at,
        proposalId: event.proposalId,
      };
      if (event.reason !== null) rendered.reason = event.reason;
      return rendered;
    }
    const agreement = this.#store.get(event.agreementId, 'provider');
    return agreement === undefined
      ? undefined
      : { eventType: 'AgreementEvent', eventDate: event.at, agreement: agreementRestView(agreement) };
  }

  // ---------------------------------------------------------------- proposals

  getProposal(
    owner: string,
    subscriptionId: string,
    proposalId: string,
    role: Role,
  ): Record<string, unknown> {
    return proposalView(this.#negotiation.get({ owner, subscriptionId, proposalId, role }));
  }

  /** Counters a proposal from the other side; returns the new proposal's prefixed id. */
  counterProposal(
    owner: string,
    subscriptionId: string,
    proposalId: string,
    role: Role,
    body: unknown,
  ): Promise<string> {
    return this.#negotiation.counter({ owner, subscriptionId, proposalId, role }, body);
  }

  rejectProposal(
    owner: string,
    subscriptionId: string,
    proposalId: string,
    role: Role,
    body: unknown,
  ): Promise<void> {
    return this.#negotiation.reject({ owner, subscriptionId, proposalId, role }, body);
  }

  // ---------------------------------------------------------------- agreements (requestor)

  createAgreement(owner: string, body: unknown): string {
    return this.#negotiation.createAgreement(owner, body);
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

  // ---------------------------------------------------------------- subscriptions

  #checkSubscription(owner: string, subscriptionId: string, role: Role): void {
    if (role === 'requestor') this.#activeDemand(owner, subscriptionId);
    else this.#ownOffer(owner, subscriptionId);
  }

  #activeDemand(owner: string, demandId: string): Demand {
    const demand = SUBSCRIPTION_ID.test(demandId) ? this.#demands.get(demandId) : undefined;
    if (
      demand === undefined ||
      demand.requestorId !== owner ||
      !demand.active ||
      demand.expiresAt <= new Date(this.#clock()).toISOString()
    )
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
}
