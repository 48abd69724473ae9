import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../../src/cli/main.ts';
import { flattenProperties } from '../../../src/language/index.ts';
import {
  catalog,
  demandSchema,
  lookupProperty,
  offerSchema,
  standardsMarkdown,
  unconfirmedNegotiables,
  validateProperties,
} from '../../../src/standards/index.ts';
import { tempDir } from '../../support/daemon.ts';

const vmOffer = flattenProperties({
  golem: {
    activity: { caps: { transfer: { protocol: ['http', 'https', 'gftp'] } } },
    com: {
      payment: {
        'debit-notes': { 'accept-timeout?': 240 },
        platform: { 'erc20-holesky-tglm': { address: '0x0000000000000000000000000000000000000def' } },
        protocol: { version: 3 },
      },
      pricing: { model: { '@tag': 'linear', linear: { coeffs: [0.0001, 0.00005, 0] } } },
      scheme: {
        '@tag': 'payu',
        payu: { 'debit-note': { 'interval-sec?': 120 }, 'payment-timeout-sec?': 120 },
      },
      usage: { vector: ['golem.usage.cpu-sec', 'golem.usage.duration-sec'] },
    },
    inf: { cpu: { architecture: 'x86_64', cores: 4, threads: 8 }, mem: { gib: 7.5 }, storage: { gib: 40 } },
    node: { debug: { subnet: 'public' }, id: { name: 'provider-1' }, net: { 'is-public': false } },
    runtime: { capabilities: ['inet', 'vpn'], name: 'vm', version: '0.4.2' },
    srv: { caps: { 'multi-activity': true, 'payload-manifest': true } },
  },
});

const golemJsDemand = flattenProperties({
  'golem.srv.caps.multi-activity': true,
  'golem.node.debug.subnet': 'public',
  'golem.srv.comp.expiration': 1714557600000,
  'golem.srv.comp.vm.package_format': 'gvmkit-squash',
  'golem.srv.comp.task_package': 'hash:sha3:abc:http://registry/x',
  'golem.com.scheme.payu.debit-note.interval-sec?': 120,
  'golem.com.scheme.payu.payment-timeout-sec?': 43200,
  'golem.com.payment.debit-notes.accept-timeout?': 120,
  'golem.com.payment.platform.erc20-holesky-tglm.address': '0x0000000000000000000000000000000000000abc',
  'golem.com.payment.protocol.version': 3,
});

describe('standards catalog', () => {
  it('has unique keys, valid replacements, negotiables named with ?', () => {
    const keys = catalog.map((p) => p.key);
    assert.equal(new Set(keys).size, keys.length);
    for (const property of catalog) {
      if (property.deprecated?.replacement !== undefined)
        assert.ok(lookupProperty(property.deprecated.replacement), property.key);
      assert.equal(property.negotiable, property.key.endsWith('?'), property.key);
    }
  });

  it('resolves placeholder keys', () => {
    assert.equal(
      lookupProperty('golem.com.payment.platform.erc20-polygon-glm.address')?.key,
      'golem.com.payment.platform.<platform>.address',
    );
    assert.equal(lookupProperty('golem.com.payment.platform.address'), undefined);
  });
});

describe('validation', () => {
  it('finds nothing wrong in a typical VM offer and a golem-js demand', () => {
    assert.deepEqual(validateProperties(vmOffer, { side: 'offer' }), []);
    assert.deepEqual(validateProperties(golemJsDemand, { side: 'demand' }), []);
  });

  it('reports each kind of problem with its code', () => {
    const issues = validateProperties(
      {
        'golem.inf.cpu.threads': 'eight',
        'golem.inf.cpu.speed': 3,
        'golem.flavour': 'x',
        'golem.com.scheme.payu.interval_sec': 60,
        'golem.srv.comp.expiration': 1,
        'golem.com.usage.vector': ['golem.usage.cpu-sec'],
        'golem.com.pricing.model.linear.coeffs': [1, 2, 3, 4],
        'my.own.key': 1,
      },
      { side: 'offer' },
    );
    const codes = issues.map((i) => `${i.severity}:${i.code}:${i.key}`);
    assert.deepEqual(codes.sort(), [
      'error:STANDARDS_BAD_VALUE:golem.com.pricing.model.linear.coeffs',
      'error:STANDARDS_UNKNOWN_KEY:golem.inf.cpu.speed',
      'error:STANDARDS_WRONG_TYPE:golem.inf.cpu.threads',
      'warning:STANDARDS_DEPRECATED:golem.com.scheme.payu.interval_sec',
      'warning:STANDARDS_UNKNOWN_GOLEM_KEY:golem.flavour',
      'warning:STANDARDS_WRONG_SIDE:golem.srv.comp.expiration',
    ]);
    assert.match(
      issues.find((i) => i.code === 'STANDARDS_DEPRECATED')!.message,
      /use golem\.com\.scheme\.payu\.debit-note\.interval-sec\?/,
    );
  });
});

