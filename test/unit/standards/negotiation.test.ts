import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decimal, flattenProperties, Version } from '../../../src/language/index.ts';
import { sameValue, unconfirmedNegotiables } from '../../../src/standards/index.ts';
import { golemJsCounterJson, golemJsDemandJson, vmOfferJson } from './fixtures.ts';

describe('unconfirmedNegotiables', () => {
  it('lists the negotiables the counter-proposal left out or answered differently, with both values', () => {
    const mine = {
      'golem.com.payment.debit-notes.accept-timeout?': 120,
      'golem.com.scheme.payu.payment-timeout-sec?': 600,
      'golem.com.scheme.payu.debit-note.interval-sec?': 120,
      'golem.inf.mem.gib': 2,
    };
    const theirs = {
      'golem.com.payment.debit-notes.accept-timeout?': 240,
      'golem.com.scheme.payu.debit-note.interval-sec?': 120,
      'golem.inf.mem.gib': 8,
    };
    assert.deepEqual(unconfirmedNegotiables(mine, theirs), [
      {
        key: 'golem.com.payment.debit-notes.accept-timeout?',
        proposed: 120,
        answered: 240,
        reason: 'different',
      },
      {
        key: 'golem.com.scheme.payu.payment-timeout-sec?',
        proposed: 600,
        answered: undefined,
        reason: 'absent',
      },
    ]);
  });

  it('a counter that repeats every negotiable confirms them all; facts never need confirming', () => {
    const mine = { 'golem.com.payment.debit-notes.accept-timeout?': 120, 'golem.inf.mem.gib': 2 };
    assert.deepEqual(unconfirmedNegotiables(mine, { ...mine, 'golem.inf.mem.gib': 4 }), []);
    assert.deepEqual(unconfirmedNegotiables({ 'golem.inf.mem.gib': 2 }, {}), []);
  });

  it('negotiables outside the catalog follow the same ? convention', () => {
    assert.deepEqual(unconfirmedNegotiables({ 'my.app.mode?': 'fast' }, { 'my.app.mode?': 'slow' }), [
      { key: 'my.app.mode?', proposed: 'fast', answered: 'slow', reason: 'different' },
    ]);
  });

  it('a yagna provider facing golem-js: the provider finds its payment timeout answered with 43200', () => {
    const offer = flattenProperties(vmOfferJson);
    const counter = flattenProperties(golemJsCounterJson);
    assert.deepEqual(unconfirmedNegotiables(offer, counter), [
      {
        key: 'golem.com.payment.debit-notes.accept-timeout?',
        proposed: 240,
        answered: 120,
        reason: 'different',
      },
      {
        key: 'golem.com.scheme.payu.payment-timeout-sec?',
        proposed: 120,
        answered: 43200,
        reason: 'different',
      },
    ]);
    // The requestor's view of the provider's answer, which repeats the requestor's values.
    const demand = flattenProperties(golemJsDemandJson);
    assert.deepEqual(unconfirmedNegotiables(demand, { ...offer, ...demand }), []);
  });

  it('values compare by what they state: 120, 120.0 and d"120" agree; list order matters', () => {
    assert.equal(sameValue(120, 120.0), true);
    assert.equal(sameValue(120, Decimal.parse('120.00')!), true);
    assert.equal(sameValue(Decimal.parse('0.1')!, 0.1), true);
    assert.equal(sameValue(120, '120'), false);
    assert.equal(sameValue(Version.parse('1.2')!, Version.parse('1.2.0')!), true);
    assert.equal(sameValue(['a', 'b'], ['a', 'b']), true);
    assert.equal(sameValue(['a', 'b'], ['b', 'a']), false);
    assert.equal(sameValue(null, null), true);
    assert.equal(sameValue(null, undefined), false);
    assert.deepEqual(unconfirmedNegotiables({ 'x.rate?': Decimal.parse('1.50')! }, { 'x.rate?': 1.5 }), []);
  });
});
