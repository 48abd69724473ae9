/**
 * What a careful requestor checks before it pays: a debit note or an invoice against what was agreed. Pure
 * functions over the agreement's terms and what this run already accepted, so every rule is unit-tested apart from
 * the network.
 *
 * - The price: a document may ask at most the linear price (the offer's coefficients, in the order of its usage
 *   vector, start price last) of the usage counters it reports; an invoice at most what the audited debit notes and
 *   the activities' last usage come to.
 * - The counters: no activity runs longer than the agreement has existed (measured by this node's clock), and no
 *   CPU counter exceeds that time on the threads offered; a counter that is negative or not a number is refused.
 * - The payment terms: a payable debit note (`paymentDueDate`) needs the negotiated payment timeout, and may not
 *   be due sooner than that timeout after it was issued.
 * - The budget: what this run accepted plus the document's increase stays within the budget (this one is not the
 *   provider's fault, so it is no dispute: the document is left unaccepted and the work stops).
 */
import type { DebitNote, Invoice, Rejection } from '../../core/model/payment.ts';
import { formatUnits, linearCost, toUnits } from '../provider/money.ts';

const COEFFS = 'golem.com.pricing.model.linear.coeffs';
const USAGE_VECTOR = 'golem.com.usage.vector';
const THREADS = 'golem.inf.cpu.threads';
const PAYMENT_TIMEOUT = 'golem.com.scheme.payu.payment-timeout-sec?';
const DURATION = 'golem.usage.duration_sec';
const CPU = 'golem.usage.cpu_sec';
/** Clock skew and report lag allowed between the provider's counters and this node's clock. */
const SLACK_S = 5;
/** Rounding allowed on a price (a provider may compute it in floating point): 10^-12 GLM. */
const PRICE_SLACK = 1_000_000n;

/** The terms of one agreement, as read from the agreement (offer properties) and this node's clock. */
export interface AgreedTerms {
  agreementId: string;
  providerId: string;
  coeffs: (number | string)[];
  usageVector: string[];
  threads: number;
  /** When the agreement was approved (ms, this node's clock). */
  approvedAt: number;
  paymentTimeoutS: number | undefined;
}

export function termsOf(agreement: {
  agreementId: string;
  offer: { providerId: string; properties: unknown };
  approvedDate?: string | null;
  timestamp?: string;
}): AgreedTerms {
  const p = flatten(agreement.offer.properties);
  const coeffs = Array.isArray(p[COEFFS]) ? (p[COEFFS] as (number | string)[]) : [];
  const usageVector = Array.isArray(p[USAGE_VECTOR]) ? (p[USAGE_VECTOR] as string[]).map(String) : [];
  const threads = Number(p[THREADS]);
  const timeout = Number(p[PAYMENT_TIMEOUT]);
  // The earliest time this node knows for the agreement bounds how long any of its activities can have run.
  const known = [agreement.timestamp, agreement.approvedDate]
    .map((date) => Date.parse(date ?? ''))
    .filter(Number.isFinite);
  const approved = known.length > 0 ? Math.min(...known) : Number.NaN;
  return {
    agreementId: agreement.agreementId,
    providerId: agreement.offer.providerId.toLowerCase(),
    coeffs,
    usageVector,
    threads: Number.isFinite(threads) && threads >= 1 ? threads : 1,
    approvedAt: Number.isFinite(approved) ? approved : Date.now(),
    paymentTimeoutS: Number.isFinite(timeout) && timeout > 0 ? timeout : undefined,
  };
}

/** Properties arrive flat (`a.b.c`) or nested (`{a: {b: {c}}}`); the checks read them flat. */
function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    if (prefix !== '') out[prefix] = value;
    return out;
  }
  for (const [key, inner] of Object.entries(value as Record<string, unknown>))
    flatten(inner, prefix === '' ? key : `${prefix}.${key}`, out);
  return out;
}

/** What this run accepted so far (10^-18 GLM): per activity (debit notes are cumulative), per agreement, in all. */
export interface Ledger {
  budget: bigint;
  total: bigint;
  agreements: Map<string, bigint>;
  activities: Map<string, bigint>;
  /** Per activity, the highest amount an audited document (or its usage) justified. */
  justified: Map<string, bigint>;
}

