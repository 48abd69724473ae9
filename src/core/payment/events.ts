/**
 * The persistent debit-note and invoice event feeds (yagna's `debitNoteEvents`/`invoiceEvents`): appended with
 * strictly increasing `eventDate`s, so an `afterTimestamp` cursor never skips or repeats an event.
 */
import { Notifier } from '../api/index.ts';
import type { Bus } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import { type DocumentStatus, PAYMENT_EVENTS_TOPIC, type PaymentDocumentEvent } from '../model/payment.ts';

export type DocumentKind = 'debitNote' | 'invoice';
export type Role = 'requestor' | 'provider';

/** Event type names by status, as ya-client spells them. */
const EVENT_NAMES: Partial<Record<DocumentStatus, string>> = {
  RECEIVED: 'ReceivedEvent',
  ACCEPTED: 'AcceptedEvent',
  REJECTED: 'RejectedEvent',
  CANCELLED: 'CancelledEvent',
  SETTLED: 'SettledEvent',
};

/** Which statuses each role sees by default (yagna's `X-Requestor-Events` / `X-Provider-Events`). */
export const DEFAULT_ROLE_EVENTS: Record<Role, readonly DocumentStatus[]> = {
  requestor: ['RECEIVED', 'CANCELLED'],
  provider: ['ACCEPTED', 'REJECTED', 'SETTLED', 'CANCELLED'],
};

interface EventRow {
  kind: DocumentKind;
  document_id: string;
  event_type: string;
  event_date: string;
  extra: string | null;
}

export interface EventQuery {
  afterTimestamp?: string;
  maxEvents: number;
  appSessionId?: string;
  roleEvents: Record<Role, readonly string[]>;
}

export class DocumentEvents {
  readonly notifier = new Notifier();
  #db: Database;
  #bus: Bus;
  #lastMs = 0;

  constructor(db: Database, bus: Bus) {
    this.#db = db;
    this.#bus = bus;
  }

  /** Reads where the last feed ended (call after migrations). */
  load(): void {
    const row = this.#db.get<{ last: string | null }>('SELECT MAX(event_date) AS last FROM payment_event');
    this.#lastMs = row?.last ? Date.parse(row.last) : 0;
  }

  /** Records a status event (inside the caller's transaction); returns its date. */
  append(
    kind: DocumentKind,
    owner: string,
    role: Role,
    documentId: string,
    agreementId: string,
    status: DocumentStatus,
    extra?: Record<string, unknown>,
  ): string {
    const name = EVENT_NAMES[status];
    const ms = Math.max(Date.now(), this.#lastMs + 1);
    this.#lastMs = ms;
    const at = new Date(ms).toISOString();
    if (name === undefined) return at;
    const prefix = kind === 'debitNote' ? 'DebitNote' : 'Invoice';
    this.#db.run(
      'INSERT INTO payment_event (kind, owner_id, role, document_id, agreement_id, event_type, event_date, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      kind,
      owner,
      role,
      documentId,
      agreementId,
      `${prefix}${name}`,
      at,
      extra === undefined ? null : JSON.stringify(extra),
    );
    // Waiters and local listeners hear of it once the transaction is over.
    queueMicrotask(() => {
      this.notifier.notify(`${kind}:${owner}`);
      const event: PaymentDocumentEvent = { kind, documentId, role, status, at };
      void this.#bus.publish(PAYMENT_EVENTS_TOPIC, event).catch(() => {});
    });
    return at;
  }

  list(kind: DocumentKind, owner: string, query: EventQuery): Record<string, unknown>[] {
    const prefix = kind === 'debitNote' ? 'DebitNote' : 'Invoice';
    const allowed = (role: Role) =>
      query.roleEvents[role].map((status) => `${prefix}${EVENT_NAMES[status as DocumentStatus] ?? status}`);
    const requestorTypes = allowed('requestor');
    const providerTypes = allowed('provider');
    const placeholders = (values: readonly string[]) =>
      values.length === 0 ? "''" : values.map(() => '?').join(',');
    const params: (string | number)[] = [kind, owner, query.afterTimestamp ?? ''];
    let sql = `SELECT e.kind, e.document_id, e.event_type, e.event_date, e.extra FROM payment_event e`;
    if (query.appSessionId !== undefined)
      sql += ' LEFT JOIN payment_agreement a ON a.agreement_id = e.agreement_id AND a.role = e.role';
    sql += ` WHERE e.kind = ? AND e.owner_id = ? AND e.event_date > ?
      AND ((e.role = 'requestor' AND e.event_type IN (${placeholders(requestorTypes)}))
        OR (e.role = 'provider' AND e.event_type IN (${placeholders(providerTypes)})))`;
    params.push(...requestorTypes, ...providerTypes);
    if (query.appSessionId !== undefined) {
      // Exact for an agreement made in a session. One confirmed or approved without a session (or recorded
      // before the market reported sessions) is seen by every session rather than by none: golem-js always
      // filters, and hiding its documents would leave it waiting forever.
      sql += ' AND (a.app_session_id = ? OR a.app_session_id IS NULL)';
      params.push(query.appSessionId);
    }
    sql += ' ORDER BY e.event_date, e.seq LIMIT ?';
    params.push(query.maxEvents);
    const idField = kind === 'debitNote' ? 'debitNoteId' : 'invoiceId';
    return this.#db.all<EventRow>(sql, ...params).map((row) => ({
      [idField]: row.document_id,
      eventDate: row.event_date,
      eventType: row.event_type,
      ...(row.extra === null ? {} : JSON.parse(row.extra)),
    }));
  }
}

/** `X-Requestor-Events: RECEIVED,CANCELLED` → the statuses; absent → the default. */
export function roleEventsOf(header: string | string[] | undefined, role: Role): readonly string[] {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined) return DEFAULT_ROLE_EVENTS[role];
  return value
    .split(',')
    .map((part) => part.trim().toUpperCase())
    .filter((part) => part !== '');
}
