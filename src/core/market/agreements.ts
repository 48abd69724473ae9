/**
 * Agreements: the rows both sides keep (read back parsed and checked) and the one place their state changes.
 * Every change is a compare-and-set against the state it came from, allowed by `AGREEMENT_TRANSITIONS`; the
 * same step records the REST event and publishes the `AgreementEvent` other modules listen to.
 */

import type { Notifier } from '../api/index.ts';
import type { Bus } from '../bus/index.ts';
import type { Database, SqlValue } from '../db/index.ts';
import { GolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  AGREEMENT_EVENTS_TOPIC,
  type AgreementContent,
  type AgreementEvent,
  type AgreementState,
  type AgreementView,
} from '../model/market.ts';
import { agreementStateError, MarketErrorCode } from './errors.ts';
import { isRecord, parseStored as parseJson, Statements } from './statements.ts';
import type { Role } from './views.ts';

export type Reason = Record<string, unknown> | null;

export interface Termination {
  terminator: 'Requestor' | 'Provider';
  reason: Reason;
  signature: string;
  terminatedAt: string;
}

/** One side's agreement, as stored. */
export interface Agreement {
  id: string;
  role: Role;
  ownerId: string;
  content: AgreementContent;
  state: AgreementState;
  appSessionId: string | null;
  proposedSignature: string | null;
  approvedSignature: string | null;
  committedSignature: string | null;
  approvedAt: string | null;
  termination: Termination | null;
  createdAt: string;
}

const REQUESTOR: readonly Role[] = ['requestor'];
const PROVIDER: readonly Role[] = ['provider'];
const BOTH: readonly Role[] = ['requestor', 'provider'];

/**
 * Every legal move: from → to → the sides that may make it. `Approving` is the provider waiting for the
 * requestor's commit, or the requestor signing it; `Pending → Proposal` is a confirm the provider did not take
 * (to confirm again); `Cancelled → Rejected` is the requestor learning that the provider rejected before its
 * cancel arrived (the provider's decision stands on both sides).
 */
export const AGREEMENT_TRANSITIONS: Readonly<
  Record<AgreementState, Readonly<Partial<Record<AgreementState, readonly Role[]>>>>
> = {
  Proposal: { Pending: REQUESTOR, Cancelled: REQUESTOR, Expired: REQUESTOR },
  Pending: { Approving: BOTH, Rejected: BOTH, Cancelled: BOTH, Expired: BOTH, Proposal: REQUESTOR },
  Approving: { Approved: BOTH, Pending: BOTH, Cancelled: BOTH, Expired: PROVIDER },
  Approved: { Terminated: BOTH },
  Cancelled: { Rejected: REQUESTOR },
  Rejected: {},
  Expired: {},
  Terminated: {},
};

/** States an agreement can still expire from (it was never approved). */
export const EXPIRABLE: readonly AgreementState[] = ['Proposal', 'Pending'];

/** Columns a transition may set beside the state. */
export interface AgreementPatch {
  appSessionId?: string | null;
  proposedSignature?: string;
  approvedSignature?: string;
  committedSignature?: string;
  approvedAt?: string;
  termination?: Termination;
}

const PATCH_COLUMNS: Record<keyof AgreementPatch, string> = {
  appSessionId: 'app_session_id',
  proposedSignature: 'proposed_signature',
  approvedSignature: 'approved_signature',
  committedSignature: 'committed_signature',
  approvedAt: 'approved_at',
  termination: 'termination',
};

interface AgreementRow {
  id: string;
  role: string;
  owner_id: string;
  content: string;
  state: string;
  app_session_id: string | null;
  proposed_signature: string | null;
  approved_signature: string | null;
  committed_signature: string | null;
  approved_at: string | null;
  termination: string | null;
  created_at: string;
}

const STATES = new Set(Object.keys(AGREEMENT_TRANSITIONS));

