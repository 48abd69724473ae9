import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FlatProperties, flattenProperties } from '../../../src/language/index.ts';
import {
  catalog,
  demandSchema,
  type JsonSchema,
  offerSchema,
  validateProperties,
} from '../../../src/standards/index.ts';
import { golemJsDemandJson, vmOfferJson } from './fixtures.ts';

/**
 * A checker for exactly the JSON Schema 2020-12 keywords the generator emits (written for this test, separate from
 * the code under test). Returns the JSON pointers of failed instances; unknown keywords are annotations and pass.
 * Patterns compile in Unicode mode, as standard validators compile them.
 */
function check(schema: JsonSchema, value: unknown, path = ''): string[] {
  const failures: string[] = [];
  const fail = (why: string) => failures.push(`${path || '/'}: ${why}`);
  const typeOf = (v: unknown): string[] => {
    if (v === null) return ['null'];
    if (Array.isArray(v)) return ['array'];
    if (typeof v === 'number') return Number.isInteger(v) ? ['number', 'integer'] : ['number'];
    return [typeof v];
  };
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!typeOf(value).some((t) => allowed.includes(t))) fail(`type ${allowed.join('|')}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) fail('enum');
  if (
    typeof schema.pattern === 'string' &&
    typeof value === 'string' &&
    !new RegExp(schema.pattern, 'u').test(value)
  )
    fail(`pattern ${schema.pattern}`);
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum)
    fail('minimum');
  if (schema.items !== undefined && Array.isArray(value))
    for (const [i, item] of value.entries())
      failures.push(...check(schema.items as JsonSchema, item, `${path}/${i}`));
  if (
    Array.isArray(schema.anyOf) &&
    !(schema.anyOf as JsonSchema[]).some((s) => check(s, value, path).length === 0)
  )
    fail('anyOf');
  if (schema.not !== undefined && check(schema.not as JsonSchema, value, path).length === 0) fail('not');
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    const patternProperties = (schema.patternProperties ?? {}) as Record<string, JsonSchema>;
    for (const [key, item] of Object.entries(value)) {
      if (schema.propertyNames !== undefined && check(schema.propertyNames as JsonSchema, key).length > 0)
        fail(`property name ${key}`);
      if (Object.hasOwn(properties, key)) failures.push(...check(properties[key]!, item, `${path}/${key}`));
      for (const [pattern, sub] of Object.entries(patternProperties))
        if (new RegExp(pattern, 'u').test(key)) failures.push(...check(sub, item, `${path}/${key}`));
    }
  }
  return failures;
}

/** What the REST API carries: typed values become their JSON text. */
function wire(json: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(flattenProperties(json))) as Record<string, unknown>;
}

describe('JSON Schema export', () => {
  it('is a draft 2020-12 object schema per side, with the side’s properties described', () => {
    const offer = offerSchema();
    const demand = demandSchema();
    assert.equal(offer.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(offer.type, 'object');
    const offerProps = offer.properties as Record<string, JsonSchema>;
    const demandProps = demand.properties as Record<string, JsonSchema>;
    assert.deepEqual(offerProps['golem.inf.cpu.threads']?.type, 'integer');
    assert.equal(offerProps['golem.inf.mem.gib']?.description, 'Memory given to the service [GiB].');
    assert.equal(offerProps['golem.srv.comp.expiration'], undefined, 'demand-only');
    assert.ok(demandProps['golem.srv.comp.expiration']);
    assert.equal(demandProps['golem.inf.mem.gib'], undefined, 'offer-only');
    assert.ok(offerProps['golem.node.id.name'] && demandProps['golem.node.id.name'], 'both sides');
    assert.deepEqual(offerProps['golem.com.scheme.payu.interval_sec']?.deprecated, true);
    assert.deepEqual(offerProps['golem.com.payment.debit-notes.accept-timeout?']?.['x-golem'], {
      negotiable: true,
      side: 'both',
      category: '3-commercial',
      status: 'standard',
      source: '3-commercial/com/payment.md',
      unit: 's',
    });
    assert.equal(offerProps['golem.usage.cpu_sec'], undefined, 'counters are not properties');
    const described = catalog.filter((p) => !p.counter && !p.key.includes('<') && p.side !== 'demand');
    assert.equal(Object.keys(offerProps).length, described.length);
  });

  it('accepts the sample offer and the golem-js demand', () => {
    assert.deepEqual(check(offerSchema(), wire(vmOfferJson)), []);
    assert.deepEqual(check(demandSchema(), wire(golemJsDemandJson)), []);
  });

  it('rejects what validation calls an error: wrong types, bad values, unknown standard keys, bad platform address', () => {
    const cases: [FlatProperties, string][] = [
      [{ 'golem.inf.cpu.threads': 'eight' }, '/golem.inf.cpu.threads: type integer'],
      [{ 'golem.inf.cpu.threads': -1 }, '/golem.inf.cpu.threads: minimum'],
      [{ 'golem.inf.cpu.capabilities': ['sse', 2] }, '/golem.inf.cpu.capabilities/1: type string'],
      [{ 'golem.inf.cpu.speed': 3 }, '/: property name golem.inf.cpu.speed'],
      [
        { 'golem.com.payment.platform.erc20-polygon-glm.address': 'nope' },
        '/golem.com.payment.platform.erc20-polygon-glm.address: pattern ^0x[0-9a-fA-F]{40}$',
      ],
      [{ 'golem.runtime.version': 'latest' }, '/golem.runtime.version: pattern'],
      [
        { 'golem.com.payment.protocol.version': 'three' },
        '/golem.com.payment.protocol.version: pattern ^[0-9]+$',
      ],
    ];
    for (const [props, expected] of cases) {
      assert.equal(
        validateProperties(props).filter((i) => i.severity === 'error').length,
        1,
        JSON.stringify(props),
      );
      const failures = check(offerSchema(), props);
      assert.equal(failures.length, 1, JSON.stringify(failures));
      assert.ok(failures[0]!.startsWith(expected), `${failures[0]} starts with ${expected}`);
    }
    const enumFailures = check(demandSchema(), { 'golem.srv.app.eth.network': 'sepolia' });
    assert.deepEqual(enumFailures, ['/golem.srv.app.eth.network: enum']);
  });

  it('lets through what validation only warns about', () => {
    const props = {
      'golem.flavour': 'x',
      'my.own.key': 1,
      'golem.!exp.gap-35.v1.inf.gpu.model': 'RTX',
      'golem.runtime.http-auth.svc.description': 'x',
      'golem.srv.comp.expiration': 1,
      'golem.usage.cpu_sec': 1,
      'golem.com.payment.version': 2,
    };
    assert.equal(
      validateProperties(props, { side: 'offer' }).filter((i) => i.severity === 'error').length,
      0,
    );
    assert.deepEqual(check(offerSchema(), props), []);
  });
});
