import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  catalog,
  describeType,
  lookupProperty,
  STANDARD_NAMESPACES,
  suggestKey,
  USAGE_COUNTERS,
  type ValueType,
} from '../../../src/standards/index.ts';

const KINDS = new Set(['string', 'enum', 'number', 'boolean', 'version', 'datetime', 'decimal', 'list']);

function typeProblems(type: ValueType): string[] {
  if (!KINDS.has(type.kind)) return [`unknown kind ${type.kind}`];
  if (type.kind === 'list') return typeProblems(type.of);
  if (type.kind === 'enum' && (type.values.length === 0 || new Set(type.values).size !== type.values.length))
    return ['enum with no or repeated values'];
  if (type.kind === 'string' && type.pattern !== undefined) {
    try {
      new RegExp(type.pattern, 'u');
    } catch {
      return [`pattern ${type.pattern} does not compile`];
    }
  }
  return [];
}

describe('standards catalog', () => {
  it('has no duplicate keys', () => {
    const seen = new Set<string>();
    for (const { key } of catalog) {
      assert.ok(!seen.has(key), `${key} appears twice`);
      seen.add(key);
    }
    assert.ok(catalog.length >= 50, 'every namespace is there');
  });

  it('every deprecated key names a replacement that exists and is not itself deprecated', () => {
    const deprecated = catalog.filter((p) => p.deprecated !== undefined);
    assert.ok(deprecated.length >= 5);
    for (const property of deprecated) {
      const replacement = property.deprecated?.replacement;
      if (replacement === undefined) continue;
      const target = lookupProperty(replacement);
      assert.ok(target, `${property.key} → ${replacement} exists`);
      assert.equal(target.deprecated, undefined, `${replacement} is current`);
      assert.equal(
        target.counter === true,
        property.counter === true,
        `${property.key} and its replacement are the same kind`,
      );
    }
  });

  it('types are valid, negotiables follow the ? convention, every entry says what it is and where it comes from', () => {
    for (const property of catalog) {
      assert.deepEqual(typeProblems(property.type), [], property.key);
      assert.equal(property.negotiable, property.key.endsWith('?'), property.key);
      assert.ok(['offer', 'demand', 'both'].includes(property.side), property.key);
      assert.ok(
        ['0-commons', '1-node', '2-service', '3-commercial'].includes(property.category),
        property.key,
      );
      assert.ok(['standard', 'experimental', 'de-facto'].includes(property.status), property.key);
      assert.ok(property.meaning.length > 10 && !property.meaning.endsWith('.'), property.key);
      assert.ok(property.source.length > 0, property.key);
      assert.ok(describeType(property.type).length > 0);
      const inStandardNamespace = STANDARD_NAMESPACES.some((prefix) => property.key.startsWith(prefix));
      assert.ok(inStandardNamespace || property.counter, `${property.key} lies in a standard namespace`);
    }
  });

  it('covers each namespace the standards define', () => {
    for (const key of [
      'golem.activity.caps.transfer.protocol',
      'golem.inf.cpu.threads',
      'golem.inf.mem.gib',
      'golem.inf.storage.gib',
      'golem.runtime.name',
      'golem.runtime.version',
      'golem.node.id.name',
      'golem.node.geo.country_code',
      'golem.srv.caps.multi-activity',
      'golem.srv.comp.expiration',
      'golem.srv.comp.task_package',
      'golem.srv.comp.wasm.wasi.version',
      'golem.srv.app.eth.network',
      'golem.com.payment.chosen-platform',
      'golem.com.payment.debit-notes.accept-timeout?',
      'golem.com.payment.protocol.version',
      'golem.com.pricing.model',
      'golem.com.pricing.model.linear.coeffs',
      'golem.com.scheme',
      'golem.com.scheme.payu.debit-note.interval-sec?',
      'golem.com.scheme.payu.payment-timeout-sec?',
      'golem.com.usage.vector',
    ]) {
      assert.ok(lookupProperty(key), key);
    }
    for (const counter of [
      'golem.usage.duration_sec',
      'golem.usage.cpu_sec',
      'golem.usage.gib',
      'http-auth.requests',
    ])
      assert.ok(USAGE_COUNTERS.has(counter), counter);
  });

  it('records the facts a validator needs: types, units, sides, negotiables', () => {
    assert.deepEqual(lookupProperty('golem.inf.cpu.threads')?.type, {
      kind: 'number',
      integer: true,
      minimum: 0,
    });
    assert.equal(lookupProperty('golem.inf.mem.gib')?.unit, 'GiB');
    assert.equal(lookupProperty('golem.srv.comp.expiration')?.side, 'demand');
    assert.equal(lookupProperty('golem.com.payment.debit-notes.accept-timeout?')?.negotiable, true);
    assert.equal(lookupProperty('golem.com.scheme.payu.payment-timeout-sec?')?.status, 'experimental');
    assert.equal(lookupProperty('golem.usage.cpu_sec')?.deprecated?.replacement, 'golem.usage.cpu-sec');
    assert.equal(lookupProperty('golem.srv.caps.payload-manifest')?.status, 'de-facto');
  });

  it('resolves keys with a <platform> segment, one segment only', () => {
    assert.equal(
      lookupProperty('golem.com.payment.platform.erc20-polygon-glm.address')?.key,
      'golem.com.payment.platform.<platform>.address',
    );
    assert.equal(lookupProperty('golem.com.payment.platform.address'), undefined);
    assert.equal(lookupProperty('golem.com.payment.platform..address'), undefined);
    assert.equal(lookupProperty('golem.com.payment.platform.a.b.address'), undefined);
    assert.equal(lookupProperty('golem.inf.cpu'), undefined);
  });

  it('suggests the key a typo meant', () => {
    assert.equal(
      suggestKey('golem.com.payment.debit-notes.accept-timeout'),
      'golem.com.payment.debit-notes.accept-timeout?',
    );
    assert.equal(suggestKey('golem.inf.cpu.thread'), 'golem.inf.cpu.threads');
    assert.equal(suggestKey('golem.srv.comp.task-package'), 'golem.srv.comp.task_package');
    assert.equal(suggestKey('golem.com.payment.debit-notes.acceptance-timeout'), undefined);
    assert.equal(suggestKey('golem.something.else.entirely'), undefined);
  });
});