describe('negotiation support', () => {
  it('lists the negotiable properties the counter-proposal did not confirm', () => {
    const mine = {
      'golem.com.payment.debit-notes.accept-timeout?': 120,
      'golem.com.scheme.payu.payment-timeout-sec?': 600,
      'golem.inf.mem.gib': 2,
    };
    const theirs = { 'golem.com.payment.debit-notes.accept-timeout?': 240 };
    assert.deepEqual(unconfirmedNegotiables(mine, theirs), [
      { key: 'golem.com.payment.debit-notes.accept-timeout?', proposed: 120, answered: 240 },
      { key: 'golem.com.scheme.payu.payment-timeout-sec?', proposed: 600, answered: undefined },
    ]);
    assert.deepEqual(unconfirmedNegotiables(mine, { ...mine }), []);
  });
});

describe('exports', () => {
  it('JSON Schema describes the offer and demand properties and accepts the samples', () => {
    const offer = offerSchema() as {
      properties: Record<string, { type: string | string[]; enum?: string[] }>;
      patternProperties: Record<string, unknown>;
    };
    assert.equal(offer.properties['golem.inf.cpu.threads']?.type, 'integer');
    assert.equal(offer.properties['golem.srv.comp.expiration'], undefined);
    assert.ok(
      Object.keys(offer.patternProperties).some((p) =>
        new RegExp(p).test('golem.com.payment.platform.erc20-x.address'),
      ),
    );
    const demand = demandSchema() as { properties: Record<string, unknown> };
    assert.ok(demand.properties['golem.srv.comp.expiration']);
    // A small checker for the subset of JSON Schema we emit.
    const check = (
      schema: { type: string | string[]; enum?: string[]; items?: unknown },
      value: unknown,
    ): boolean => {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      const typeOk = types.some((t) =>
        t === 'integer' ? Number.isInteger(value) : t === 'array' ? Array.isArray(value) : t === typeof value,
      );
      return typeOk && (schema.enum === undefined || schema.enum.includes(value as string));
    };
    for (const [key, value] of Object.entries(vmOffer)) {
      const schema = offer.properties[key];
      if (schema !== undefined) assert.ok(check(schema, value), key);
    }
  });

  it('the committed docs/standards.md is the generated page', () => {
    const committed = readFileSync(new URL('../../../docs/standards.md', import.meta.url), 'utf8');
    assert.equal(committed, standardsMarkdown(), 'run `npm run standards:docs`');
  });

  it('yagna standards validate exits 1 on errors and 0 on a clean offer; list filters by namespace', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'good.json'), JSON.stringify({ properties: vmOffer }));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ 'golem.inf.cpu.threads': 'many' }));
    let out = '';
    const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (out += t) };
    assert.equal(
      await runCli(['standards', 'validate', `@${join(dir, 'good.json')}`, '--side', 'offer'], io),
      0,
    );
    assert.match(out, /no issues/);
    assert.equal(await runCli(['standards', 'validate', `@${join(dir, 'bad.json')}`], io), 1);
    assert.match(out, /STANDARDS_WRONG_TYPE/);
    out = '';
    assert.equal(await runCli(['standards', 'list', '--namespace', '1-node', '--json'], io), 0);
    assert.ok((JSON.parse(out) as { key: string }[]).every((p) => p.key.startsWith('golem.node.')));
  });
});
