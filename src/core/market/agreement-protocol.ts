/**
 * The agreement protocol of both roles: what the requestor and the provider do through REST (confirm, approve,
 * reject, cancel, terminate, wait) and how each answers the other side's messages. State changes go only
 * through `AgreementStore.transition`; the requestor's own steps on one agreement run one at a time, so that a
 * cancel issued while a confirm is on its way waits for the provider to hold the agreement, then reaches it.
 */

import type { Notifier } from '../api/index.ts';
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import { canonicalJson, digestOf, verifyNodeSignature } from '../crypto/index.ts';
import { httpError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  type AgreementApproved,
  type AgreementContent,
  type AgreementReceived,
  type AgreementRejected,
  type AgreementState,
  type AgreementTerminated,
  type AgreementView,
  type GetAgreement,
  MarketLocalAddress,
  NegotiationAddress,
} from '../model/market.ts';
import type { Outbox } from '../outbox/index.ts';
import {
  type Agreement,
  type AgreementStore,
  agreementContract,
  checkAgreementContent,
  counterpartyOf,
  EXPIRABLE,
  type Reason,
  type Termination,
} from './agreements.ts';
import { agreementStateError, badSignature, checkSize, MarketErrorCode, MarketLimit } from './errors.ts';
import { callPeer, commitDigest, safeHex, sign, terminationDigest } from './peer.ts';
import type { Proposal } from './proposals.ts';
import { agreementRestView, type Role } from './views.ts';

/**
 * Where a test may hold the protocol: at the entry of each agreement handler (its bus address) and, on the
 * requestor, between accepting an approval and signing the commit (`commit`) and after the provider took a
 * confirmed agreement (`confirmed`).
 */
export type MarketGatePoint =
  | (typeof NegotiationAddress)[
      | 'AgreementReceived'
      | 'AgreementApproved'
      | 'AgreementRejected'
      | 'AgreementCancelled'
      | 'AgreementTerminated']
  | 'commit'
  | 'confirmed';

export type MarketGate = (point: MarketGatePoint, agreementId: string) => Promise<void> | void;

/** The provider-side proposals an incoming agreement is checked against (kept by the negotiation part). */
export interface ProposalLedger {
  providerProposal(id: string): Proposal | undefined;
  /**
   * Marks the proposal accepted (compare-and-set from Draft) and queues the provider's AgreementEvent, inside
   * the caller's transaction; false when the proposal was not an open Draft.
   */
  accepted(proposal: Proposal, agreement: AgreementContent): boolean;
}

export interface AgreementProtocolComponents {
  bus: Bus;
  store: AgreementStore;
  transaction: <T>(work: () => T) => T;
  notifier: Notifier;
  logger: Logger;
  clock: () => number;
  proposals: ProposalLedger;
  gate?: MarketGate;
  /** Termination, cancellation and rejection notices, kept and retried until the other side acknowledges. */
  notices: Outbox;
}

export function reasonOf(body: unknown): Reason {
  if (body === undefined || body === null) return null;
  if (typeof body !== 'object' || Array.isArray(body))
    throw httpError.badRequest(
      MarketErrorCode.BadReason,
      'a reason is a JSON object like {"message": "..."}',
    );
  checkSize(body, MarketLimit.reasonBytes, 'the reason');
  return body as Record<string, unknown>;
}

const notFound = (agreementId: string) =>
  httpError.notFound(MarketErrorCode.AgreementNotFound, `agreement ${agreementId} not found`);

export class AgreementProtocol {
  #bus: Bus;
  #store: AgreementStore;
  #transaction: <T>(work: () => T) => T;
  #notifier: Notifier;
  #log: Logger;
  #clock: () => number;
  #proposals: ProposalLedger;
  #gate: MarketGate | undefined;
  #notices: Outbox;
  #unbinds: Unbind[] = [];
  #serialized = new Map<string, Promise<void>>();
  #expiryTimer: NodeJS.Timeout | undefined;
  #expiryAt = Number.POSITIVE_INFINITY;

