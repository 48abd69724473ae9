/** The requestor's audit of debit notes and invoices against the agreement's terms, its ledger and the budget. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RestClient } from '../../../../src/agents/requestor/api.ts';
import {
  type AgreedTerms,
  auditDebitNote,
  auditInvoice,
  book,
  justify,
  newLedger,
  termsOf,
  usagePrice,
  worstCase,
} from '../../../../src/agents/requestor/audit.ts';
import { PaymentGuard } from '../../../../src/agents/requestor/payments.ts';
import type { DebitNote, Invoice } from '../../../../src/core/model/payment.ts';

const GLM = 10n ** 18n;
const T0 = Date.parse('2026-12-02T12:00:00.000Z');

// duration 0.001 GLM/s, cpu 0.002 GLM/s, start 0.5 GLM; 2 threads; payment timeout 600 s.
const terms: AgreedTerms = termsOf({
  agreementId: 'agr-1',
  offer: {
    providerId: '0xABC',
    properties: {
      'golem.com.usage.vector': ['golem.usage.duration_sec', 'golem.usage.cpu_sec'],
      'golem.com.pricing.model.linear.coeffs': [0.001, 0.002, 0.5],
      'golem.inf.cpu.threads': 2,
      'golem.com.scheme.payu.payment-timeout-sec?': 600,
    },
  },
  timestamp: new Date(T0).toISOString(),
  approvedDate: new Date(T0 + 1000).toISOString(),
});

const note = (amount: string, usage: unknown, extra: Partial<DebitNote> = {}): DebitNote => ({
  debitNoteId: 'dn-1',
  issuerId: '0xabc',
  recipientId: '0xdef',
  payeeAddr: '0xabc',
  payerAddr: '0xdef',
  paymentPlatform: 'erc20-dev-tglm',
  timestamp: new Date(T0 + 60_000).toISOString(),
  agreementId: 'agr-1',
  activityId: 'act-1',
  totalAmountDue: amount,
  usageCounterVector: usage,
  status: 'RECEIVED',
  ...extra,
});

const invoice = (amount: string, activityIds = ['act-1']): Invoice => ({
  invoiceId: 'inv-1',
  issuerId: '0xabc',
  recipientId: '0xdef',
  payeeAddr: '0xabc',
  payerAddr: '0xdef',
  paymentPlatform: 'erc20-dev-tglm',
  timestamp: new Date(T0 + 70_000).toISOString(),
  agreementId: 'agr-1',
  activityIds,
  amount,
  paymentDueDate: new Date(T0 + 670_000).toISOString(),
  status: 'RECEIVED',
});

const at60s = T0 + 60_000;

describe('requestor audit', () => {
  it('reads the terms from the offer: coefficients, usage vector, threads, payment timeout, the earliest time', () => {
    assert.equal(terms.providerId, '0xabc');
    assert.equal(terms.threads, 2);
    assert.equal(terms.paymentTimeoutS, 600);
    assert.equal(terms.approvedAt, T0);
    // Nested properties read the same as flat ones.
    const nested = termsOf({
      agreementId: 'a',
      offer: { providerId: '0x1', properties: { golem: { inf: { cpu: { threads: 4 } } } } },
    });
    assert.equal(nested.threads, 4);
  });

  it('accepts a debit note at the linear price of its counters, and books it', () => {
    // 0.5 + 50 s × 0.001 + 60 cpu-s × 0.002 = 0.67
    const ledger = newLedger(1);
    const verdict = auditDebitNote(terms, note('0.67', [50, 60]), ledger, at60s);
    assert.equal(verdict.kind, 'accept');
    assert.ok(verdict.kind === 'accept');
    assert.equal(verdict.increase, (67n * GLM) / 100n);
    book(ledger, terms, verdict, 'act-1');
    assert.equal(ledger.total, (67n * GLM) / 100n);
    assert.equal(ledger.activities.get('act-1'), (67n * GLM) / 100n);
    // The next note is cumulative: only the increase counts.
    const next = auditDebitNote(terms, note('0.68', [60, 60]), ledger, at60s + 10_000);
    assert.ok(next.kind === 'accept');
    assert.equal(next.increase, GLM / 100n);
  });

  it('disputes a debit note above the price of its own counters', () => {
    const verdict = auditDebitNote(terms, note('0.6701', [50, 60]), newLedger(1), at60s);
    assert.equal(verdict.kind, 'dispute');
    assert.ok(verdict.kind === 'dispute');
    assert.equal(verdict.reason, 'INCORRECT_AMOUNT');
    assert.equal(verdict.allowed, (67n * GLM) / 100n);
    assert.match(verdict.message, /asks 0\.6701 GLM, the agreed price of its usage \[50,60\] is 0\.67 GLM/);
  });

  it('disputes counters no activity could have reached: longer than the agreement lived, CPU beyond its threads', () => {
    // 60 s after the agreement: 100 s of duration is impossible, so is 200 cpu-s on 2 threads.
    const long = auditDebitNote(terms, note('0.6', [100, 0]), newLedger(1), at60s);
    assert.ok(long.kind === 'dispute');
    assert.match(long.message, /golem\.usage\.duration_sec 100 exceeds/);
    const cpu = auditDebitNote(terms, note('0.6', [50, 200]), newLedger(1), at60s);
    assert.ok(cpu.kind === 'dispute');
    assert.match(cpu.message, /golem\.usage\.cpu_sec 200 exceeds/);
    for (const bad of [[-1, 0], ['1', 0], [1, 2, 3], 'x'])
      assert.equal(auditDebitNote(terms, note('0.5', bad), newLedger(1), at60s).kind, 'dispute', String(bad));
    // No counters: the start price at most.
    assert.equal(auditDebitNote(terms, note('0.5', undefined), newLedger(1), at60s).kind, 'accept');
    assert.equal(auditDebitNote(terms, note('0.51', undefined), newLedger(1), at60s).kind, 'dispute');
    assert.equal(auditDebitNote(terms, note('lots', [1, 1]), newLedger(1), at60s).kind, 'dispute');
  });

  it('holds debit notes to the payment terms: payable only when agreed, never due sooner than agreed', () => {
    const issued = T0 + 60_000;
    const due = (s: number) => ({ paymentDueDate: new Date(issued + s * 1000).toISOString() });
    assert.equal(auditDebitNote(terms, note('0.55', [50, 0], due(600)), newLedger(1), at60s).kind, 'accept');
    const soon = auditDebitNote(terms, note('0.55', [50, 0], due(30)), newLedger(1), at60s);
    assert.ok(soon.kind === 'dispute');
    assert.equal(soon.reason, 'BAD_SERVICE');
    const unagreed = auditDebitNote(
      { ...terms, paymentTimeoutS: undefined },
      note('0.55', [50, 0], due(600)),
      newLedger(1),
      at60s,
    );
    assert.ok(unagreed.kind === 'dispute');
    assert.match(unagreed.message, /not agreed/);
  });

  it('refuses, without a dispute, what would exceed the budget or go below what was accepted', () => {
    const ledger = newLedger('0.6');
    const over = auditDebitNote(terms, note('0.67', [50, 60]), ledger, at60s);
    assert.ok(over.kind === 'refuse');
    assert.match(over.message, /above the budget of 0\.6 GLM/);
    ledger.activities.set('act-1', GLM / 2n);
    assert.equal(auditDebitNote(terms, note('0.4', [0, 0]), ledger, at60s).kind, 'refuse');
  });

  it('accepts an invoice up to what the audited notes and the usage justify; disputes more, and foreign activities', () => {
    const ledger = newLedger(1);
    const accepted = auditDebitNote(terms, note('0.67', [50, 60]), ledger, at60s);
    assert.ok(accepted.kind === 'accept');
    book(ledger, terms, accepted, 'act-1');
    const own = new Set(['act-1']);
    const ok = auditInvoice(terms, invoice('0.67'), ledger, own);
    assert.ok(ok.kind === 'accept');
    assert.equal(ok.increase, 0n);
    const inflated = auditInvoice(terms, invoice('6.7'), ledger, own);
    assert.ok(inflated.kind === 'dispute');
    assert.equal(inflated.reason, 'INCORRECT_AMOUNT');
    assert.equal(inflated.allowed, (67n * GLM) / 100n);
    const foreign = auditInvoice(terms, invoice('0.67', ['act-1', 'act-9']), ledger, own);
    assert.ok(foreign.kind === 'dispute');
    assert.equal(foreign.reason, 'UNSOLICITED_SERVICE');
    // The last usage read for an activity justifies its price as well (a provider need not send debit notes).
    const fresh = newLedger(1);
    justify(fresh, 'act-1', usagePrice(terms, [50, 60], at60s)!);
    assert.equal(auditInvoice(terms, invoice('0.67'), fresh, own).kind, 'accept');
    assert.equal(usagePrice(terms, [500, 60], at60s), undefined);
    // Within the price but above the budget: refused, no dispute.
    const poor = newLedger('0.1');
    justify(poor, 'act-1', (67n * GLM) / 100n);
    assert.equal(auditInvoice(terms, invoice('0.67'), poor, own).kind, 'refuse');
  });

  it('bounds what a running activity can cost: duration the time elapsed, CPU that on every thread', () => {
    // 0.5 + (10+5) s × 0.001 + (10+5) s × 2 threads × 0.002 = 0.5 + 0.015 + 0.06
    assert.equal(worstCase(terms, 10), (575n * GLM) / 1000n);
  });

  it('ends the agreements still working once the run could cost more than the budget, once each', () => {
    const breaches: string[] = [];
    const guard = new PaymentGuard({
      api: {} as RestClient, // the budget watch makes no call of its own
      allocationId: 'alloc',
      budget: 1,
      progress: () => {},
      onBreach: (agreementId) => breaches.push(agreementId),
    });
    guard.watch(
      {
        agreementId: 'agr-1',
        offer: { providerId: '0xabc', properties: offerOf(terms) },
        timestamp: new Date().toISOString(),
      },
      'p1',
    );
    guard.addActivity('agr-1', 'act-1');
    const now = Date.now();
    // Worst case after s seconds: 0.5 + 0.005·(s+5): 0.85 at 65 s, 1.0 at 95 s.
    assert.equal(guard.checkBudget(now + 60_000), false);
    assert.deepEqual(breaches, []);
    assert.equal(guard.checkBudget(now + 100_000), true);
    assert.deepEqual(breaches, ['agr-1']);
    assert.equal(guard.checkBudget(now + 200_000), false, 'ended once');
    // Work that is over accrues nothing more.
    guard.agreementWorkEnded('agr-1');
    assert.equal(guard.checkBudget(now + 10_000_000), false);
  });
});

function offerOf(t: AgreedTerms): Record<string, unknown> {
  return {
    'golem.com.usage.vector': t.usageVector,
    'golem.com.pricing.model.linear.coeffs': t.coeffs,
    'golem.inf.cpu.threads': t.threads,
  };
}