export function newLedger(budgetGlm: number | string): Ledger {
  return {
    budget: toUnits(budgetGlm),
    total: 0n,
    agreements: new Map(),
    activities: new Map(),
    justified: new Map(),
  };
}

export type Verdict =
  | { kind: 'accept'; amount: bigint; increase: bigint }
  /** The provider asks more than agreed or breaks the terms: a payment dispute. */
  | {
      kind: 'dispute';
      reason: Rejection['rejectionReason'];
      message: string;
      claimed: bigint;
      allowed: bigint;
    }
  /** Within the terms but beyond the budget (or below what was accepted): left unaccepted, no dispute. */
  | { kind: 'refuse'; message: string; claimed: bigint };

/** The usage counters a document reports: an array of finite, non-negative numbers no longer than the vector. */
function counters(terms: AgreedTerms, usage: unknown): number[] | string {
  if (usage === undefined || usage === null) return [];
  if (!Array.isArray(usage) || usage.length > terms.usageVector.length)
    return `the usage counters ${JSON.stringify(usage)} do not fit the agreed usage vector ${JSON.stringify(terms.usageVector)}`;
  for (const value of usage)
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      return `the usage counter ${JSON.stringify(value)} is not a non-negative number`;
  return usage as number[];
}

/** Counters no activity of this agreement could have reached by `now`: the reason, or undefined. */
function implausible(terms: AgreedTerms, usage: number[], now: number): string | undefined {
  const lived = Math.max(0, (now - terms.approvedAt) / 1000) + SLACK_S;
  for (let i = 0; i < usage.length; i++) {
    const name = terms.usageVector[i];
    const limit = name === DURATION ? lived : name === CPU ? lived * terms.threads : undefined;
    if (limit !== undefined && usage[i]! > limit)
      return `${name} ${usage[i]} exceeds the ${limit.toFixed(0)} s the agreement could have run`;
  }
  return undefined;
}

const glm = (units: bigint) => `${formatUnits(units)} GLM`;

function parseAmount(text: string): bigint | undefined {
  try {
    const value = toUnits(text);
    return value < 0n ? undefined : value;
  } catch {
    return undefined;
  }
}

/** A debit note: cumulative for its activity, priced by the counters it reports, payable only as agreed. */
export function auditDebitNote(terms: AgreedTerms, note: DebitNote, ledger: Ledger, now: number): Verdict {
  const claimed = parseAmount(note.totalAmountDue);
  if (claimed === undefined)
    return {
      kind: 'dispute',
      reason: 'INCORRECT_AMOUNT',
      message: `debit note ${note.debitNoteId}: ${JSON.stringify(note.totalAmountDue)} is not an amount`,
      claimed: 0n,
      allowed: 0n,
    };
  const dispute = (reason: Rejection['rejectionReason'], why: string, allowed: bigint): Verdict => ({
    kind: 'dispute',
    reason,
    message: `debit note ${note.debitNoteId}: ${why}`,
    claimed,
    allowed,
  });
  const accepted = ledger.activities.get(note.activityId) ?? 0n;
  const usage = counters(terms, note.usageCounterVector);
  if (typeof usage === 'string') return dispute('INCORRECT_AMOUNT', usage, accepted);
  const tooMuch = implausible(terms, usage, now);
  if (tooMuch !== undefined) return dispute('INCORRECT_AMOUNT', tooMuch, accepted);
  const price = linearCost(terms.coeffs, usage);
  if (claimed > price + PRICE_SLACK)
    return dispute(
      'INCORRECT_AMOUNT',
      `asks ${glm(claimed)}, the agreed price of its usage ${JSON.stringify(usage)} is ${glm(price)}`,
      price,
    );
  if (note.paymentDueDate !== undefined && note.paymentDueDate !== null) {
    if (terms.paymentTimeoutS === undefined)
      return dispute('BAD_SERVICE', 'asks for payment before the invoice, which was not agreed', price);
    const due = Date.parse(note.paymentDueDate);
    const issued = Date.parse(note.timestamp);
    if (!Number.isFinite(due) || due < issued + (terms.paymentTimeoutS - SLACK_S) * 1000)
      return dispute(
        'BAD_SERVICE',
        `due ${note.paymentDueDate}, sooner than the agreed ${terms.paymentTimeoutS} s after it was issued`,
        price,
      );
  }
  return withinBudget(ledger, claimed, accepted, 'the activity');
}

