/**
 * The run's paymaster: every debit note and invoice of this run's agreements is audited (audit.ts) before it is
 * accepted. An overcharge is rejected through the payment API with the reason and a message (a debit note's reject
 * answers 501 on yagna and on this daemon, so an overcharging note is left unaccepted and the agreement ended),
 * and kept as a dispute against the provider. Documents of one agreement are handled one at a time, in the order
 * they are looked at, so the ledger a verdict was reached on is the one it is booked into.
 */
import type { DebitNote, Invoice, Rejection } from '../../core/model/payment.ts';
import { type RestClient, statusOf } from './api.ts';
import {
  type AgreedTerms,
  auditDebitNote,
  auditInvoice,
  book,
  formatUnits,
  justify,
  type Ledger,
  newLedger,
  termsOf,
  usagePrice,
  worstCase,
} from './audit.ts';

export interface Dispute {
  document: 'debitNote' | 'invoice';
  documentId: string;
  reason: Rejection['rejectionReason'];
  message: string;
  /** GLM the provider asked. */
  claimed: string;
  /** GLM the agreement justified. */
  allowed: string;
  /** Whether the daemon took the rejection (a debit note's reject is not implemented, as in yagna). */
  rejected: boolean;
}

export type InvoiceOutcome = 'ACCEPTED' | 'REJECTED' | 'UNACCEPTED';

interface Watched {
  terms: AgreedTerms;
  name: string;
  activities: Set<string>;
  /** Activities still running, with when they were created (this node's clock). */
  live: Map<string, number>;
  /** The budget watch ended the agreement already. */
  stopped: boolean;
  disputes: Dispute[];
  /** The chain of this agreement's document handling (one at a time). */
  queue: Promise<unknown>;
  /** Debit notes accepted (ids), to wait for their payment. */
  accepted: Set<string>;
}

