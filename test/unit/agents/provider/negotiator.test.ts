import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_NEGOTIATION,
  type NegotiationInput,
  negotiate,
} from '../../../../src/agents/provider/index.ts';

const NOW = 1_800_000_000_000;
const OFFER = {
  properties: {
    'golem.runtime.name': 'wasmtime',
    'golem.node.debug.subnet': 'public',
    'golem.com.pricing.model.linear.coeffs': [0.001, 0.0002, 0.01],
    'golem.com.usage.vector': ['golem.usage.cpu_sec', 'golem.usage.duration_sec'],
    'golem.com.payment.debit-notes.accept-timeout?': 240,
    'golem.com.scheme.payu.debit-note.interval-sec?': 120,
    'golem.com.scheme.payu.payment-timeout-sec?': 120,
  },
  constraints: `(&(golem.srv.comp.expiration>${NOW})(golem.node.debug.subnet=public))`,
};

function input(demand: Record<string, unknown>, overrides: Partial<NegotiationInput> = {}): NegotiationInput {
  return {
    demand: {
      properties: {
        'golem.node.debug.subnet': 'public',
        'golem.srv.comp.expiration': NOW + 3_600_000,
        ...demand,
      },
      constraints: '(golem.runtime.name=wasmtime)',
      requestorId: '0xAAaa000000000000000000000000000000000001',
    },
    offer: OFFER,
    settings: DEFAULT_NEGOTIATION,
    agreementsHeld: 0,
    now: NOW,
    ...overrides,
  };
}

const GOLEM_JS_TERMS = {
  'golem.com.payment.debit-notes.accept-timeout?': 240,
  'golem.com.scheme.payu.debit-note.interval-sec?': 120,
  'golem.com.scheme.payu.payment-timeout-sec?': 120,
};

