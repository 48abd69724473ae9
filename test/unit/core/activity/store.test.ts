/** Activity rows: compare-and-set state changes, Terminated is final, usage kept for reads after the end. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activityMigrations } from '../../../../src/core/activity/index.ts';
import { ActivityStore, isTerminated, usageOf } from '../../../../src/core/activity/store.ts';
import { migrate, openDatabase } from '../../../../src/core/db/index.ts';

function store(): ActivityStore {
  const db = openDatabase(':memory:');
  migrate(db, activityMigrations);
  const s = new ActivityStore(db);
  s.insert({
    activity_id: 'a1',
    role: 'provider',
    agreement_id: 'g1',
    requestor_id: '0xr',
    provider_id: '0xp',
    state: 'Initialized',
    pending: null,
    created_at: new Date().toISOString(),
  });
  return s;
}

describe('activity store', () => {
  it('changes state only from the state it was read in: of two writers from one read, one wins', () => {
    const s = store();
    const seenByBoth = s.require('a1', 'provider');
    assert.equal(
      s.compareAndSet(seenByBoth, { state: ['Initialized', 'Deployed'], reason: null, errorMessage: null }),
      true,
    );
    assert.equal(
      s.compareAndSet(seenByBoth, { state: ['Terminated', null], reason: 'late', errorMessage: null }),
      false,
    );
    assert.deepEqual([s.require('a1').state, s.require('a1').pending], ['Initialized', 'Deployed']);
  });

  it('keeps Terminated: a late report from the ExeUnit does not bring an ended activity back', () => {
    const s = store();
    const ended = s.transition('a1', 'provider', {
      state: ['Terminated', null],
      reason: 'destroyed',
      errorMessage: null,
    });
    assert.equal(ended.changed, true);
    const late = s.transition('a1', 'provider', { state: ['Ready', null], reason: null, errorMessage: null });
    assert.equal(late.changed, false);
    assert.ok(isTerminated(s.require('a1', 'provider')));
    assert.equal(s.require('a1', 'provider').reason, 'destroyed');
    assert.deepEqual(s.alive('provider'), []);
  });

  it('keeps the last usage for reads after the end', () => {
    const s = store();
    assert.equal(usageOf(s.require('a1')).currentUsage, null);
    s.setUsage('a1', 'provider', { currentUsage: [1.5, 0.25], timestamp: 1700000000 });
    assert.deepEqual(usageOf(s.require('a1')), { currentUsage: [1.5, 0.25], timestamp: 1700000000 });
  });
});