export interface PaymentGuardOptions {
  api: RestClient;
  allocationId: string;
  budget: number;
  progress: (line: string) => void;
  /** The agreement must end (a dispute or the budget): terminate it, so its activities stop. */
  onBreach: (agreementId: string, message: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class PaymentGuard {
  readonly ledger: Ledger;
  readonly #options: PaymentGuardOptions;
  readonly #watched = new Map<string, Watched>();
  readonly #handled = new Set<string>();
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** Ends the debit-note long poll at `stop()`, so the run does not wait out its timeout. */
  #polling = new AbortController();
  #budgetTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: PaymentGuardOptions) {
    this.#options = options;
    this.ledger = newLedger(options.budget);
  }

  /** An agreement of this run, as `GET /agreements/{id}` serves it. */
  watch(agreement: Parameters<typeof termsOf>[0], name: string): void {
    this.#watched.set(agreement.agreementId, {
      terms: termsOf(agreement),
      name,
      activities: new Set(),
      live: new Map(),
      stopped: false,
      disputes: [],
      queue: Promise.resolve(),
      accepted: new Set(),
    });
  }

  addActivity(agreementId: string, activityId: string): void {
    const watched = this.#watched.get(agreementId);
    watched?.activities.add(activityId);
    watched?.live.set(activityId, Date.now());
  }

  /** The agreement's activities are over (destroyed, or failed): no more usage can accrue. */
  agreementWorkEnded(agreementId: string): void {
    this.#watched.get(agreementId)?.live.clear();
  }

  /**
   * The budget watch: what the run could owe by now (per agreement, the larger of what was accepted and the worst
   * case of its running activities on top of their audited price) must stay within the budget; when it would not,
   * the agreements still working are ended before their bills can outgrow it. Returns whether it ended any.
   */
  checkBudget(now = Date.now()): boolean {
    let exposure = 0n;
    for (const [agreementId, watched] of this.#watched) {
      let owed = this.ledger.agreements.get(agreementId) ?? 0n;
      for (const [activityId, since] of watched.live) {
        const worst = worstCase(watched.terms, (now - since) / 1000);
        const justified = this.ledger.justified.get(activityId) ?? 0n;
        if (worst > justified) owed += worst - justified;
      }
      exposure += owed;
    }
    if (exposure <= this.ledger.budget) return false;
    let ended = false;
    for (const [agreementId, watched] of this.#watched) {
      if (watched.live.size === 0 || watched.stopped) continue;
      watched.stopped = true;
      ended = true;
      const message = `the run could cost ${formatUnits(exposure)} GLM by now, above the budget of ${formatUnits(this.ledger.budget)} GLM`;
      this.#options.progress(`payment: stopping ${watched.name}: ${message}`);
      this.#options.onBreach(agreementId, `Budget reached: ${message}`);
    }
    return ended;
  }

  disputes(agreementId: string): Dispute[] {
    return this.#watched.get(agreementId)?.disputes ?? [];
  }

  /** GLM accepted for the agreement so far. */
  accepted(agreementId: string): string {
    return formatUnits(this.ledger.agreements.get(agreementId) ?? 0n);
  }

  /** Follows the node's debit note events from now on (only this run's agreements are touched). */
  start(): void {
    let after = new Date().toISOString();
    const { api } = this.#options;
    this.#budgetTimer = setInterval(() => this.checkBudget(), 1000);
    this.#loop = (async () => {
      while (!this.#stopped) {
        try {
          const events = await api.get<{ debitNoteId: string; eventType: string; eventDate: string }[]>(
            `/payment-api/v1/debitNoteEvents?timeout=2&afterTimestamp=${encodeURIComponent(after)}`,
            { signal: this.#polling.signal },
          );
          for (const event of events) {
            after = event.eventDate;
            if (event.eventType === 'DebitNoteReceivedEvent') await this.debitNote(event.debitNoteId);
          }
        } catch {
          if (!this.#stopped) await sleep(1000);
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#budgetTimer);
    this.#polling.abort();
    await this.#loop;
  }

  /** Audits one debit note (once) and accepts it, or disputes or refuses it. */
  async debitNote(debitNoteId: string): Promise<void> {
    if (this.#handled.has(debitNoteId)) return;
    const note = await this.#options.api.get<DebitNote>(`/payment-api/v1/debitNotes/${debitNoteId}`);
    const watched = this.#watched.get(note.agreementId);
    if (watched === undefined) return; // another session's agreement: not ours to judge
    this.#handled.add(debitNoteId);
    try {
      await this.#serial(watched, () => this.#onDebitNote(watched, note));
    } catch (error) {
      this.#handled.delete(debitNoteId); // not decided (the daemon did not answer): looked at again later
      throw error;
    }
  }

  /** Debit notes of the agreement this run has not looked at yet (an event may trail the invoice). */
  async catchUp(agreementId: string): Promise<void> {
    const notes = await this.#options.api
      .get<DebitNote[]>('/payment-api/v1/debitNotes')
      .catch(() => [] as DebitNote[]);
    for (const note of notes)
      if (note.agreementId === agreementId && note.status === 'RECEIVED')
        await this.debitNote(note.debitNoteId);
  }

  /** Audits the agreement's invoice and accepts or rejects it. */
  async invoice(invoice: Invoice): Promise<InvoiceOutcome> {
    const watched = this.#watched.get(invoice.agreementId);
    if (watched === undefined) return 'UNACCEPTED';
    await this.catchUp(invoice.agreementId);
    return this.#serial(watched, () => this.#onInvoice(watched, invoice));
  }

  /** Waits (until `deadline`) for the accepted debit notes of the agreement to be paid. */
  async paidDebitNotes(agreementId: string, deadline: number): Promise<void> {
    const watched = this.#watched.get(agreementId);
    for (const id of watched?.accepted ?? []) {
      for (;;) {
        const note = await this.#options.api.get<DebitNote>(`/payment-api/v1/debitNotes/${id}`);
        if (note.status === 'SETTLED' || Date.now() >= deadline) break;
        await sleep(500);
      }
    }
  }

  #serial<T>(watched: Watched, work: () => Promise<T>): Promise<T> {
    const next = watched.queue.then(work, work);
    watched.queue = next.catch(() => undefined);
    return next;
  }

  async #onDebitNote(watched: Watched, note: DebitNote): Promise<void> {
    const { api, progress, allocationId } = this.#options;
    const verdict = auditDebitNote(watched.terms, note, this.ledger, Date.now());
    if (verdict.kind === 'accept') {
      await api.post(`/payment-api/v1/debitNotes/${note.debitNoteId}/accept`, {
        totalAmountAccepted: note.totalAmountDue,
        allocationId,
      });
      book(this.ledger, watched.terms, verdict, note.activityId);
      watched.accepted.add(note.debitNoteId);
      return;
    }
    if (verdict.kind === 'refuse') {
      progress(`payment: debit note ${note.debitNoteId} of ${watched.name} not accepted: ${verdict.message}`);
      this.#options.onBreach(note.agreementId, `Debit note not accepted: ${verdict.message}`);
      return;
    }
    const rejection: Rejection = {
      rejectionReason: verdict.reason,
      totalAmountAccepted: formatUnits(this.ledger.activities.get(note.activityId) ?? 0n),
      message: verdict.message,
    };
    let rejected = true;
    try {
      await api.post(`/payment-api/v1/debitNotes/${note.debitNoteId}/reject`, rejection);
    } catch (error) {
      // yagna (and this daemon) answer 501: the note stays unaccepted, the dispute is ours to keep.
      if (statusOf(error) !== 501) throw error;
      rejected = false;
    }
    this.#dispute(watched, 'debitNote', note.debitNoteId, verdict, rejected);
    this.#options.onBreach(note.agreementId, `Payment dispute: ${verdict.message}`);
  }

  async #onInvoice(watched: Watched, invoice: Invoice): Promise<InvoiceOutcome> {
    const { api, allocationId, progress } = this.#options;
    if (invoice.status !== 'RECEIVED') return invoice.status === 'REJECTED' ? 'REJECTED' : 'ACCEPTED';
    // The last usage this node read for each activity justifies its price too (a provider need not send notes).
    for (const activityId of watched.activities) {
      const usage = await api
        .get<{ currentUsage: unknown }>(`/activity-api/v1/activity/${activityId}/usage`)
        .catch(() => undefined);
      const price = usagePrice(watched.terms, usage?.currentUsage, Date.now());
      if (price !== undefined) justify(this.ledger, activityId, price);
    }
    const verdict = auditInvoice(watched.terms, invoice, this.ledger, watched.activities);
    if (verdict.kind === 'accept') {
      await api.post(`/payment-api/v1/invoices/${invoice.invoiceId}/accept`, {
        totalAmountAccepted: invoice.amount,
        allocationId,
      });
      book(this.ledger, watched.terms, verdict);
      return 'ACCEPTED';
    }
    if (verdict.kind === 'refuse') {
      progress(`payment: invoice ${invoice.invoiceId} of ${watched.name} not accepted: ${verdict.message}`);
      return 'UNACCEPTED';
    }
    const rejection: Rejection = {
      rejectionReason: verdict.reason,
      totalAmountAccepted: formatUnits(verdict.allowed),
      message: verdict.message,
    };
    await api.post(`/payment-api/v1/invoices/${invoice.invoiceId}/reject`, rejection);
    this.#dispute(watched, 'invoice', invoice.invoiceId, verdict, true);
    return 'REJECTED';
  }

  #dispute(
    watched: Watched,
    document: Dispute['document'],
    documentId: string,
    verdict: { reason: Rejection['rejectionReason']; message: string; claimed: bigint; allowed: bigint },
    rejected: boolean,
  ): void {
    watched.disputes.push({
      document,
      documentId,
      reason: verdict.reason,
      message: verdict.message,
      claimed: formatUnits(verdict.claimed),
      allowed: formatUnits(verdict.allowed),
      rejected,
    });
    this.#options.progress(
      `payment: DISPUTE with ${watched.name}: ${verdict.message}; ${rejected ? `rejected (${verdict.reason})` : 'not accepted (the daemon cannot reject debit notes)'}`,
    );
  }
}
