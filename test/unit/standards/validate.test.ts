import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DateTime,
  Decimal,
  flattenProperties,
  parseFlatProperties,
  Version,
} from '../../../src/language/index.ts';
import { type ValidationIssue, validateProperties } from '../../../src/standards/index.ts';
import { golemJsCounterJson, golemJsDemandJson, vmOfferJson } from './fixtures.ts';

function summary(issues: ValidationIssue[]): string[] {
  return issues.map((issue) => `${issue.severity}:${issue.code}:${issue.key}`);
}

function only(properties: Record<string, unknown>, side?: 'offer' | 'demand'): string[] {
  return summary(validateProperties(flattenProperties(properties), side === undefined ? {} : { side }));
}

describe('validation of real offers and demands', () => {
  it('a yagna VM provider offer has no issues', () => {
    assert.deepEqual(validateProperties(flattenProperties(vmOfferJson), { side: 'offer' }), []);
  });

  it("a golem-js demand and counter-proposal have no errors, only the warning about golem-js's string version", () => {
    for (const demand of [golemJsDemandJson, golemJsCounterJson]) {
      const issues = validateProperties(flattenProperties(demand), { side: 'demand' });
      assert.deepEqual(summary(issues), ['warning:STANDARDS_LOOSE_TYPE:golem.com.payment.protocol.version']);
      assert.match(issues[0]!.message, /string "3"/);
    }
  });

  it('the flat textual form of an offer validates like its JSON', () => {
    const flat = parseFlatProperties(
      [
        'golem.inf.cpu.threads=4',
        'golem.runtime.name="vm"',
        'golem.runtime.version=v"0.5.2"',
        'golem.srv.comp.wasm.wasi.version=v"0.1.0"',
        'golem.com.payment.platform.erc20-polygon-glm.address="0x1e0a7dd6b7a7f4a1b3e9a4f0e3c3f1d0c3b2a190"',
      ].join('\n'),
    );
    assert.deepEqual(validateProperties(flat, { side: 'offer' }), []);
  });
});

