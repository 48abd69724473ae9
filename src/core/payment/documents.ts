/**
 * Debit notes (per activity, cumulative) and invoices (per agreement): issued and sent by the provider, received,
 * accepted or rejected by the requestor, each step persisted with its event and the message announcing it in one
 * transaction. Every transition is a compare-and-set on the status it came from, and every acceptance spends
 * only what earlier acceptances of the same activity or agreement did not: a retry or a race never counts twice.
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import {
  type AcceptDebitNote,
  type AcceptInvoice,
  type CancelInvoice,
  type DebitNote,
  type DocumentStatus,
  type Invoice,
  PaymentPublicAddress,
  type RejectInvoice,
  type Rejection,
  remotePaymentAddress,
} from '../model/payment.ts';
import type { Outbox } from '../outbox/index.ts';
import type { Allocations } from './allocations.ts';
import { formatAmount, parseAmount, units } from './amount.ts';
import { type ActivityRow, type AgreementRow, addToTotal, type Counterparties } from './counterparty.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';
import type { DocumentEvents, DocumentKind, Role } from './events.ts';
import type { PeerLimiter } from './limits.ts';

export interface DebitNoteRow {
  debit_note_id: string;
  role: Role;
  agreement_id: string;
  activity_id: string;
  body: string;
  total_amount_due: string;
  status: DocumentStatus;
  allocation_id: string | null;
  created_at: string;
}

export interface InvoiceRow {
  invoice_id: string;
  role: Role;
  agreement_id: string;
  body: string;
  amount: string;
  status: DocumentStatus;
  allocation_id: string | null;
  created_at: string;
}

/** Statuses from which a requestor may still accept (yagna: RECEIVED, REJECTED, FAILED). */
const ACCEPTABLE: readonly DocumentStatus[] = ['RECEIVED', 'REJECTED', 'FAILED'];
const DONE: readonly DocumentStatus[] = ['ACCEPTED', 'SETTLED'];

export const debitNoteView = (row: DebitNoteRow): DebitNote => ({
  ...(JSON.parse(row.body) as DebitNote),
  status: row.status,
});
export const invoiceView = (row: InvoiceRow): Invoice => ({
  ...(JSON.parse(row.body) as Invoice),
  status: row.status,
});

/** Where each kind of document is stored, how it is named, and how its issuer sends it. */
const STORED = {
  debitNote: {
    table: 'payment_debit_note',
    idColumn: 'debit_note_id',
    idField: 'debitNoteId',
    label: 'debit note',
    sendKey: 'send-debit-note',
    sendAddress: PaymentPublicAddress.SendDebitNote,
  },
  invoice: {
    table: 'payment_invoice',
    idColumn: 'invoice_id',
    idField: 'invoiceId',
    label: 'invoice',
    sendKey: 'send-invoice',
    sendAddress: PaymentPublicAddress.SendInvoice,
  },
} as const;

/** A document's row and its view, by kind. */
interface Held {
  debitNote: { row: DebitNoteRow; document: DebitNote };
  invoice: { row: InvoiceRow; document: Invoice };
}

const viewOf = <K extends DocumentKind>(kind: K, row: Held[K]['row']): Held[K]['document'] =>
  kind === 'debitNote' ? debitNoteView(row as DebitNoteRow) : invoiceView(row as InvoiceRow);

/** The outbox key of a document's sending (stored: never renamed). */
const sendKeyOf = (kind: DocumentKind, id: string) => `${STORED[kind].sendKey}:${id}`;

function notFound(kind: DocumentKind, id: string) {
  const { label, idField } = STORED[kind];
  return paymentError(PaymentErrorCode.DocumentNotFound, `${label} ${id} not found`, 404, { [idField]: id });
}

export interface DocumentHooks {
  /** After an acceptance (inside its transaction): settle what is already paid, bring the batch forward. */
  accepted(role: Role, agreementId: string, dueDate: string | undefined): void;
}

function object(body: unknown, what: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw paymentError(PaymentErrorCode.BadRequest, `${what} must be a JSON object`, 400);
  return body as Record<string, unknown>;
}

function text(value: unknown, field: string, max = 256): string {
  if (typeof value !== 'string' || value === '' || value.length > max)
    throw paymentError(PaymentErrorCode.BadRequest, `${field} must be a non-empty string`, 400, { field });
  return value;
}

function optionalDate(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value)))
    throw paymentError(PaymentErrorCode.BadRequest, `${field} must be an RFC 3339 date`, 400, { field });
  return value;
}

function stateError(
  kind: DocumentKind,
  id: string,
  status: DocumentStatus,
  action: string,
  httpStatus = 400,
) {
  return paymentError(
    PaymentErrorCode.DocumentState,
    `cannot ${action} a ${kind === 'debitNote' ? 'debit note' : 'invoice'} in status ${status}`,
    httpStatus,
    {
      id,
      status,
    },
  );
}

export class Documents {
  #db: Database;
  #bus: Bus;
  #log: Logger;
  #parties: Counterparties;
  #allocations: Allocations;
  #events: DocumentEvents;
  #outbox: Outbox;
  #limiter: PeerLimiter;
  #hooks: DocumentHooks;