/** An agreement's content as sent by a peer or read from a row: checked field by field, never cast. */
export function checkAgreementContent(value: unknown): AgreementContent | undefined {
  if (!isRecord(value) || !isRecord(value.demand) || !isRecord(value.offer)) return undefined;
  const { demand, offer } = value;
  const strings = [
    value.agreementId,
    value.proposalId,
    value.validTo,
    value.createdAt,
    demand.demandId,
    demand.requestorId,
    demand.constraints,
    offer.offerId,
    offer.providerId,
    offer.constraints,
  ];
  if (!strings.every((s) => typeof s === 'string')) return undefined;
  if (!isRecord(demand.properties) || !isRecord(offer.properties)) return undefined;
  return value as unknown as AgreementContent;
}

function corrupt(id: string, what: string): GolemError {
  return new GolemError(MarketErrorCode.AgreementCorrupt, `stored agreement ${id} is damaged: ${what}`, {
    httpStatus: 500,
    details: { agreementId: id },
  });
}

function fromRow(row: AgreementRow): Agreement {
  const content = checkAgreementContent(parseJson(row.content));
  if (content === undefined) throw corrupt(row.id, 'content');
  if (!STATES.has(row.state) || (row.role !== 'requestor' && row.role !== 'provider'))
    throw corrupt(row.id, 'state or role');
  let termination: Termination | null = null;
  if (row.termination !== null) {
    const parsed = parseJson(row.termination);
    if (!isRecord(parsed) || (parsed.terminator !== 'Requestor' && parsed.terminator !== 'Provider'))
      throw corrupt(row.id, 'termination');
    termination = parsed as unknown as Termination;
  }
  return {
    id: row.id,
    role: row.role,
    ownerId: row.owner_id,
    content,
    state: row.state as AgreementState,
    appSessionId: row.app_session_id,
    proposedSignature: row.proposed_signature,
    approvedSignature: row.approved_signature,
    committedSignature: row.committed_signature,
    approvedAt: row.approved_at,
    termination,
    createdAt: row.created_at,
  };
}

/** The other party's node id. */
export function counterpartyOf(agreement: Pick<Agreement, 'role' | 'content'>): string {
  return agreement.role === 'requestor'
    ? agreement.content.offer.providerId
    : agreement.content.demand.requestorId;
}

/** What payment, activity and the CLI see (`GetAgreement`). */
export function agreementContract(agreement: Agreement): AgreementView {
  const { content, termination } = agreement;
  return {
    agreementId: agreement.id,
    role: agreement.role,
    state: agreement.state === 'Approving' ? 'Pending' : agreement.state,
    requestorId: content.demand.requestorId,
    providerId: content.offer.providerId,
    demandId: content.demand.demandId,
    offerId: content.offer.offerId,
    demandProperties: content.demand.properties,
    demandConstraints: content.demand.constraints,
    offerProperties: content.offer.properties,
    offerConstraints: content.offer.constraints,
    validTo: content.validTo,
    createdAt: content.createdAt,
    approvedAt: agreement.approvedAt,
    terminatedAt: termination?.terminatedAt ?? null,
    terminatedBy:
      termination === null ? null : termination.terminator === 'Requestor' ? 'requestor' : 'provider',
    terminationReason: termination?.reason ?? null,
    appSessionId: agreement.appSessionId,
  };
}

/** The yagna REST event recorded for a state reached, if REST clients are told of it. */
function restEventOf(
  agreement: Agreement,
  to: AgreementState,
  reason: Reason,
): Record<string, unknown> | undefined {
  const eventType = {
    Approved: 'AgreementApprovedEvent',
    Rejected: 'AgreementRejectedEvent',
    Cancelled: 'AgreementCancelledEvent',
    Terminated: 'AgreementTerminatedEvent',
  }[to as string];
  if (eventType === undefined) return undefined;
  const event: Record<string, unknown> = { eventType };
  if (to === 'Terminated' && agreement.termination !== null) {
    event.terminator = agreement.termination.terminator;
    event.signature = agreement.termination.signature;
  }
  if (reason !== null) event.reason = reason;
  return event;
}

