import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FairTurns } from '../../../../src/core/net/fair-turns.ts';

/** Takes `count` turns of `peer` one after another (as one peer's stream does), logging each as it starts. */
async function worker(turns: FairTurns, peer: string, count: number, log: string[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const release = await turns.take(peer);
    log.push(peer);
    release();
  }
}

describe('FairTurns', () => {
  it("serves a peer that asks late before the flooding peer's next turn", async () => {
    const turns = new FairTurns();
    const log: string[] = [];
    const flood = worker(turns, 'flooder', 50, log);
    // The honest peer asks once the flooder has had a few turns.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const honest = worker(turns, 'honest', 2, log);
    await Promise.all([flood, honest]);
    const first = log.indexOf('honest');
    const second = log.lastIndexOf('honest');
    assert.ok(first >= 1 && first <= 3, `the honest peer's first turn came at ${first}`);
    // Between the honest peer's turns, the flooder had exactly one.
    assert.equal(second - first, 2, `the honest peer waited ${second - first - 1} flooder turns`);
    assert.equal(turns.turns, 52);
  });

  it('lets the event loop run between turns, even when the same peer asks again at once', async () => {
    const turns = new FairTurns();
    const log: string[] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    // Each turn holds the loop for 2 ms; a peer asking again within the same microtask run must still wait.
    const busy = async () => {
      for (let i = 0; i < 100; i++) {
        const release = await turns.take('flooder');
        const until = performance.now() + 2;
        while (performance.now() < until) {}
        log.push('flooder');
        release();
      }
    };
    await busy();
    clearInterval(ticker);
    assert.equal(log.length, 100);
    // 200 ms of work in turns: the 1 ms timer ran between them (it would not run once if the turns ran back to back).
    assert.ok(ticks >= 20, `the timer ran ${ticks} times during 100 turns`);
  });

  it('ends a turn that is never given back after its bound, so other peers go on', {
    timeout: 5_000,
  }, async () => {
    const turns = new FairTurns();
    await turns.take('stuck', 50);
    // 'stuck' never releases its turn; the next peer still gets one once the bound has passed.
    const started = performance.now();
    const release = await turns.take('other');
    release();
    const waited = performance.now() - started;
    assert.ok(waited >= 45 && waited < 1_000, `the next turn came after ${waited.toFixed(0)} ms`);
  });
});
