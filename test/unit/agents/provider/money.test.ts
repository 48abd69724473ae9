import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatUnits, linearCost, toUnits } from '../../../../src/agents/provider/index.ts';

describe('provider money', () => {
  it('reads decimal and exponent texts exactly', () => {
    assert.equal(toUnits('1'), 10n ** 18n);
    assert.equal(toUnits(0.001), 10n ** 15n);
    assert.equal(toUnits(6.9e-6), 6_900_000_000_000n);
    assert.equal(toUnits('0.000000000000000001'), 1n);
    assert.equal(formatUnits(toUnits('12.5')), '12.5');
    assert.equal(formatUnits(0n), '0');
    assert.throws(() => toUnits('abc'));
  });

  it('prices a usage vector linearly, the start price last', () => {
    // 0.001/s cpu × 10 s + 0.0002/s duration × 20 s + 0.01 = 0.024
    assert.equal(formatUnits(linearCost([0.001, 0.0002, 0.01], [10, 20])), '0.024');
    assert.equal(formatUnits(linearCost([0.001, 0.0002, 0.01], null)), '0.01');
    // 0.025 GLM per hour over 3600.5 s: the coefficient counts to 18 decimals (6.944444444444e-6)
    assert.equal(formatUnits(linearCost([0.025 / 3600, 0], [3600.5])), '0.025003472222220622');
  });
});
