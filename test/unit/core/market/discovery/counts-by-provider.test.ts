/**
 * The per-provider counts behind tombstone eviction: the heaviest provider is found from the counts alone, among
 * equals the one that has held that many longest, and the counts follow every step up and down.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CountsByProvider } from '../../../../../src/core/market/counts-by-provider.ts';

describe('counts by provider', () => {
  it('finds the heaviest provider, the longest at that count first, skipping those it is told to', () => {
    const counts = new CountsByProvider();
    counts.add('a', 3);
    counts.add('b', 1);
    counts.add('c', 2);
    counts.add('b', 2);
    assert.equal(
      counts.heaviest(() => false),
      'a',
      'a reached 3 before b',
    );
    assert.equal(
      counts.heaviest((provider) => provider === 'a'),
      'b',
    );
    counts.add('a', -1);
    assert.equal(
      counts.heaviest(() => false),
      'b',
      'now b alone holds the most',
    );
    assert.equal(counts.total, 7);
    assert.deepEqual([counts.count('a'), counts.count('b'), counts.count('c')], [2, 3, 2]);
  });

  it('goes down to nothing, and never below', () => {
    const counts = new CountsByProvider();
    counts.add('a', 2);
    counts.add('b', 1);
    counts.add('a', -2);
    assert.equal(
      counts.heaviest(() => false),
      'b',
    );
    counts.add('b', -5);
    assert.equal(counts.total, 0);
    assert.equal(counts.count('b'), 0);
    assert.equal(
      counts.heaviest(() => false),
      undefined,
    );
    counts.add('c', 1);
    assert.equal(
      counts.heaviest(() => false),
      'c',
    );
  });
});