function busEventOf(
  agreement: Agreement,
  to: AgreementState,
  at: string,
  reason: Reason,
): AgreementEvent | undefined {
  const base = { agreementId: agreement.id, role: agreement.role, at };
  switch (to) {
    case 'Approved':
      return { type: 'approved', ...base };
    case 'Rejected':
      return { type: 'rejected', ...base, reason };
    case 'Cancelled':
      return { type: 'cancelled', ...base, reason };
    case 'Expired':
      return { type: 'expired', ...base };
    case 'Terminated':
      return {
        type: 'terminated',
        ...base,
        terminatedBy: agreement.termination?.terminator === 'Requestor' ? 'requestor' : 'provider',
        reason,
      };
    default:
      return undefined;
  }
}

export interface AgreementStoreComponents {
  db: Database;
  bus: Bus;
  notifier: Notifier;
  logger: Logger;
  now: () => string;
}

/** Persistence and the state machine of agreements (both roles). */
export class AgreementStore {
  #db: Database;
  #bus: Bus;
  #notifier: Notifier;
  #log: Logger;
  #now: () => string;
  #statements: Statements;

  constructor(components: AgreementStoreComponents) {
    this.#db = components.db;
    this.#bus = components.bus;
    this.#notifier = components.notifier;
    this.#log = components.logger;
    this.#now = components.now;
    this.#statements = new Statements(components.db);
  }