  constructor(components: AgreementProtocolComponents) {
    this.#bus = components.bus;
    this.#store = components.store;
    this.#transaction = components.transaction;
    this.#notifier = components.notifier;
    this.#log = components.logger;
    this.#clock = components.clock;
    this.#proposals = components.proposals;
    this.#gate = components.gate;
    this.#notices = components.notices;
  }

  /** Queues a notice to the counterparty and tries it once now; an unreachable peer gets it on a later retry. */
  async #notice(
    agreement: Agreement,
    address: string,
    message: AgreementRejected | AgreementTerminated,
  ): Promise<void> {
    const key = `${address}:${agreement.id}:${agreement.role}`;
    this.#notices.enqueue(key, counterpartyOf(agreement), agreement.ownerId, address, message);
    const outcome = await this.#notices.deliverNow(key);
    if (!outcome.delivered)
      this.#log.warn('the other side has not heard of the agreement change yet', {
        agreementId: agreement.id,
        address,
        willRetry: !outcome.permanent,
        error: outcome.error,
      });
  }

  start(): void {
    const bind = <M>(address: string, handler: (message: M, context: CallContext) => unknown) =>
      this.#unbinds.push(
        this.#bus.bind(address, (message: unknown, context) => handler(message as M, context)),
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
    bind<GetAgreement>(MarketLocalAddress.GetAgreement, (m) => this.contract(m));
    bind(MarketLocalAddress.Agreements, () =>
      this.#store.all().map((a) => agreementRestView(this.#expireIfDue(a))),
    );
    // An approval in flight died with the last process: the provider never got the commit, so both sides are
    // back to Pending, where the provider may approve again (or the agreement expires).
    for (const agreement of this.#store.inStates(['Approving']))
      this.#tryTransition(agreement, 'Pending', 'restart');
    this.expireDue();
  }

  stop(): void {
    this.#armExpiry(Number.POSITIVE_INFINITY);
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }

  // ---------------------------------------------------------------- what other modules see

  contract(message: GetAgreement): AgreementView {
    if (typeof message?.agreementId !== 'string')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'GetAgreement takes {agreementId, role?}');
    if (message.role !== undefined && message.role !== 'requestor' && message.role !== 'provider')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'role is requestor or provider');
    const agreement = this.#store.find(message.agreementId, undefined, message.role);
    if (agreement === undefined) throw notFound(message.agreementId);
    return agreementContract(this.#expireIfDue(agreement));
  }

  // ---------------------------------------------------------------- requestor

  /** Records a new agreement made from a proposal (the requestor's side, state Proposal). */
  created(content: AgreementContent, owner: string): void {
    this.#store.insert(content, 'requestor', owner, 'Proposal');
    this.#scheduleExpiry(content.validTo);
  }

  async confirm(owner: string, agreementId: string, appSessionId: string | undefined): Promise<void> {
    await this.#oneAtATime(agreementId, async () => {
      const proposal = this.#own(owner, agreementId, 'requestor');
      if (proposal.state !== 'Proposal') throw agreementStateError(proposal.state, 'confirm');
      const proposedSignature =
        proposal.proposedSignature ?? (await sign(this.#bus, owner, digestOf(proposal.content)));
      // Pending before it is sent: the provider may approve or reject before its answer to this call is back.
      const pending = this.#store.transition(proposal, 'Pending', 'confirm', {
        patch: { proposedSignature, appSessionId: appSessionId ?? null },
      });
      try {
        await callPeer(this.#bus, counterpartyOf(pending), NegotiationAddress.AgreementReceived, {
          agreement: pending.content,
          proposedSignature,
        } satisfies AgreementReceived);
      } catch (error) {
        // Not taken by the provider: back to Proposal (to confirm again), unless it already answered.
        this.#tryTransition(pending, 'Proposal', 'confirm');
        throw error;
      }
      await this.#gate?.('confirmed', agreementId);
    });
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
      const agreement = this.#own(owner, agreementId, 'requestor');
      switch (agreement.state) {
        case 'Approved':
          return;
        case 'Rejected':
        case 'Cancelled':
        case 'Expired':
          throw httpError.gone(MarketErrorCode.AgreementState, agreement.state, { state: agreement.state });
        case 'Proposal':
          throw httpError.badRequest(MarketErrorCode.AgreementState, 'the agreement is not confirmed');
        case 'Terminated':
          throw httpError.badRequest(MarketErrorCode.AgreementState, 'the agreement is terminated');
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted)
        throw httpError.timeout(
          MarketErrorCode.WaitTimeout,
          'the provider has not approved the agreement yet',
        );
      await this.#notifier.wait(`agreement:${agreementId}`, left, signal);
    }
  }

  async cancel(owner: string, agreementId: string, body: unknown): Promise<void> {
    const reason = reasonOf(body);
    await this.#oneAtATime(agreementId, async () => {
      const agreement = this.#own(owner, agreementId, 'requestor');
      this.#store.transition(agreement, 'Cancelled', 'cancel', { reason });
      // Once a confirm was attempted the provider may hold the agreement: it hears of the cancel.
      if (agreement.proposedSignature === null) return;
      await this.#notice(agreement, NegotiationAddress.AgreementCancelled, {
        agreementId,
        reason,
      } satisfies AgreementRejected);
    });
  }

  // ---------------------------------------------------------------- provider

  async approve(owner: string, agreementId: string, appSessionId: string | undefined): Promise<void> {
    const pending = this.#own(owner, agreementId, 'provider');
    if (pending.state !== 'Pending') throw agreementStateError(pending.state, 'approve');
    const approvedSignature = await sign(this.#bus, owner, digestOf(pending.content));
    const approvedAt = new Date(this.#clock()).toISOString();
    const approving = this.#store.transition(pending, 'Approving', 'approve', {
      patch: { approvedSignature, appSessionId: appSessionId ?? null },
    });
    const requestorId = pending.content.demand.requestorId;
    let reply: { committedSignature?: unknown };
    try {
      reply = await callPeer(this.#bus, requestorId, NegotiationAddress.AgreementApproved, {
        agreementId,
        approvedSignature,
        approvedAt,
      } satisfies AgreementApproved);
    } catch (error) {
      // The requestor says where it stands: a cancel or expiry it saw holds here too; anything else (no answer)
      // is back to Pending, where the provider may approve again.
      const theirs = isGolemError(error) && error.httpStatus === 410 ? error.details?.state : undefined;
      this.#tryTransition(
        approving,
        theirs === 'Cancelled' || theirs === 'Expired' ? theirs : 'Pending',
        'approve',
      );
      if (isGolemError(error) && error.httpStatus === 410)
        throw httpError.gone(MarketErrorCode.AgreementState, error.message, error.details);
      throw error;
    }
    if (
      !verifyNodeSignature(
        requestorId,
        commitDigest(agreementId, approvedSignature),
        safeHex(reply?.committedSignature),
      )
    ) {
      this.#tryTransition(approving, 'Pending', 'approve');
      throw badSignature('the requestor’s commit', 500);
    }
    this.#store.transition(approving, 'Approved', 'approve', {
      patch: { committedSignature: reply.committedSignature as string, approvedAt },
    });
  }

  async reject(owner: string, agreementId: string, body: unknown): Promise<void> {
    const reason = reasonOf(body);
    const agreement = this.#own(owner, agreementId, 'provider');
    if (agreement.state !== 'Pending') throw agreementStateError(agreement.state, 'reject');
    this.#store.transition(agreement, 'Rejected', 'reject', { reason });
    await this.#notice(agreement, NegotiationAddress.AgreementRejected, {
      agreementId,
      reason,
    } satisfies AgreementRejected);
  }

  // ---------------------------------------------------------------- both

  /** This owner's side (the requestor's first, when it holds both). */
  get(owner: string, agreementId: string): Agreement {
    const agreement = this.#store.find(agreementId, owner);
    if (agreement === undefined) throw notFound(agreementId);
    return this.#expireIfDue(agreement);
  }

  list(owner: string): Agreement[] {
    return this.#store.ofOwner(owner).map((agreement) => this.#expireIfDue(agreement));
  }

  async terminate(owner: string, agreementId: string, body: unknown): Promise<void> {
    const reason = reasonOf(body);
    const agreement = this.get(owner, agreementId);
    if (agreement.state !== 'Approved') throw agreementStateError(agreement.state, 'terminate');
    const terminatedAt = new Date(this.#clock()).toISOString();
    const signature = await sign(this.#bus, owner, terminationDigest(agreementId, reason, terminatedAt));
    const termination: Termination = {
      terminator: agreement.role === 'requestor' ? 'Requestor' : 'Provider',
      reason,
      signature,
      terminatedAt,
    };
    this.#store.transition(agreement, 'Terminated', 'terminate', { patch: { termination }, reason });
    await this.#notice(agreement, NegotiationAddress.AgreementTerminated, {
      agreementId,
      reason,
      terminatedAt,
      signature,
    } satisfies AgreementTerminated);
  }

  terminationReason(owner: string, agreementId: string): Record<string, unknown> {
    const { state, termination } = this.get(owner, agreementId);
    if (state !== 'Terminated' || termination === null)
      throw httpError.badRequest(MarketErrorCode.NotTerminated, 'the agreement is not terminated');
    const event: Record<string, unknown> = {
      eventDate: termination.terminatedAt,
      agreementId,
      terminator: termination.terminator,
      signature: termination.signature,
    };
    if (termination.reason !== null) event.reason = termination.reason;
    return event;
  }

  // ---------------------------------------------------------------- the other side's messages

  async #onAgreementReceived(message: AgreementReceived, caller: string): Promise<void> {
    const content = checkAgreementContent(message?.agreement);
    if (content === undefined || typeof message.proposedSignature !== 'string')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'malformed agreement');
    checkSize(content, MarketLimit.agreementBytes, 'the agreement');
    await this.#gate?.(NegotiationAddress.AgreementReceived, content.agreementId);
    if (content.demand.requestorId !== caller)
      throw httpError.forbidden(
        MarketErrorCode.NotCounterparty,
        'an agreement is proposed by its requestor only',
      );
    const proposal = this.#proposals.providerProposal(content.proposalId);
    if (
      proposal === undefined ||
      proposal.issuer !== 'provider' ||
      proposal.peerId !== caller ||
      proposal.offerId !== content.offer.offerId ||
      !this.#bus.isLocalNode(content.offer.providerId)
    ) {
      throw httpError.badRequest(
        MarketErrorCode.ProposalNotFound,
        'the agreement does not come from a proposal of this provider',
      );
    }
    if (
      canonicalJson(proposal.properties) !== canonicalJson(content.offer.properties) ||
      proposal.constraints !== content.offer.constraints
    ) {
      throw httpError.badRequest(
        MarketErrorCode.AgreementMismatch,
        'the agreement’s offer differs from the proposal it cites',
      );
    }
    // The demand side is what the provider's proposal answered (the requestor's counter it holds): demand terms
    // sent only now were never matched against the offer.
    const answered = proposal.prevId === null ? undefined : this.#proposals.providerProposal(proposal.prevId);
    if (
      answered === undefined ||
      proposal.demandId !== content.demand.demandId ||
      canonicalJson(answered.properties) !== canonicalJson(content.demand.properties) ||
      answered.constraints !== content.demand.constraints
    ) {
      throw httpError.badRequest(
        MarketErrorCode.AgreementMismatch,
        'the agreement’s demand differs from the requestor’s proposal the provider answered',
      );
    }
    if (!verifyNodeSignature(caller, digestOf(content), safeHex(message.proposedSignature)))
      throw badSignature('the requestor’s');
    if (!(Date.parse(content.validTo) > this.#clock()))
      throw httpError.gone(MarketErrorCode.AgreementState, 'the agreement expired before it arrived', {
        state: 'Expired',
      });
    if (this.#store.exists(content.agreementId, 'provider')) return;
    this.#transaction(() => {
      // One agreement per proposal: a second one citing it (another agreement id) is refused.
      if (!this.#proposals.accepted(proposal, content))
        throw httpError.conflict(
          MarketErrorCode.ProposalPromoted,
          'an agreement was already made from this proposal, or it is no longer open',
        );
      this.#store.insert(content, 'provider', content.offer.providerId, 'Pending', message.proposedSignature);
    });
    this.#scheduleExpiry(content.validTo);
  }

  async #onAgreementApproved(
    message: AgreementApproved,
    caller: string,
  ): Promise<{ committedSignature: string }> {
    const pending = this.#peerAgreement(message?.agreementId, 'requestor', caller);
    await this.#gate?.(NegotiationAddress.AgreementApproved, pending.id);
    const current = this.#expireIfDue(this.#store.get(pending.id, 'requestor') ?? pending);
    if (current.state !== 'Pending') throw agreementStateError(current.state, 'approve');
    if (typeof message.approvedAt !== 'string' || Number.isNaN(Date.parse(message.approvedAt)))
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'approvedAt must be an RFC 3339 date');
    if (!verifyNodeSignature(caller, digestOf(current.content), safeHex(message.approvedSignature)))
      throw badSignature('the provider’s');
    const approving = this.#store.transition(current, 'Approving', 'approve', {
      patch: { approvedSignature: message.approvedSignature, approvedAt: message.approvedAt },
    });
    let committedSignature: string;
    try {
      await this.#gate?.('commit', pending.id);
      committedSignature = await sign(
        this.#bus,
        approving.ownerId,
        commitDigest(approving.id, message.approvedSignature),
      );
    } catch (error) {
      this.#tryTransition(approving, 'Pending', 'approve');
      throw error;
    }
    // Lost when the requestor cancelled meanwhile: the provider hears 410 with the state to take.
    this.#store.transition(approving, 'Approved', 'approve', { patch: { committedSignature } });
    return { committedSignature };
  }

  async #onAgreementRejected(message: AgreementRejected, caller: string): Promise<void> {
    const agreement = this.#peerAgreement(message?.agreementId, 'requestor', caller);
    const reason = reasonOf(message.reason);
    await this.#gate?.(NegotiationAddress.AgreementRejected, agreement.id);
    const current = this.#fresh(agreement);
    // A notice sent again (the sender retries until it hears back) is acknowledged once the state has moved.
    if (current.state === 'Rejected') return;
    this.#store.transition(current, 'Rejected', 'reject', { reason });
  }

  async #onAgreementCancelled(message: AgreementRejected, caller: string): Promise<void> {
    const agreement = this.#peerAgreement(message?.agreementId, 'provider', caller);
    const reason = reasonOf(message.reason);
    await this.#gate?.(NegotiationAddress.AgreementCancelled, agreement.id);
    const current = this.#fresh(agreement);
    if (current.state === 'Cancelled') return;
    this.#store.transition(current, 'Cancelled', 'cancel', { reason });
  }

  async #onAgreementTerminated(message: AgreementTerminated, caller: string): Promise<void> {
    const agreementId = typeof message?.agreementId === 'string' ? message.agreementId : '';
    // The caller's own side: a node holding both sides is terminated on the side whose counterparty called.
    const agreement = (['requestor', 'provider'] as const)
      .map((role) => this.#store.get(agreementId, role))
      .find((a) => a !== undefined && counterpartyOf(a) === caller);
    if (agreement === undefined)
      throw httpError.forbidden(
        MarketErrorCode.NotCounterparty,
        'only the counterparty may terminate this agreement',
      );
    if (typeof message.terminatedAt !== 'string')
      throw httpError.badRequest(MarketErrorCode.BadRequest, 'terminatedAt must be a date');
    const reason = reasonOf(message.reason);
    if (
      !verifyNodeSignature(
        caller,
        terminationDigest(agreementId, reason, message.terminatedAt),
        safeHex(message.signature),
      )
    )
      throw badSignature('the termination');
    await this.#gate?.(NegotiationAddress.AgreementTerminated, agreementId);
    const termination: Termination = {
      terminator: agreement.role === 'requestor' ? 'Provider' : 'Requestor',
      reason,
      signature: message.signature,
      terminatedAt: message.terminatedAt,
    };
    const current = this.#fresh(agreement);
    if (current.state === 'Terminated') return;
    this.#store.transition(current, 'Terminated', 'terminate', {
      patch: { termination },
      reason,
    });
  }

  // ---------------------------------------------------------------- expiry

  /**
   * Expires every unapproved agreement past its validTo, then arms one timer for the next: waiters (wait for
   * approval, event long-polls) learn of the expiry when it happens, not at their next call.
   */
  expireDue(): void {
    this.#armExpiry(Number.POSITIVE_INFINITY);
    let next = Number.POSITIVE_INFINITY;
    for (const agreement of this.#store.inStates(EXPIRABLE)) {
      const validTo = Date.parse(agreement.content.validTo);
      if (this.#expireIfDue(agreement).state !== 'Expired' && Number.isFinite(validTo))
        next = Math.min(next, validTo);
    }
    this.#armExpiry(next);
  }

  #scheduleExpiry(validTo: string): void {
    const at = Date.parse(validTo);
    if (Number.isFinite(at) && at < this.#expiryAt) this.#armExpiry(at);
  }

  /** One timer, at the earliest validTo of an unapproved agreement (infinity disarms it). */
  #armExpiry(at: number): void {
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    // setTimeout holds at most ~24.8 days; a later expiry re-arms when this one fires.
    this.#expiryTimer = setTimeout(
      () => this.expireDue(),
      Math.min(Math.max(0, at - this.#clock()) + 5, 2 ** 31 - 1),
    );
    this.#expiryTimer.unref();
  }

  /** The agreement itself, or as it is after expiring (waiters told) when it is unapproved and past validTo. */
  #expireIfDue(agreement: Agreement): Agreement {
    if (!EXPIRABLE.includes(agreement.state) || !(Date.parse(agreement.content.validTo) <= this.#clock()))
      return agreement;
    return this.#tryTransition(agreement, 'Expired', 'expire');
  }

  // ---------------------------------------------------------------- internals

  /** A transition that may lose a race without it being an error: the agreement as it now is. */
  #tryTransition(agreement: Agreement, to: AgreementState, action: string): Agreement {
    try {
      return this.#store.transition(agreement, to, action);
    } catch (error) {
      if (!isGolemError(error, MarketErrorCode.AgreementState)) throw error;
      return this.#store.get(agreement.id, agreement.role) ?? agreement;
    }
  }

  /** Re-read after an await (a gate or a signature): the compare-and-set is against what is stored now. */
  #fresh(agreement: Agreement): Agreement {
    return this.#expireIfDue(this.#store.get(agreement.id, agreement.role) ?? agreement);
  }

  #own(owner: string, agreementId: string, role: Role): Agreement {
    const agreement = this.#store.find(agreementId, owner, role);
    if (agreement === undefined) throw notFound(agreementId);
    return this.#expireIfDue(agreement);
  }

  /** The agreement a message from `caller` is about; refused unless the caller is its counterparty. */
  #peerAgreement(agreementId: unknown, role: Role, caller: string): Agreement {
    const agreement = typeof agreementId === 'string' ? this.#store.get(agreementId, role) : undefined;
    if (agreement === undefined)
      throw httpError.notFound(MarketErrorCode.AgreementNotFound, 'unknown agreement');
    if (counterpartyOf(agreement) !== caller)
      throw httpError.forbidden(MarketErrorCode.NotCounterparty, 'only the counterparty may do this');
    return this.#expireIfDue(agreement);
  }

  /** Runs the requestor's steps on one agreement one after another (a step's peer call included). */
  async #oneAtATime(agreementId: string, work: () => Promise<void>): Promise<void> {
    const before = this.#serialized.get(agreementId) ?? Promise.resolve();
    const run = before.then(work);
    const settled = run.catch(() => undefined);
    this.#serialized.set(agreementId, settled);
    try {
      await run;
    } finally {
      if (this.#serialized.get(agreementId) === settled) this.#serialized.delete(agreementId);
    }
  }
}