describe('validation finds each kind of problem', () => {
  it('wrong types are errors that name the expected type and the value', () => {
    const issues = validateProperties(
      flattenProperties({
        'golem.inf.cpu.threads': 'eight',
        'golem.inf.cpu.cores': 2.5,
        'golem.inf.mem.gib': true,
        'golem.srv.caps.multi-activity': 'yes',
        'golem.activity.caps.transfer.protocol': 'http',
        'golem.inf.cpu.capabilities': ['sse2', 3],
        'golem.runtime.version': 'latest',
        'golem.com.payment.protocol.version': 'three',
      }),
    );
    assert.deepEqual(
      summary(issues),
      [
        'golem.inf.cpu.threads',
        'golem.inf.cpu.cores',
        'golem.inf.mem.gib',
        'golem.srv.caps.multi-activity',
        'golem.activity.caps.transfer.protocol',
        'golem.inf.cpu.capabilities',
        'golem.runtime.version',
        'golem.com.payment.protocol.version',
      ].map((key) => `error:STANDARDS_WRONG_TYPE:${key}`),
    );
    assert.equal(issues[0]!.message, 'golem.inf.cpu.threads must be integer >= 0, got "eight"');
    assert.equal(issues[5]!.message, 'golem.inf.cpu.capabilities item 1 must be string, got 3');
  });

  it('typed values of the language are checked by what they are', () => {
    const issues = validateProperties({
      'golem.runtime.version': new Version('1.0', 1, 0, 0, []),
      'golem.inf.mem.gib': Decimal.parse('4.5')!,
      'golem.node.id.name': DateTime.parse('2024-01-01T00:00:00Z')!,
    });
    assert.deepEqual(summary(issues), [
      'error:STANDARDS_WRONG_TYPE:golem.inf.mem.gib',
      'error:STANDARDS_WRONG_TYPE:golem.node.id.name',
    ]);
    assert.match(issues[0]!.message, /got d"4\.5"/);
  });

  it('values the standard rules out are errors; unknown and retired values are warnings', () => {
    assert.deepEqual(
      only({
        'golem.srv.app.eth.network': 'sepolia',
        'golem.node.geo.country_code': 'Poland',
        'golem.inf.cpu.threads': -1,
        'golem.com.payment.platform.erc20-polygon-glm.address': 'not-an-address',
        'golem.com.pricing.model': 'fixed',
        'golem.activity.caps.transfer.protocol': ['http', 'ipfs'],
        'golem.com.payment.chosen-platform': 'zksync-mainnet-glm',
      }),
      [
        'error:STANDARDS_BAD_VALUE:golem.srv.app.eth.network',
        'error:STANDARDS_BAD_VALUE:golem.node.geo.country_code',
        'error:STANDARDS_BAD_VALUE:golem.inf.cpu.threads',
        'error:STANDARDS_BAD_VALUE:golem.com.payment.platform.erc20-polygon-glm.address',
        'warning:STANDARDS_UNKNOWN_VALUE:golem.com.pricing.model',
        'warning:STANDARDS_UNKNOWN_VALUE:golem.activity.caps.transfer.protocol',
        'warning:STANDARDS_DEPRECATED_VALUE:golem.com.payment.chosen-platform',
      ],
    );
  });

  it('unknown keys inside a standard namespace are errors, with a suggestion when one is near', () => {
    const issues = validateProperties({
      'golem.inf.cpu.speed': 3,
      'golem.com.payment.debit-notes.accept-timeout': 120,
      'golem.usage.cpu-seconds': 1,
    });
    assert.deepEqual(summary(issues), [
      'error:STANDARDS_UNKNOWN_KEY:golem.inf.cpu.speed',
      'error:STANDARDS_UNKNOWN_KEY:golem.com.payment.debit-notes.accept-timeout',
      'error:STANDARDS_UNKNOWN_KEY:golem.usage.cpu-seconds',
    ]);
    assert.equal(issues[0]!.suggestion, undefined);
    assert.equal(issues[1]!.suggestion, 'golem.com.payment.debit-notes.accept-timeout?');
    assert.match(issues[1]!.message, /did you mean golem\.com\.payment\.debit-notes\.accept-timeout\?\?/);
  });

  it('other golem.* keys are warnings; keys outside golem, experimental and runtime-defined keys are free', () => {
    assert.deepEqual(
      only({
        'golem.flavour': 'mint',
        'my.own.key': 1,
        'golem.!exp.gap-35.v1.inf.gpu.model': 'RTX 3090',
        'golem.runtime.http-auth.my-service.description': 'a proxied API',
        'golem.runtime.http-auth.https': true,
      }),
      ['warning:STANDARDS_UNKNOWN_GOLEM_KEY:golem.flavour'],
    );
  });

  it('deprecated keys are warnings naming the replacement', () => {
    const issues = validateProperties({
      'golem.com.scheme.payu.interval_sec': 60,
      'golem.com.payment.version': 2,
      'golem.runtime.wasm.wasi.version@v': '0.1.0',
    });
    assert.deepEqual(summary(issues), [
      'warning:STANDARDS_DEPRECATED:golem.com.scheme.payu.interval_sec',
      'warning:STANDARDS_DEPRECATED:golem.com.payment.version',
      'warning:STANDARDS_DEPRECATED:golem.runtime.wasm.wasi.version@v',
    ]);
    assert.equal(issues[0]!.replacement, 'golem.com.scheme.payu.debit-note.interval-sec?');
    assert.match(issues[0]!.message, /use golem\.com\.scheme\.payu\.debit-note\.interval-sec\? instead/);
    assert.equal(issues[1]!.replacement, 'golem.com.payment.protocol.version');
  });

  it('properties on the wrong side are warnings, and only when the side is given', () => {
    const props = {
      'golem.srv.comp.expiration': 1795348194183,
      'golem.inf.mem.gib': 4,
      'golem.node.id.name': 'n',
    };
    assert.deepEqual(only(props, 'offer'), ['warning:STANDARDS_WRONG_SIDE:golem.srv.comp.expiration']);
    assert.deepEqual(only(props, 'demand'), ['warning:STANDARDS_WRONG_SIDE:golem.inf.mem.gib']);
    assert.deepEqual(only(props), []);
    assert.match(
      validateProperties(flattenProperties(props), { side: 'offer' })[0]!.message,
      /belongs in a demand, not in an offer/,
    );
  });

  it('usage counters are names for the usage vector, not property keys', () => {
    assert.deepEqual(only({ 'golem.usage.duration_sec': 10 }), [
      'warning:STANDARDS_COUNTER_AS_PROPERTY:golem.usage.duration_sec',
    ]);
  });

  it('linear pricing must fit the usage vector', () => {
    const vector = ['golem.usage.cpu_sec', 'golem.usage.duration-sec', 'http-auth.requests', 'my.counter'];
    assert.deepEqual(
      only({ 'golem.com.usage.vector': vector, 'golem.com.pricing.model.linear.coeffs': [1, 2, 3, 4, 5] }),
      [],
      'current, deprecated and non-golem counters are fine; one coefficient more than counters',
    );
    assert.deepEqual(
      only({ 'golem.com.usage.vector': vector, 'golem.com.pricing.model.linear.coeffs': [1, 2, 3, 4] }),
      ['warning:STANDARDS_PRICING_MISMATCH:golem.com.pricing.model.linear.coeffs'],
      'no start price: golem-js accepts it',
    );
    assert.deepEqual(
      only({ 'golem.com.usage.vector': vector, 'golem.com.pricing.model.linear.coeffs': [1, 2] }),
      ['error:STANDARDS_PRICING_MISMATCH:golem.com.pricing.model.linear.coeffs'],
    );
    assert.deepEqual(
      only({
        'golem.com.usage.vector': ['golem.usage.cpu_secs'],
        'golem.com.pricing.model.linear.coeffs': [1, 0],
      }),
      ['warning:STANDARDS_UNKNOWN_COUNTER:golem.com.usage.vector'],
    );
    assert.deepEqual(only({ 'golem.com.pricing.model': 'linear', 'golem.com.usage.vector': vector }), [
      'warning:STANDARDS_PRICING_MISMATCH:golem.com.pricing.model.linear.coeffs',
    ]);
  });

  it('a value-less property passes any type; an empty set has no issues', () => {
    assert.deepEqual(validateProperties({ 'golem.inf.cpu.threads': null }), []);
    assert.deepEqual(validateProperties({}), []);
  });

  it('keys named like Object.prototype members are ordinary unknown keys', () => {
    assert.deepEqual(only({ constructor: 1, 'golem.inf.toString': 1 }), [
      'error:STANDARDS_UNKNOWN_KEY:golem.inf.toString',
    ]);
    assert.deepEqual(summary(validateProperties(JSON.parse('{"__proto__": 1, "golem.inf.__proto__": 2}'))), [
      'error:STANDARDS_UNKNOWN_KEY:golem.inf.__proto__',
    ]);
  });
});