/** A document within the terms: accepted if it does not go below what was accepted nor beyond the budget. */
function withinBudget(ledger: Ledger, claimed: bigint, accepted: bigint, scope: string): Verdict {
  if (claimed < accepted)
    return { kind: 'refuse', message: `below the ${glm(accepted)} already accepted for ${scope}`, claimed };
  const increase = claimed - accepted;
  if (ledger.total + increase > ledger.budget)
    return {
      kind: 'refuse',
      message: `accepting ${glm(claimed)} would take the run to ${glm(ledger.total + increase)}, above the budget of ${glm(ledger.budget)}`,
      claimed,
    };
  return { kind: 'accept', amount: claimed, increase };
}

/**
 * An invoice: only activities of its agreement that this run created, at most what each is justified to cost (the
 * highest audited debit note, or the price of the last usage this node read for it), within the budget.
 */
export function auditInvoice(
  terms: AgreedTerms,
  invoice: Invoice,
  ledger: Ledger,
  ownActivities: ReadonlySet<string>,
): Verdict {
  const claimed = parseAmount(invoice.amount);
  const allowed = invoice.activityIds.reduce(
    (sum, id) => sum + (ownActivities.has(id) ? (ledger.justified.get(id) ?? 0n) : 0n),
    0n,
  );
  if (claimed === undefined)
    return {
      kind: 'dispute',
      reason: 'INCORRECT_AMOUNT',
      message: `invoice ${invoice.invoiceId}: ${JSON.stringify(invoice.amount)} is not an amount`,
      claimed: 0n,
      allowed,
    };
  const foreign = invoice.activityIds.filter((id) => !ownActivities.has(id));
  if (foreign.length > 0)
    return {
      kind: 'dispute',
      reason: 'UNSOLICITED_SERVICE',
      message: `invoice ${invoice.invoiceId}: activities ${foreign.join(', ')} were not created by this requestor`,
      claimed,
      allowed,
    };
  if (claimed > allowed + PRICE_SLACK)
    return {
      kind: 'dispute',
      reason: 'INCORRECT_AMOUNT',
      message: `invoice ${invoice.invoiceId}: asks ${glm(claimed)}, the agreed price of the usage is ${glm(allowed)}`,
      claimed,
      allowed,
    };
  return withinBudget(ledger, claimed, ledger.agreements.get(terms.agreementId) ?? 0n, 'the agreement');
}

/** The price the last usage counters read for an activity justify (they are checked like a debit note's). */
export function usagePrice(terms: AgreedTerms, usage: unknown, now: number): bigint | undefined {
  const parsed = counters(terms, usage);
  if (typeof parsed === 'string' || implausible(terms, parsed, now) !== undefined) return undefined;
  return linearCost(terms.coeffs, parsed);
}

/**
 * The most an activity can have cost after `elapsedS` seconds: the price of the counters at their bounds (duration
 * the time elapsed, CPU that on every thread offered; counters that cannot be bounded count 0).
 */
export function worstCase(terms: AgreedTerms, elapsedS: number): bigint {
  const lived = Math.max(0, elapsedS) + SLACK_S;
  const usage = terms.usageVector.map((name) =>
    name === DURATION ? lived : name === CPU ? lived * terms.threads : 0,
  );
  return linearCost(terms.coeffs, usage);
}

/** Books an accepted document into the ledger. */
export function book(
  ledger: Ledger,
  terms: AgreedTerms,
  verdict: { amount: bigint; increase: bigint },
  activityId?: string,
): void {
  ledger.total += verdict.increase;
  ledger.agreements.set(
    terms.agreementId,
    (ledger.agreements.get(terms.agreementId) ?? 0n) + verdict.increase,
  );
  if (activityId !== undefined) {
    ledger.activities.set(activityId, verdict.amount);
    justify(ledger, activityId, verdict.amount);
  }
}

/** Raises what an activity is justified to cost (never lowers it). */
export function justify(ledger: Ledger, activityId: string, amount: bigint): void {
  if (amount > (ledger.justified.get(activityId) ?? 0n)) ledger.justified.set(activityId, amount);
}

export { formatUnits };
