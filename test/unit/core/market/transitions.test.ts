/** The agreement state machine on its own: one table decides every move, each a compare-and-set. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Notifier } from '../../../../src/core/api/index.ts';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { migrate, openDatabase } from '../../../../src/core/db/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { AgreementStore } from '../../../../src/core/market/agreements.ts';
import { AGREEMENT_TRANSITIONS, marketMigrations } from '../../../../src/core/market/index.ts';
import {
  AGREEMENT_EVENTS_TOPIC,
  type AgreementContent,
  type AgreementEvent,
  type AgreementState,
} from '../../../../src/core/model/market.ts';

const STATES = Object.keys(AGREEMENT_TRANSITIONS) as AgreementState[];

function setup(now = () => new Date().toISOString()) {
  const db = openDatabase(':memory:');
  migrate(db, marketMigrations);
  const bus = new LocalBus();
  const published: AgreementEvent[] = [];
  bus.subscribe<AgreementEvent>(AGREEMENT_EVENTS_TOPIC, (event) => {
    published.push(event);
  });
  const store = new AgreementStore({
    db,
    bus,
    notifier: new Notifier(),
    logger: silentLogger,
    now,
  });
  let n = 0;
  const make = (state: AgreementState, role: 'requestor' | 'provider') => {
    const agreementId = (++n).toString(16).padStart(64, '0');
    const content: AgreementContent = {
      agreementId,
      demand: { demandId: 'd', requestorId: '0xr', properties: {}, constraints: '()' },
      offer: { offerId: 'o', providerId: '0xp', properties: {}, constraints: '()' },
      proposalId: 'p',
      validTo: new Date(Date.now() + 60_000).toISOString(),
      createdAt: new Date().toISOString(),
    };
    store.insert(content, role, role === 'requestor' ? '0xr' : '0xp', state);
    return store.get(agreementId, role)!;
  };
  return { store, make, published };
}

describe('the agreement event cursor', () => {
  it('gives events stored in one millisecond distinct dates, so polling by the last date skips none', () => {
    const { store, make } = setup(() => '2026-01-01T00:00:00.000Z');
    const terminated = [1, 2, 3, 4, 5].map(
      (n) => store.transition(make('Approved', 'requestor'), 'Terminated', 'terminate', { reason: { n } }).id,
    );
    const first = store.events('0xr', '1970-01-01T00:00:00.000Z', 2);
    assert.equal(first.length, 2);
    const rest = store.events('0xr', first.at(-1)!.eventDate as string, 10);
    assert.deepEqual(
      [...first, ...rest].map((event) => event.agreementId),
      terminated,
    );
    const dates = new Set([...first, ...rest].map((event) => event.eventDate));
    assert.equal(dates.size, 5);
  });
});

describe('the agreement transition table', () => {
  it('allows exactly the moves in the table, for the sides it names', () => {
    const { store, make } = setup();
    for (const from of STATES)
      for (const to of STATES)
        for (const role of ['requestor', 'provider'] as const) {
          const agreement = make(from, role);
          const allowed = AGREEMENT_TRANSITIONS[from][to]?.includes(role) === true;
          if (allowed) {
            assert.equal(store.transition(agreement, to, 'test').state, to, `${role} ${from} → ${to}`);
            assert.equal(store.get(agreement.id, role)!.state, to);
          } else {
            assert.throws(() => store.transition(agreement, to, 'test'), { code: 'MARKET_AGREEMENT_STATE' });
            assert.equal(store.get(agreement.id, role)!.state, from, `${role} ${from} → ${to} refused`);
          }
        }
  });

  it('refuses a move from a state the agreement has left (compare-and-set), with the state found', () => {
    const { store, make, published } = setup();
    const pending = make('Pending', 'provider');
    store.transition(pending, 'Rejected', 'reject', { reason: { message: 'no' } });
    // `pending` is now stale: approving from it must not overwrite the rejection.
    assert.throws(() => store.transition(pending, 'Approving', 'approve'), {
      code: 'MARKET_AGREEMENT_STATE',
      httpStatus: 410,
      details: { state: 'Rejected' },
    });
    assert.equal(store.get(pending.id, 'provider')!.state, 'Rejected');
    assert.deepEqual(
      published.map((e) => [e.type, e.role, 'reason' in e ? e.reason : undefined]),
      [['rejected', 'provider', { message: 'no' }]],
      'one event, from the move that happened',
    );
  });
});
