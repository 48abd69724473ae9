import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildOffer,
  DEFAULT_NEGOTIATION,
  ProviderErrorCode,
  type RuntimeInfo,
} from '../../../../src/agents/provider/index.ts';
import { pricedPreset } from '../../../../src/agents/provider/settings.ts';

const RUNTIME: RuntimeInfo = {
  name: 'wasmtime',
  version: '0.2.1',
  description: '',
  descriptor: {
    name: 'wasmtime',
    version: '0.2.1',
    supervisorPath: 'exe-unit',
    runtimePath: 'main.ts',
    description: '',
    extraArgs: [],
    properties: {},
    config: undefined,
    file: 'descriptor.json',
  },
  counters: {
    'golem.usage.duration_sec': { name: 'duration', description: '', price: true },
    'golem.usage.cpu_sec': { name: 'cpu', description: '', price: true },
  },
  selfTest: { ok: true, reason: null },
  template: { properties: { 'golem.runtime.capabilities': [] }, constraints: '' },
};

const GLOBALS = {
  nodeName: 'shop',
  subnet: 'devnet',
  account: null,
  paymentNetworks: ['dev', 'polygon'],
  prices: { cpuPerHour: 36, envPerHour: 3.6, startingFee: 0.5 },
  negotiation: DEFAULT_NEGOTIATION,
};

describe('offer building', () => {
  it('prices the counters sorted by key with the start price last, for every payment platform', () => {
    const offer = buildOffer({
      preset: pricedPreset('wasmtime', GLOBALS.prices),
      runtime: RUNTIME,
      globals: GLOBALS,
      hardware: { cpu_threads: 2, mem_gib: 1.5, storage_gib: 10 },
      payee: '0xABCDEF0000000000000000000000000000000001',
      now: 1_800_000_000_000,
    });
    const p = offer.properties;
    assert.deepEqual(p['golem.com.usage.vector'], ['golem.usage.cpu_sec', 'golem.usage.duration_sec']);
    assert.deepEqual(p['golem.com.pricing.model.linear.coeffs'], [0.01, 0.001, 0.5]);
    assert.equal(p['golem.com.scheme'], 'payu');
    assert.equal(p['golem.com.payment.protocol.version'], 3);
    assert.equal(
      p['golem.com.payment.platform.erc20-dev-tglm.address'],
      '0xabcdef0000000000000000000000000000000001',
    );
    assert.equal(
      p['golem.com.payment.platform.erc20-polygon-glm.address'],
      '0xabcdef0000000000000000000000000000000001',
    );
    assert.equal(p['golem.inf.cpu.threads'], 2);
    assert.equal(p['golem.node.id.name'], 'shop');
    assert.equal(p['golem.com.payment.debit-notes.accept-timeout?'], 240);
    assert.equal(
      offer.constraints,
      '(&\n  (golem.srv.comp.expiration>1800000000000)\n  (golem.node.debug.subnet=devnet)\n)',
    );
  });

  it('refuses a preset that prices nothing the runtime reports', () => {
    const preset = { ...pricedPreset('wasmtime', GLOBALS.prices), 'usage-coeffs': { 'golem.usage.gib': 1 } };
    assert.throws(
      () =>
        buildOffer({
          preset,
          runtime: RUNTIME,
          globals: GLOBALS,
          hardware: { cpu_threads: 1, mem_gib: 1, storage_gib: 1 },
          payee: '0x0000000000000000000000000000000000000001',
        }),
      { code: ProviderErrorCode.BadOffer },
    );
  });

  it('refuses an offer that breaks the standards catalog', () => {
    const runtime = {
      ...RUNTIME,
      template: { properties: { 'golem.inf.cpu.flavour': 'mint' }, constraints: '' },
    };
    assert.throws(
      () =>
        buildOffer({
          preset: pricedPreset('wasmtime', GLOBALS.prices),
          runtime,
          globals: GLOBALS,
          hardware: { cpu_threads: 1, mem_gib: 1, storage_gib: 1 },
          payee: '0x0000000000000000000000000000000000000001',
        }),
      { code: ProviderErrorCode.BadOffer },
    );
  });
});