describe('negotiator', () => {
  it('is ready when the demand confirms every negotiable term', () => {
    assert.deepEqual(negotiate(input(GOLEM_JS_TERMS)), { kind: 'ready' });
  });

  it('counters, adopting shorter deadlines and intervals the demand asks for', () => {
    const verdict = negotiate(
      input({
        'golem.com.payment.debit-notes.accept-timeout?': 30,
        'golem.com.scheme.payu.debit-note.interval-sec?': 10,
        'golem.com.scheme.payu.payment-timeout-sec?': 60,
      }),
    );
    assert.equal(verdict.kind, 'counter');
    assert.ok(verdict.kind === 'counter');
    assert.equal(verdict.properties['golem.com.payment.debit-notes.accept-timeout?'], 30);
    assert.equal(verdict.properties['golem.com.scheme.payu.debit-note.interval-sec?'], 10);
    assert.equal(verdict.properties['golem.com.scheme.payu.payment-timeout-sec?'], 60);
  });

  it('counters (never accepts silently) a negotiable term the demand leaves out', () => {
    const verdict = negotiate(input({ 'golem.com.payment.debit-notes.accept-timeout?': 240 }));
    assert.equal(verdict.kind, 'counter');
    assert.ok(verdict.kind === 'counter');
    assert.equal('golem.com.scheme.payu.debit-note.interval-sec?' in verdict.properties, false);
    // The counter is then confirmed by the same demand: ready.
    const again = negotiate({
      ...input({ 'golem.com.payment.debit-notes.accept-timeout?': 240 }),
      offer: { ...OFFER, properties: verdict.properties },
    });
    assert.deepEqual(again, { kind: 'ready' });
  });

  it('never takes a negotiable term of its own as agreed when the demand states another value', () => {
    const offer = { ...OFFER, properties: { ...OFFER.properties, 'golem.srv.caps.x-custom?': 1 } };
    const verdict = negotiate({ ...input({ ...GOLEM_JS_TERMS, 'golem.srv.caps.x-custom?': 2 }), offer });
    assert.equal(verdict.kind, 'counter');
    assert.ok(verdict.kind === 'counter' && verdict.changed.includes('golem.srv.caps.x-custom?'));
    const confirmed = negotiate({ ...input({ ...GOLEM_JS_TERMS, 'golem.srv.caps.x-custom?': 1 }), offer });
    assert.deepEqual(confirmed, { kind: 'ready' });
  });

  it('rejects an acceptance timeout longer than ours or under 5 s, finally', () => {
    for (const value of [241, 4]) {
      const verdict = negotiate(
        input({ ...GOLEM_JS_TERMS, 'golem.com.payment.debit-notes.accept-timeout?': value }),
      );
      assert.equal(verdict.kind, 'reject', String(value));
      assert.ok(verdict.kind === 'reject' && verdict.final);
    }
  });

  it('says why when capacity is full (not final: a slot may free up)', () => {
    const verdict = negotiate(input(GOLEM_JS_TERMS, { agreementsHeld: 1 }));
    assert.deepEqual(verdict, {
      kind: 'reject',
      message: 'No capacity available. Reached Agreements limit: 1',
      final: false,
    });
  });

  it('refuses agreements that expire too soon (final) or too late (not final)', () => {
    const soon = negotiate(input({ ...GOLEM_JS_TERMS, 'golem.srv.comp.expiration': NOW + 60_000 }));
    assert.ok(soon.kind === 'reject' && soon.final && /sooner than the minimum/.test(soon.message));
    const late = negotiate(input({ 'golem.srv.comp.expiration': NOW + 2 * 3_600_000 }));
    assert.ok(late.kind === 'reject' && !late.final && /later than the maximum/.test(late.message));
    const missing = negotiate(input({ ...GOLEM_JS_TERMS, 'golem.srv.comp.expiration': undefined }));
    assert.equal(missing.kind, 'reject');
  });

  it('requires a payment timeout for agreements of 10 h or more', () => {
    const { 'golem.com.scheme.payu.payment-timeout-sec?': _, ...withoutPayment } = GOLEM_JS_TERMS;
    const long = negotiate(input({ ...withoutPayment, 'golem.srv.comp.expiration': NOW + 11 * 3_600_000 }));
    assert.ok(long.kind === 'reject' && /need a payment timeout/.test(long.message));
    const short = negotiate(input(withoutPayment));
    assert.equal(short.kind, 'counter');
  });

  it('blocks listed nodes and, with an allow list, everyone else', () => {
    const blocked = negotiate(
      input(GOLEM_JS_TERMS, {
        settings: { ...DEFAULT_NEGOTIATION, blockedNodes: ['0xaaaa000000000000000000000000000000000001'] },
      }),
    );
    assert.ok(blocked.kind === 'reject' && blocked.final && /blocked/.test(blocked.message));
    const notAllowed = negotiate(
      input(GOLEM_JS_TERMS, { settings: { ...DEFAULT_NEGOTIATION, allowedNodes: ['0xbbbb'] } }),
    );
    assert.ok(notAllowed.kind === 'reject' && /allow list/.test(notAllowed.message));
  });

  it('takes higher prices, refuses lower ones', () => {
    const higher = negotiate(
      input({ ...GOLEM_JS_TERMS, 'golem.com.pricing.model.linear.coeffs': [0.002, 0.0002, 0.01] }),
    );
    assert.ok(higher.kind === 'counter');
    assert.deepEqual(higher.properties['golem.com.pricing.model.linear.coeffs'], [0.002, 0.0002, 0.01]);
    const lower = negotiate(
      input({ ...GOLEM_JS_TERMS, 'golem.com.pricing.model.linear.coeffs': [0.0001, 0.0002, 0.01] }),
    );
    assert.ok(lower.kind === 'reject' && lower.final);
  });

  it('refuses a demand whose constraints the offer does not satisfy', () => {
    const verdict = negotiate({
      ...input(GOLEM_JS_TERMS),
      demand: { ...input(GOLEM_JS_TERMS).demand, constraints: '(golem.runtime.name=vm)' },
    });
    assert.ok(verdict.kind === 'reject' && /constraints/.test(verdict.message));
  });
});