  constructor(deps: {
    db: Database;
    bus: Bus;
    log: Logger;
    parties: Counterparties;
    allocations: Allocations;
    events: DocumentEvents;
    outbox: Outbox;
    limiter: PeerLimiter;
    hooks: DocumentHooks;
  }) {
    this.#db = deps.db;
    this.#bus = deps.bus;
    this.#log = deps.log.child('documents');
    this.#parties = deps.parties;
    this.#allocations = deps.allocations;
    this.#events = deps.events;
    this.#outbox = deps.outbox;
    this.#limiter = deps.limiter;
    this.#hooks = deps.hooks;
    this.#outbox.on(PaymentPublicAddress.SendDebitNote, (message) =>
      this.#markReceived('debitNote', (message as DebitNote).debitNoteId),
    );
    this.#outbox.on(PaymentPublicAddress.SendInvoice, (message) =>
      this.#markReceived('invoice', (message as Invoice).invoiceId),
    );
  }

  // ------------------------------------------------------------------ reading

  debitNoteRow(id: string, role: Role): DebitNoteRow | undefined {
    return this.#row('debitNote', id, role);
  }

  invoiceRow(id: string, role: Role): InvoiceRow | undefined {
    return this.#row('invoice', id, role);
  }

  #row<K extends DocumentKind>(kind: K, id: string, role: Role): Held[K]['row'] | undefined {
    const { table, idColumn } = STORED[kind];
    return this.#db.get<Held[K]['row']>(
      `SELECT * FROM ${table} WHERE ${idColumn} = ? AND role = ?`,
      id,
      role,
    );
  }

  /** The document as `owner` holds it as `role`: its issuer's copy (provider) or its recipient's (requestor). */
  #held<K extends DocumentKind>(kind: K, owner: string, id: string, role: Role): Held[K] | undefined {
    const row = this.#row(kind, id, role);
    if (row === undefined) return undefined;
    const document = viewOf(kind, row);
    return this.#ownerOf(document, role) === owner ? ({ row, document } as Held[K]) : undefined;
  }

  /** The same; 404 when `owner` holds no such document as `role`. */
  #own<K extends DocumentKind>(kind: K, owner: string, id: string, role: Role): Held[K] {
    const held = this.#held(kind, owner, id, role);
    if (held === undefined) throw notFound(kind, id);
    return held;
  }

  /** The note as `owner` holds it (either side); 404 when `owner` is neither its issuer nor its recipient. */
  getDebitNote(owner: string, id: string): DebitNote {
    return this.#get('debitNote', owner, id);
  }

  getInvoice(owner: string, id: string): Invoice {
    return this.#get('invoice', owner, id);
  }

  #get<K extends DocumentKind>(kind: K, owner: string, id: string): Held[K]['document'] {
    for (const role of ['requestor', 'provider'] as const) {
      const held = this.#held(kind, owner, id, role);
      if (held !== undefined) return held.document;
    }
    throw notFound(kind, id);
  }

  listDebitNotes(owner: string, afterTimestamp?: string, maxItems = 1000): DebitNote[] {
    return this.#list<DebitNoteRow>(STORED.debitNote.table, owner, afterTimestamp, maxItems).map(
      debitNoteView,
    );
  }

  listInvoices(owner: string, afterTimestamp?: string, maxItems = 1000): Invoice[] {
    return this.#list<InvoiceRow>(STORED.invoice.table, owner, afterTimestamp, maxItems).map(invoiceView);
  }

  /** `owner`'s documents of both roles (issued as provider, received as requestor), oldest first. */
  #list<Row>(table: string, owner: string, afterTimestamp: string | undefined, maxItems: number): Row[] {
    return this.#db.all<Row>(
      `SELECT * FROM ${table} WHERE json_extract(body, '$.timestamp') > ?
       AND ((role = 'provider' AND json_extract(body, '$.issuerId') = ?) OR (role = 'requestor' AND json_extract(body, '$.recipientId') = ?))
       ORDER BY json_extract(body, '$.timestamp') LIMIT ?`,
      afterTimestamp ?? '',
      owner,
      owner,
      maxItems,
    );
  }

  #ownerOf(document: { issuerId: string; recipientId: string }, role: Role): string {
    return role === 'provider' ? document.issuerId : document.recipientId;
  }

  // ------------------------------------------------------------------ provider: issue, send, cancel

  async issueDebitNote(owner: string, body: unknown): Promise<DebitNote> {
    const request = object(body, 'a new debit note');
    const activityId = text(request.activityId, 'activityId');
    const totalAmountDue = parseAmount(request.totalAmountDue, 'totalAmountDue');
    const paymentDueDate = optionalDate(request.paymentDueDate, 'paymentDueDate');
    const activity = await this.#parties.ensureActivity(activityId, 'provider');
    const agreement = this.#parties.agreement(activity.agreement_id, 'provider')!;
    if (agreement.owner_id !== owner)
      throw paymentError(
        PaymentErrorCode.Forbidden,
        'only the provider of the agreement issues its debit notes',
        403,
        {
          agreementId: agreement.agreement_id,
        },
      );
    return this.#db.transaction(() => {
      const previous = this.#db.get<DebitNoteRow>(
        "SELECT * FROM payment_debit_note WHERE activity_id = ? AND role = 'provider' ORDER BY created_at DESC, rowid DESC LIMIT 1",
        activityId,
      );
      if (previous !== undefined && totalAmountDue < units(previous.total_amount_due))
        throw paymentError(
          PaymentErrorCode.BadAmount,
          'totalAmountDue is cumulative and may not decrease',
          400,
          {
            previous: formatAmount(units(previous.total_amount_due)),
            totalAmountDue: formatAmount(totalAmountDue),
          },
        );
      const note: DebitNote = {
        debitNoteId: randomUUID(),
        issuerId: owner,
        recipientId: agreement.peer_id,
        payeeAddr: agreement.payee_addr,
        payerAddr: agreement.payer_addr,
        paymentPlatform: agreement.platform,
        ...(previous === undefined ? {} : { previousDebitNoteId: previous.debit_note_id }),
        timestamp: new Date().toISOString(),
        agreementId: agreement.agreement_id,
        activityId,
        totalAmountDue: formatAmount(totalAmountDue),
        ...(request.usageCounterVector === undefined
          ? {}
          : { usageCounterVector: request.usageCounterVector }),
        ...(paymentDueDate === undefined ? {} : { paymentDueDate }),
        status: 'ISSUED',
      };
      this.#insertDebitNote(note, 'provider', 'ISSUED');
      return note;
    });
  }

  async issueInvoice(owner: string, body: unknown): Promise<Invoice> {
    const request = object(body, 'a new invoice');
    const agreementId = text(request.agreementId, 'agreementId');
    const amount = parseAmount(request.amount, 'amount');
    const paymentDueDate = optionalDate(request.paymentDueDate, 'paymentDueDate') ?? new Date().toISOString();
    const activityIds = request.activityIds ?? [];
    if (!Array.isArray(activityIds) || activityIds.some((id) => typeof id !== 'string'))
      throw paymentError(PaymentErrorCode.BadRequest, 'activityIds must be a list of activity ids', 400);
    const agreement = await this.#parties.ensureAgreement(agreementId, 'provider');
    if (agreement.owner_id !== owner)
      throw paymentError(
        PaymentErrorCode.Forbidden,
        'only the provider of the agreement issues its invoice',
        403,
        {
          agreementId,
        },
      );
    for (const activityId of activityIds as string[]) {
      const activity = await this.#parties.ensureActivity(activityId, 'provider');
      if (activity.agreement_id !== agreementId)
        throw paymentError(
          PaymentErrorCode.ActivityUnknown,
          `activity ${activityId} belongs to another agreement`,
          400,
          {
            activityId,
          },
        );
    }
    return this.#db.transaction(() => {
      const live = this.#db.get(
        "SELECT 1 FROM payment_invoice WHERE agreement_id = ? AND role = 'provider' AND status NOT IN ('CANCELLED', 'REJECTED')",
        agreementId,
      );
      if (live !== undefined)
        throw paymentError(PaymentErrorCode.DocumentState, 'the agreement already has an invoice', 409, {
          agreementId,
        });
      const accepted = units(this.#parties.agreement(agreementId, 'provider')!.total_accepted);
      if (amount < accepted)
        throw paymentError(
          PaymentErrorCode.BadAmount,
          'the invoice is smaller than what was already accepted',
          400,
          {
            amount: formatAmount(amount),
            accepted: formatAmount(accepted),
          },
        );
      const invoice: Invoice = {
        invoiceId: randomUUID(),
        issuerId: owner,
        recipientId: agreement.peer_id,
        payeeAddr: agreement.payee_addr,
        payerAddr: agreement.payer_addr,
        paymentPlatform: agreement.platform,
        timestamp: new Date().toISOString(),
        agreementId,
        activityIds: activityIds as string[],
        amount: formatAmount(amount),
        paymentDueDate,
        status: 'ISSUED',
      };
      this.#insertInvoice(invoice, 'provider', 'ISSUED');
      return invoice;
    });
  }

  /** Sends an issued note to the requestor and waits up to `timeoutMs` for its ack (it stays queued otherwise). */
  async sendDebitNote(owner: string, id: string, timeoutMs: number): Promise<void> {
    await this.#send('debitNote', owner, id, timeoutMs);
  }

  async sendInvoice(owner: string, id: string, timeoutMs: number): Promise<void> {
    await this.#send('invoice', owner, id, timeoutMs);
  }

  async #send(kind: DocumentKind, owner: string, id: string, timeoutMs: number): Promise<void> {
    const { row, document } = this.#own(kind, owner, id, 'provider');
    if (row.status !== 'ISSUED') return;
    const key = sendKeyOf(kind, id);
    this.#outbox.enqueue(key, document.recipientId, owner, STORED[kind].sendAddress, document);
    await this.#deliver(key, timeoutMs);
  }

  /**
   * Cancels an invoice the requestor has not accepted. A sent invoice is cancelled only once the requestor
   * agreed (it may be accepting it at this very moment), so both sides end in the same state.
   */
  async cancelInvoice(owner: string, id: string, timeoutMs: number): Promise<void> {
    const { row, document: invoice } = this.#own('invoice', owner, id, 'provider');
    if (row.status === 'CANCELLED') return;
    if (!['ISSUED', 'RECEIVED', 'REJECTED'].includes(row.status))
      throw stateError('invoice', id, row.status, 'cancel', 409);
    // A queued invoice goes out first: cancelling it only here while it is still on its way would leave the
    // requestor holding (and maybe paying) an invoice the provider dropped.
    const sendKey = sendKeyOf('invoice', id);
    if (this.#outbox.has(sendKey)) {
      const outcome = await this.#outbox.deliverNow(sendKey, timeoutMs);
      if (!outcome.delivered && !outcome.permanent)
        throw paymentError(
          PaymentErrorCode.PeerUnreachable,
          'the requestor cannot be reached to cancel the invoice',
          504,
          {
            invoiceId: id,
          },
        );
    }
    if (this.invoiceRow(id, 'provider')!.status !== 'ISSUED') {
      const message: CancelInvoice = { invoiceId: id, recipientId: invoice.recipientId };
      await this.#bus.call(
        remotePaymentAddress(invoice.recipientId, PaymentPublicAddress.CancelInvoice),
        message,
        {
          as: owner,
          timeoutMs,
        },
      );
    }
    this.#db.transaction(() => {
      this.#transition(
        'invoice',
        id,
        'provider',
        ['ISSUED', 'RECEIVED', 'REJECTED'],
        'CANCELLED',
        owner,
        row.agreement_id,
      );
    });
  }

  // ------------------------------------------------------------------ requestor: accept, reject

  async acceptDebitNote(owner: string, id: string, body: unknown, timeoutMs: number): Promise<void> {
    await this.#accept('debitNote', owner, id, body, timeoutMs, (row: DebitNoteRow) => {
      const note = debitNoteView(row);
      const activity = this.#parties.activity(row.activity_id, 'requestor')!;
      const due = units(row.total_amount_due);
      const already = units(activity.total_accepted);
      const toPay = due > already ? due - already : 0n;
      const message: AcceptDebitNote = {
        debitNoteId: id,
        issuerId: note.issuerId,
        totalAmountAccepted: note.totalAmountDue,
      };
      return {
        document: note,
        toPay,
        activity,
        address: PaymentPublicAddress.AcceptDebitNote,
        message,
        dueDate: note.paymentDueDate,
      };
    });
  }

  async acceptInvoice(owner: string, id: string, body: unknown, timeoutMs: number): Promise<void> {
    await this.#accept('invoice', owner, id, body, timeoutMs, (row: InvoiceRow) => {
      const invoice = invoiceView(row);
      const amount = units(row.amount);
      const already = units(this.#parties.agreement(row.agreement_id, 'requestor')!.total_accepted);
      if (amount < already)
        throw paymentError(
          PaymentErrorCode.BadAmount,
          'the invoice is smaller than what was already accepted',
          400,
          {
            amount: formatAmount(amount),
            accepted: formatAmount(already),
          },
        );
      const message: AcceptInvoice = {
        invoiceId: id,
        issuerId: invoice.issuerId,
        totalAmountAccepted: invoice.amount,
      };
      return {
        document: invoice,
        toPay: amount - already,
        activity: undefined,
        address: PaymentPublicAddress.AcceptInvoice,
        message,
        dueDate: invoice.paymentDueDate,
      };
    });
  }

  /**
   * One acceptance, in one transaction: the exact amount, the allocation spends only what earlier acceptances of
   * the activity (debit notes) or agreement (invoice) did not, totals and status move by compare-and-set, and the
   * message to the issuer is queued. An accepted or settled document is accepted again as a no-op.
   */
  async #accept<Row extends DebitNoteRow | InvoiceRow>(
    kind: DocumentKind,
    owner: string,
    id: string,
    body: unknown,
    timeoutMs: number,
    plan: (row: Row) => {
      document: DebitNote | Invoice;
      toPay: bigint;
      activity: ActivityRow | undefined;
      address: string;
      message: unknown;
      dueDate: string | undefined;
    },
  ): Promise<void> {
    const acceptance = object(body, 'an acceptance');
    const allocationId = text(acceptance.allocationId, 'allocationId');
    const accepted = parseAmount(acceptance.totalAmountAccepted, 'totalAmountAccepted');
    const key = `accept-${kind}:${id}`;
    const { table, idColumn } = STORED[kind];
    const done = this.#db.transaction(() => {
      const row = this.#row(kind, id, 'requestor') as Row | undefined;
      if (row === undefined || (JSON.parse(row.body) as DebitNote).recipientId !== owner)
        throw paymentError(PaymentErrorCode.DocumentNotFound, `${kind} ${id} not found`, 404, { id });
      // The exact amount first: a wrong amount is an error even for a document accepted before.
      const due = units('total_amount_due' in row ? row.total_amount_due : row.amount);
      if (accepted !== due)
        throw paymentError(
          PaymentErrorCode.AmountMismatch,
          'totalAmountAccepted must equal the amount due',
          400,
          {
            totalAmountAccepted: formatAmount(accepted),
            amountDue: formatAmount(due),
          },
        );
      if (DONE.includes(row.status)) return true;
      if (!ACCEPTABLE.includes(row.status)) throw stateError(kind, id, row.status, 'accept');
      // yagna: a debit note of an agreement whose invoice is already accepted is accepted without effect.
      if (
        kind === 'debitNote' &&
        this.#db.get(
          "SELECT 1 FROM payment_invoice WHERE agreement_id = ? AND role = 'requestor' AND status IN ('ACCEPTED', 'SETTLED')",
          row.agreement_id,
        ) !== undefined
      )
        return true;
      const step = plan(row);
      const allocation = this.#allocationFor(owner, allocationId, step.document);
      const agreement = this.#parties.agreement(row.agreement_id, 'requestor')!;
      this.#allocations.spend(allocation, step.toPay);
      if (step.activity !== undefined)
        addToTotal(
          this.#db,
          'activity',
          step.activity.activity_id,
          'requestor',
          'total_accepted',
          step.activity.total_accepted,
          step.toPay,
        );
      addToTotal(
        this.#db,
        'agreement',
        agreement.agreement_id,
        'requestor',
        'total_accepted',
        agreement.total_accepted,
        step.toPay,
      );
      this.#db.run(
        'INSERT INTO payment_expenditure (allocation_id, agreement_id, activity_id, document_id, amount, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        allocationId,
        row.agreement_id,
        step.activity?.activity_id ?? null,
        id,
        step.toPay.toString(),
        new Date().toISOString(),
      );
      this.#db.run(
        `UPDATE ${table} SET allocation_id = ? WHERE ${idColumn} = ? AND role = 'requestor'`,
        allocationId,
        id,
      );
      this.#transition(kind, id, 'requestor', [row.status], 'ACCEPTED', owner, row.agreement_id);
      this.#outbox.enqueue(key, step.document.issuerId, owner, step.address, step.message);
      this.#hooks.accepted('requestor', row.agreement_id, step.dueDate);
      this.#log.info('document accepted', { kind, id, toPay: formatAmount(step.toPay), allocationId });
      return false;
    });
    if (!done) await this.#deliver(key, timeoutMs);
  }

  async rejectInvoice(owner: string, id: string, body: unknown, timeoutMs: number): Promise<void> {
    const rejection = object(body, 'a rejection') as unknown as Rejection;
    text(rejection.rejectionReason, 'rejectionReason', 64);
    const key = `reject-invoice:${id}`;
    const done = this.#db.transaction(() => {
      const { row, document: invoice } = this.#own('invoice', owner, id, 'requestor');
      if (row.status === 'REJECTED') return true;
      if (row.status !== 'RECEIVED' && row.status !== 'FAILED')
        throw stateError('invoice', id, row.status, 'reject');
      this.#transition('invoice', id, 'requestor', [row.status], 'REJECTED', owner, row.agreement_id, {
        rejection,
      });
      const message: RejectInvoice = { invoiceId: id, issuerId: invoice.issuerId, rejection };
      this.#outbox.enqueue(key, invoice.issuerId, owner, PaymentPublicAddress.RejectInvoice, message);
      return false;
    });
    if (!done) await this.#deliver(key, timeoutMs);
  }

  #allocationFor(
    owner: string,
    allocationId: string,
    document: { payerAddr: string; paymentPlatform: string },
  ) {
    const allocation = this.#allocations.get(owner, allocationId);
    if (
      allocation.platform !== document.paymentPlatform ||
      allocation.address !== document.payerAddr.toLowerCase()
    )
      throw paymentError(
        PaymentErrorCode.AllocationInvalid,
        'the allocation is for another platform or address',
        400,
        {
          allocationId,
          allocation: { platform: allocation.platform, address: allocation.address },
          document: { platform: document.paymentPlatform, payerAddr: document.payerAddr },
        },
      );
    return allocation;
  }

  // ------------------------------------------------------------------ from the network

  /** Requestor: a provider sends a debit note. */
  async onDebitNote(message: unknown, caller: string): Promise<Record<string, never>> {
    this.#limiter.admit(caller, message);
    const note = this.#parseDebitNote(message);
    await this.#checkSender(note, caller);
    await this.#checkActivity(note.activityId, note.agreementId);
    this.#storeReceived(
      'debitNote',
      note.debitNoteId,
      note.agreementId,
      (known) =>
        units((known as DebitNoteRow).total_amount_due) === parseAmount(note.totalAmountDue) &&
        (known as DebitNoteRow).activity_id === note.activityId,
      () => this.#insertDebitNote(note, 'requestor', 'RECEIVED'),
    );
    return {};
  }

  /** Requestor: a provider sends an invoice. */
  async onInvoice(message: unknown, caller: string): Promise<Record<string, never>> {
    this.#limiter.admit(caller, message);
    const invoice = this.#parseInvoice(message);
    await this.#checkSender(invoice, caller);
    for (const activityId of invoice.activityIds) await this.#checkActivity(activityId, invoice.agreementId);
    this.#storeReceived(
      'invoice',
      invoice.invoiceId,
      invoice.agreementId,
      (known) => units((known as InvoiceRow).amount) === parseAmount(invoice.amount),
      () => this.#insertInvoice(invoice, 'requestor', 'RECEIVED'),
    );
    return {};
  }

  /**
   * Stores a received document once: the same document delivered again is acknowledged, a different one under a
   * known id is refused, and an agreement carries at most the per-peer bound of documents.
   */
  #storeReceived(
    kind: DocumentKind,
    id: string,
    agreementId: string,
    same: (known: DebitNoteRow | InvoiceRow) => boolean,
    insert: () => void,
  ): void {
    this.#db.transaction(() => {
      const known = this.#row(kind, id, 'requestor');
      if (known !== undefined) {
        if (known.agreement_id !== agreementId || !same(known))
          throw paymentError(PaymentErrorCode.DocumentState, `a different ${kind} with this id exists`, 409, {
            id,
          });
        return;
      }
      const { table } = STORED[kind];
      const count = this.#db.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM ${table} WHERE agreement_id = ? AND role = 'requestor'`,
        agreementId,
      )!.n;
      this.#limiter.checkCount(kind === 'debitNote' ? 'debitNotes' : 'invoices', count, agreementId);
      insert();
    });
  }

  /** Provider: the requestor accepted a debit note. */
  onAcceptDebitNote(message: unknown, caller: string): Record<string, never> {
    return this.#onAccepted('debitNote', message, caller);
  }

  /** Provider: the requestor accepted the invoice. */
  onAcceptInvoice(message: unknown, caller: string): Record<string, never> {
    return this.#onAccepted('invoice', message, caller);
  }

  /**
   * The provider's copy of an acceptance: from the recipient, for the exact amount; the accepted totals grow by
   * what earlier acceptances of the activity (debit note) or agreement (invoice) did not cover. A repeat is a no-op.
   */
  #onAccepted(kind: DocumentKind, message: unknown, caller: string): Record<string, never> {
    const request = this.#answer(message, caller, kind === 'debitNote' ? 'debitNoteId' : 'invoiceId');
    const amount = parseAmount(request.totalAmountAccepted, 'totalAmountAccepted');
    this.#fromCounterparty(kind, 'provider', request.id, caller, (row) => {
      if (DONE.includes(row.status)) return;
      if (row.status === 'CANCELLED') throw stateError(kind, request.id, row.status, 'accept', 409);
      const due = units('total_amount_due' in row ? row.total_amount_due : row.amount);
      if (amount !== due)
        throw paymentError(
          PaymentErrorCode.AmountMismatch,
          'totalAmountAccepted must equal the amount due',
          400,
          {
            id: request.id,
          },
        );
      const agreement = this.#parties.agreement(row.agreement_id, 'provider')!;
      // A debit note counts against its activity's accepted total, an invoice against the agreement's.
      const activity =
        'activity_id' in row ? this.#parties.activity(row.activity_id, 'provider')! : undefined;
      const before = units(activity?.total_accepted ?? agreement.total_accepted);
      const delta = due > before ? due - before : 0n;
      if (activity !== undefined)
        addToTotal(
          this.#db,
          'activity',
          activity.activity_id,
          'provider',
          'total_accepted',
          activity.total_accepted,
          delta,
        );
      addToTotal(
        this.#db,
        'agreement',
        agreement.agreement_id,
        'provider',
        'total_accepted',
        agreement.total_accepted,
        delta,
      );
      this.#transition(
        kind,
        request.id,
        'provider',
        [row.status],
        'ACCEPTED',
        agreement.owner_id,
        row.agreement_id,
      );
      this.#hooks.accepted('provider', row.agreement_id, undefined);
    });
    return {};
  }

  /** Provider: the requestor rejected the invoice. */
  onRejectInvoice(message: unknown, caller: string): Record<string, never> {
    const request = this.#answer(message, caller, 'invoiceId');
    this.#invoiceAnswered('provider', request.id, caller, {
      from: ['RECEIVED', 'ISSUED'],
      to: 'REJECTED',
      action: 'reject',
      extra: { rejection: request.rejection ?? null },
    });
    return {};
  }

  /** Requestor: the provider cancels an invoice (refused once accepted). */
  onCancelInvoice(message: unknown, caller: string): Record<string, never> {
    const request = this.#answer(message, caller, 'invoiceId');
    this.#invoiceAnswered('requestor', request.id, caller, {
      from: ['RECEIVED', 'REJECTED'],
      to: 'CANCELLED',
      action: 'cancel',
      httpStatus: 409,
    });
    return {};
  }

  /** The other party moved its invoice `from` a status `to` another: this copy follows; a repeat is a no-op. */
  #invoiceAnswered(
    role: Role,
    id: string,
    caller: string,
    step: {
      from: readonly DocumentStatus[];
      to: DocumentStatus;
      action: string;
      httpStatus?: number;
      extra?: Record<string, unknown>;
    },
  ): void {
    this.#fromCounterparty('invoice', role, id, caller, (row) => {
      if (row.status === step.to) return;
      if (!step.from.includes(row.status))
        throw stateError('invoice', id, row.status, step.action, step.httpStatus);
      const owner = this.#ownerOf(JSON.parse(row.body) as Invoice, role);
      this.#transition('invoice', id, role, [row.status], step.to, owner, row.agreement_id, step.extra);
    });
  }

  /** An answer from the network: within the peer's bounds, an object naming its document. */
  #answer(message: unknown, caller: string, idField: string): Record<string, unknown> & { id: string } {
    this.#limiter.admit(caller, message);
    const request = object(message, 'a payment message');
    return { ...request, id: text(request[idField], idField, 64) };
  }

  /**
   * Runs `work` on a document in one transaction, once the caller is known to be the other party of it: the
   * recipient for what a provider's copy hears, the issuer for what a requestor's copy hears.
   */
  #fromCounterparty(
    kind: DocumentKind,
    role: Role,
    id: string,
    caller: string,
    work: (row: DebitNoteRow | InvoiceRow) => void,
  ): void {
    this.#db.transaction(() => {
      const row = this.#row(kind, id, role);
      if (row === undefined)
        throw paymentError(PaymentErrorCode.DocumentNotFound, `${kind} ${id} not found`, 404, { id });
      const document = JSON.parse(row.body) as DebitNote;
      const party = role === 'provider' ? document.recipientId : document.issuerId;
      if (party !== caller)
        throw paymentError(
          PaymentErrorCode.NotCounterparty,
          'only the other party of a document answers it',
          403,
          {
            caller,
          },
        );
      work(row);
    });
  }

  // ------------------------------------------------------------------ settlement (called by the settlement)

  /**
   * Marks `role`'s accepted documents of an agreement SETTLED as far as payments cover them (inside a transaction):
   * debit notes up to what their activity was paid, the invoice once the agreement is paid in full.
   */
  settleCovered(role: Role, agreementId: string): void {
    const agreement = this.#parties.agreement(agreementId, role);
    if (agreement === undefined) return;
    const notes = this.#db.all<DebitNoteRow>(
      "SELECT * FROM payment_debit_note WHERE agreement_id = ? AND role = ? AND status = 'ACCEPTED'",
      agreementId,
      role,
    );
    for (const note of notes) {
      const activity = this.#parties.activity(note.activity_id, role);
      if (activity !== undefined && units(activity.total_paid) >= units(note.total_amount_due))
        this.#transition(
          'debitNote',
          note.debit_note_id,
          role,
          ['ACCEPTED'],
          'SETTLED',
          agreement.owner_id,
          agreementId,
        );
    }
    const invoices = this.#db.all<InvoiceRow>(
      "SELECT * FROM payment_invoice WHERE agreement_id = ? AND role = ? AND status = 'ACCEPTED'",
      agreementId,
      role,
    );
    for (const invoice of invoices) {
      if (units(agreement.total_paid) >= units(invoice.amount)) {
        this.#transition(
          'invoice',
          invoice.invoice_id,
          role,
          ['ACCEPTED'],
          'SETTLED',
          agreement.owner_id,
          agreementId,
        );
        // Notes the invoice covers are settled with it.
        for (const note of notes)
          this.#transition(
            'debitNote',
            note.debit_note_id,
            role,
            ['ACCEPTED'],
            'SETTLED',
            agreement.owner_id,
            agreementId,
            undefined,
            true,
          );
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  /** Compare-and-set of a document's status, with its event. */
  #transition(
    kind: DocumentKind,
    id: string,
    role: Role,
    from: readonly DocumentStatus[],
    to: DocumentStatus,
    owner: string,
    agreementId: string,
    extra?: Record<string, unknown>,
    quiet = false,
  ): boolean {
    const { table, idColumn } = STORED[kind];
    const changed = this.#db.run(
      `UPDATE ${table} SET status = ? WHERE ${idColumn} = ? AND role = ? AND status IN (${from.map(() => '?').join(',')})`,
      to,
      id,
      role,
      ...from,
    ).changes;
    if (changed !== 1) {
      if (quiet) return false;
      throw paymentError(PaymentErrorCode.DocumentState, `the ${kind} changed meanwhile`, 409, {
        id,
        expected: from,
        to,
      });
    }
    this.#events.append(kind, owner, role, id, agreementId, to, extra);
    return true;
  }

  #markReceived(kind: DocumentKind, id: string): void {
    const row = this.#row(kind, id, 'provider');
    if (row === undefined || row.status !== 'ISSUED') return;
    this.#transition(
      kind,
      id,
      'provider',
      ['ISSUED'],
      'RECEIVED',
      JSON.parse(row.body).issuerId,
      row.agreement_id,
      undefined,
      true,
    );
  }

  async #deliver(key: string, timeoutMs: number): Promise<void> {
    const outcome = await this.#outbox.deliverNow(key, timeoutMs);
    if (outcome.delivered) return;
    if (outcome.permanent) throw outcome.error;
    this.#log.info('peer not reached; the message stays queued', { key });
  }

  #insertDebitNote(note: DebitNote, role: Role, status: DocumentStatus): void {
    this.#insertDocument('debitNote', note.debitNoteId, note, role, status, {
      activity_id: note.activityId,
      total_amount_due: parseAmount(note.totalAmountDue).toString(),
    });
  }

  #insertInvoice(invoice: Invoice, role: Role, status: DocumentStatus): void {
    this.#insertDocument('invoice', invoice.invoiceId, invoice, role, status, {
      amount: parseAmount(invoice.amount).toString(),
    });
  }

  /** One row (the document without its status, which is a column) and its first event. */
  #insertDocument(
    kind: DocumentKind,
    id: string,
    document: DebitNote | Invoice,
    role: Role,
    status: DocumentStatus,
    columns: Record<string, string>,
  ): void {
    const { status: _ignored, ...body } = document;
    const { table, idColumn } = STORED[kind];
    const names = [idColumn, 'role', 'agreement_id', 'body', 'status', 'created_at', ...Object.keys(columns)];
    this.#db.run(
      `INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
      id,
      role,
      document.agreementId,
      JSON.stringify(body),
      status,
      new Date().toISOString(),
      ...Object.values(columns),
    );
    const owner = role === 'provider' ? document.issuerId : document.recipientId;
    this.#events.append(kind, owner, role, id, document.agreementId, status);
  }

  /** The sender of a document is its issuer, the counterparty of the agreement, and names the agreed terms. */
  async #checkSender(document: DebitNote | Invoice, caller: string): Promise<void> {
    if (document.issuerId !== caller)
      throw paymentError(PaymentErrorCode.NotCounterparty, 'a document comes from its issuer', 403, {
        caller,
      });
    if (!this.#bus.isLocalNode(document.recipientId))
      throw paymentError(PaymentErrorCode.NotCounterparty, 'the document is for another node', 403, {
        recipientId: document.recipientId,
      });
    const agreement = await this.#parties.ensureAgreement(document.agreementId, 'requestor');
    this.#parties.checkCounterparty(agreement, caller, document.recipientId);
    this.#checkTerms(agreement, document);
  }

  async #checkActivity(activityId: string, agreementId: string): Promise<void> {
    const activity = await this.#parties.ensureActivity(activityId, 'requestor');
    if (activity.agreement_id !== agreementId)
      throw paymentError(PaymentErrorCode.ActivityUnknown, 'the activity belongs to another agreement', 400, {
        activityId,
      });
  }

  #checkTerms(
    agreement: AgreementRow,
    document: { payeeAddr: string; payerAddr: string; paymentPlatform: string },
  ): void {
    if (
      document.paymentPlatform !== agreement.platform ||
      document.payeeAddr.toLowerCase() !== agreement.payee_addr ||
      document.payerAddr.toLowerCase() !== agreement.payer_addr
    )
      throw paymentError(
        PaymentErrorCode.BadRequest,
        'the document names another platform or other addresses than the agreement',
        400,
        {
          agreement: {
            platform: agreement.platform,
            payeeAddr: agreement.payee_addr,
            payerAddr: agreement.payer_addr,
          },
        },
      );
  }

  #parseDebitNote(message: unknown): DebitNote {
    const m = object(message, 'a debit note');
    parseAmount(m.totalAmountDue, 'totalAmountDue');
    const note: DebitNote = {
      debitNoteId: text(m.debitNoteId, 'debitNoteId', 64),
      issuerId: text(m.issuerId, 'issuerId', 42).toLowerCase(),
      recipientId: text(m.recipientId, 'recipientId', 42).toLowerCase(),
      payeeAddr: text(m.payeeAddr, 'payeeAddr', 42).toLowerCase(),
      payerAddr: text(m.payerAddr, 'payerAddr', 42).toLowerCase(),
      paymentPlatform: text(m.paymentPlatform, 'paymentPlatform', 64),
      ...(typeof m.previousDebitNoteId === 'string'
        ? { previousDebitNoteId: text(m.previousDebitNoteId, 'previousDebitNoteId', 64) }
        : {}),
      timestamp: optionalDate(m.timestamp, 'timestamp') ?? new Date().toISOString(),
      agreementId: text(m.agreementId, 'agreementId', 128),
      activityId: text(m.activityId, 'activityId', 128),
      totalAmountDue: m.totalAmountDue as string,
      ...(m.usageCounterVector === undefined ? {} : { usageCounterVector: m.usageCounterVector }),
      ...(m.paymentDueDate === undefined || m.paymentDueDate === null
        ? {}
        : { paymentDueDate: optionalDate(m.paymentDueDate, 'paymentDueDate')! }),
      status: 'RECEIVED',
    };
    return note;
  }

  #parseInvoice(message: unknown): Invoice {
    const m = object(message, 'an invoice');
    parseAmount(m.amount, 'amount');
    const activityIds = m.activityIds ?? [];
    if (
      !Array.isArray(activityIds) ||
      activityIds.length > 1000 ||
      activityIds.some((id) => typeof id !== 'string')
    )
      throw paymentError(PaymentErrorCode.BadRequest, 'activityIds must be a list of activity ids', 400);
    return {
      invoiceId: text(m.invoiceId, 'invoiceId', 64),
      issuerId: text(m.issuerId, 'issuerId', 42).toLowerCase(),
      recipientId: text(m.recipientId, 'recipientId', 42).toLowerCase(),
      payeeAddr: text(m.payeeAddr, 'payeeAddr', 42).toLowerCase(),
      payerAddr: text(m.payerAddr, 'payerAddr', 42).toLowerCase(),
      paymentPlatform: text(m.paymentPlatform, 'paymentPlatform', 64),
      timestamp: optionalDate(m.timestamp, 'timestamp') ?? new Date().toISOString(),
      agreementId: text(m.agreementId, 'agreementId', 128),
      activityIds: activityIds as string[],
      amount: m.amount as string,
      paymentDueDate: optionalDate(m.paymentDueDate, 'paymentDueDate') ?? new Date().toISOString(),
      status: 'RECEIVED',
    };
  }
}
