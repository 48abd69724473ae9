/** How soon the transaction manager looks again: quickly right after a broadcast, at its tick otherwise. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextPassInMs } from '../../../../../src/core/payment/erc20/manager.ts';

describe('transaction manager pass schedule', () => {
  const tick = 1_000;
  it('looks for the receipt within 100 ms for two seconds after a broadcast', () => {
    assert.equal(nextPassInMs(10_000, 10_000, tick), 100);
    assert.equal(nextPassInMs(11_999, 10_000, tick), 100);
  });
  it('goes back to the tick after that, and before any broadcast', () => {
    assert.equal(nextPassInMs(12_000, 10_000, tick), tick);
    assert.equal(nextPassInMs(10_000, Number.NEGATIVE_INFINITY, tick), tick);
  });
  it('never waits longer than the tick, and a clock that went back is no reason to hurry', () => {
    assert.equal(nextPassInMs(10_000, 10_000, 50), 50);
    assert.equal(nextPassInMs(9_000, 10_000, tick), tick);
  });
});
