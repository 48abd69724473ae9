import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveConfig } from '../../../../src/core/config/index.ts';

describe('net settings', () => {
  it('reads the neighbourhood size and AutoNAT switch from flags and environment, with defaults', () => {
    const defaults = resolveConfig({}, {}).net;
    assert.equal(defaults.neighbours, 8);
    assert.equal(defaults.autonat, true);
    const set = resolveConfig({}, { YA_NET_NEIGHBOURS: '0', YA_NET_AUTONAT: '0' }).net;
    assert.equal(set.neighbours, 0);
    assert.equal(set.autonat, false);
    assert.equal(
      resolveConfig({ 'net-neighbours': '3' }, { YA_NET_NEIGHBOURS: '5' }).net.neighbours,
      3,
      'flag wins',
    );
    assert.equal(resolveConfig({}, { YA_NET_AUTONAT: 'on' }).net.autonat, true);
  });

  it('refuses a neighbourhood size that is not a whole number, naming the setting', () => {
    for (const value of ['-1', '2.5', 'eight'])
      assert.throws(() => resolveConfig({}, { YA_NET_NEIGHBOURS: value }), {
        code: 'CONFIG_INVALID',
        message: `YA_NET_NEIGHBOURS must be a whole number of at least 0, got ${value}`,
      });
  });
});