  #statement(sql: string) {
    return this.#statements.get(sql);
  }

  #one(sql: string, ...params: SqlValue[]): Agreement | undefined {
    const row = this.#statement(sql).get(...params) as AgreementRow | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  #many(sql: string, ...params: SqlValue[]): Agreement[] {
    return (this.#statement(sql).all(...params) as unknown as AgreementRow[]).map(fromRow);
  }

  get(id: string, role: Role): Agreement | undefined {
    return this.#one('SELECT * FROM market_agreement WHERE id = ? AND role = ?', id, role);
  }

  /** This owner's side of an agreement: `role` when given, else the requestor's side first. */
  find(id: string, owner: string | undefined, role?: Role): Agreement | undefined {
    for (const side of role === undefined ? BOTH : [role]) {
      const agreement = this.get(id, side);
      if (agreement !== undefined && (owner === undefined || agreement.ownerId === owner)) return agreement;
    }
    return undefined;
  }

  all(): Agreement[] {
    return this.#many('SELECT * FROM market_agreement ORDER BY created_at');
  }

  ofOwner(owner: string): Agreement[] {
    return this.#many('SELECT * FROM market_agreement WHERE owner_id = ? ORDER BY created_at', owner);
  }

  inStates(states: readonly AgreementState[]): Agreement[] {
    return this.all().filter((agreement) => states.includes(agreement.state));
  }

  exists(id: string, role: Role): boolean {
    return (
      this.#statement('SELECT 1 FROM market_agreement WHERE id = ? AND role = ?').get(id, role) !== undefined
    );
  }

  insert(
    content: AgreementContent,
    role: Role,
    owner: string,
    state: AgreementState,
    proposedSignature?: string,
  ): void {
    this.#statement(
      'INSERT INTO market_agreement (id, role, owner_id, content, state, proposed_signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(
      content.agreementId,
      role,
      owner,
      JSON.stringify(content),
      state,
      proposedSignature ?? null,
      this.#now(),
    );
  }

  /** Sets columns that are not the state (a signature made before the step that needs it). */
  patch(agreement: Agreement, patch: AgreementPatch): void {
    const [assignments, values] = patchSql(patch);
    if (assignments.length === 0) return;
    this.#statement(`UPDATE market_agreement SET ${assignments.join(', ')} WHERE id = ? AND role = ?`).run(
      ...values,
      agreement.id,
      agreement.role,
    );
  }

  /**
   * The one way an agreement changes state: allowed by the table, compare-and-set against `agreement.state`
   * (which the caller read), recorded with its REST event in one transaction, then published. Throws the
   * yagna state error (409/410) with the state actually found when the move is not allowed or lost the race.
   */
  transition(
    agreement: Agreement,
    to: AgreementState,
    action: string,
    change: { patch?: AgreementPatch; reason?: Reason } = {},
  ): Agreement {
    const allowed = AGREEMENT_TRANSITIONS[agreement.state][to];
    if (allowed === undefined || !allowed.includes(agreement.role))
      throw agreementStateError(agreement.state, action);
    const [assignments, values] = patchSql(change.patch ?? {});
    const at = this.#now();
    const reason = change.reason ?? null;
    const next: Agreement = { ...agreement, ...definedOf(change.patch ?? {}), state: to };
    const moved = this.#db.transaction(() => {
      const result = this.#statement(
        `UPDATE market_agreement SET ${['state = ?', ...assignments].join(', ')} WHERE id = ? AND role = ? AND state = ?`,
      ).run(to, ...values, agreement.id, agreement.role, agreement.state);
      if (Number(result.changes) !== 1) return false;
      const restEvent = restEventOf(next, to, reason);
      if (restEvent !== undefined)
        this.#statement(
          'INSERT INTO market_agreement_event (agreement_id, owner_id, app_session_id, event_date, body) VALUES (?, ?, ?, ?, ?)',
        ).run(
          agreement.id,
          agreement.ownerId,
          next.appSessionId,
          at,
          JSON.stringify({ eventDate: at, agreementId: agreement.id, ...restEvent }),
        );
      return true;
    });
    if (!moved) {
      const current = this.get(agreement.id, agreement.role);
      throw agreementStateError(current?.state ?? 'unknown', action);
    }
    this.#notifier.notify(`agreement:${agreement.id}`);
    this.#notifier.notify(`agreements:${agreement.ownerId}`);
    const busEvent = busEventOf(next, to, at, reason);
    if (busEvent !== undefined)
      this.#bus.publish(AGREEMENT_EVENTS_TOPIC, busEvent).catch((error: unknown) => {
        this.#log.warn('an agreement event listener failed', { agreementId: agreement.id, error });
      });
    return next;
  }

  /** REST agreement events of an owner after a date (strictly), oldest first. */
  events(
    owner: string,
    afterTimestamp: string,
    maxEvents: number,
    appSessionId?: string,
  ): Record<string, unknown>[] {
    const rows = (
      appSessionId === undefined
        ? this.#statement(
            'SELECT body FROM market_agreement_event WHERE owner_id = ? AND event_date > ? ORDER BY event_date, seq LIMIT ?',
          ).all(owner, afterTimestamp, maxEvents)
        : this.#statement(
            'SELECT body FROM market_agreement_event WHERE owner_id = ? AND event_date > ? AND app_session_id = ? ORDER BY event_date, seq LIMIT ?',
          ).all(owner, afterTimestamp, appSessionId, maxEvents)
    ) as { body: string }[];
    return rows.map((row) => parseJson(row.body)).filter(isRecord);
  }
}

function definedOf(patch: AgreementPatch): Partial<Agreement> {
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
}

function patchSql(patch: AgreementPatch): [string[], SqlValue[]] {
  const assignments: string[] = [];
  const values: SqlValue[] = [];
  for (const key of Object.keys(PATCH_COLUMNS) as (keyof AgreementPatch)[]) {
    const value = patch[key];
    if (value === undefined) continue;
    assignments.push(`${PATCH_COLUMNS[key]} = ?`);
    values.push(typeof value === 'object' && value !== null ? JSON.stringify(value) : value);
  }
  return [assignments, values];
}
