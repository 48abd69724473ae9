/**
 * Conformance vectors: the shapes golem-js and Golem's provider agent really send, and the resolver behaviours
 * the reference (Golem's resolver) shows, each with the answer this implementation gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileConstraints,
  expandProperties,
  flattenProperties,
  matchDemandOffer,
  parseFlatProperties,
} from '../../../src/language/index.ts';

const golemJsDemand = {
  properties: {
    'golem.srv.caps.multi-activity': true,
    'golem.node.debug.subnet': 'public',
    'golem.srv.comp.expiration': 1714557600000,
    'golem.srv.comp.vm.package_format': 'gvmkit-squash',
    'golem.srv.comp.task_package': 'hash:sha3:abc:http://registry/x',
    'golem.com.scheme.payu.debit-note.interval-sec?': 120,
    'golem.com.scheme.payu.payment-timeout-sec?': 43200,
    'golem.com.payment.debit-notes.accept-timeout?': 120,
    'golem.com.payment.platform.erc20-holesky-tglm.address': '0x0000000000000000000000000000000000000abc',
    'golem.com.payment.protocol.version': '3',
  },
  constraints:
    '(&(golem.com.pricing.model=linear)\n\t(golem.node.debug.subnet=public)\n\t(golem.runtime.name=vm)\n\t(golem.inf.mem.gib>=0.5)\n\t(golem.inf.storage.gib>=2)\n\t(golem.inf.cpu.cores>=1)\n\t(golem.inf.cpu.threads>=1)\n\t(golem.com.payment.platform.erc20-holesky-tglm.address=*)\n\t(golem.com.payment.protocol.version>1))',
};

const providerOffer = {
  properties: {
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
        usage: { vector: ['golem.usage.cpu_sec', 'golem.usage.duration_sec'] },
      },
      inf: { cpu: { architecture: 'x86_64', cores: 4, threads: 8 }, mem: { gib: 7.5 }, storage: { gib: 40 } },
      node: { debug: { subnet: 'public' }, id: { name: 'provider-1' } },
      runtime: { capabilities: ['inet', 'vpn', 'manifest-support'], name: 'vm', version: '0.4.2' },
      srv: { caps: { 'multi-activity': true, 'payload-manifest': true } },
    },
  },
  constraints: '(&\n  (golem.srv.comp.expiration>1714550000000)\n  (golem.node.debug.subnet=public)\n)',
};

describe('Golem conformance vectors', () => {
  it('a golem-js demand matches a typical VM provider offer', () => {
    assert.equal(matchDemandOffer(golemJsDemand, providerOffer).result, 'yes');
  });

  it('a demand on another subnet does not match', () => {
    const other = {
      ...golemJsDemand,
      properties: { ...golemJsDemand.properties, 'golem.node.debug.subnet': 'devnet' },
    };
    assert.equal(matchDemandOffer(other, providerOffer).result, 'no');
  });

  it('a string property compared as a number is false, with $v it is a version', () => {
    const props = flattenProperties(providerOffer.properties);
    assert.equal(compileConstraints('(golem.runtime.version>=0.4.0)').evaluate(props), 'true');
    assert.equal(compileConstraints('(golem.runtime.version>=0.10.0)').evaluate(props), 'true');
    assert.equal(compileConstraints('(golem.runtime.version$v>=0.10.0)').evaluate(props), 'false');
  });

  it('the payment protocol version "3" (a string) compares lexicographically against 1', () => {
    const props = flattenProperties(golemJsDemand.properties);
    assert.equal(compileConstraints('(golem.com.payment.protocol.version>1)').evaluate(props), 'true');
  });

  it('capabilities lists are searched for one value', () => {
    const props = flattenProperties(providerOffer.properties);
    assert.equal(compileConstraints('(golem.runtime.capabilities=vpn)').evaluate(props), 'true');
    assert.equal(compileConstraints('(golem.runtime.capabilities=gpu)').evaluate(props), 'false');
  });

  it('keys ending in ? are plain names', () => {
    const props = flattenProperties(providerOffer.properties);
    assert.equal(props['golem.com.payment.debit-notes.accept-timeout?'], 240);
  });

  it('deviations from Golem are deliberate (docs/language.md)', () => {
    // Trailing filters are an error, not silently ignored.
    assert.throws(() => compileConstraints('(a=1)(b=2)'));
    // A leading wildcard works (Golem: parse error).
    assert.equal(compileConstraints('(a=*vm)').evaluate(parseFlatProperties('a="qemu-vm"')), 'true');
    // Regex metacharacters are literal (Golem: regex meaning).
    assert.equal(compileConstraints('(a=x.y*)').evaluate(parseFlatProperties('a="xzy"')), 'false');
    // JSON null is a value-less property (Golem drops it).
    assert.equal(compileConstraints('(a=*)').evaluate(flattenProperties({ a: null })), 'true');
  });

  it('the flat offer a provider agent stores matches an SDK-style demand; without expiration it is undefined', () => {
    const offerProperties = parseFlatProperties(
      [
        'golem.inf.cpu.architecture="x86_64"',
        'golem.inf.cpu.cores=4',
        'golem.inf.cpu.threads=8',
        'golem.inf.mem.gib=16.0',
        'golem.inf.storage.gib=100.0',
        'golem.runtime.name="vm"',
        'golem.runtime.version="0.2.10"',
        'golem.runtime.capabilities=["vpn"]',
        'golem.node.id.name="my-node"',
        'golem.node.net.is-public=false',
        'golem.node.debug.subnet="public"',
        'golem.srv.caps.multi-activity=true',
        'golem.srv.caps.payload-manifest=true',
        'golem.activity.caps.transfer.protocol=["http","https","gftp"]',
        'golem.com.scheme="payu"',
        'golem.com.scheme.payu.debit-note.interval-sec?=120.0',
        'golem.com.scheme.payu.payment-timeout-sec?=120.0',
        'golem.com.payment.debit-notes.accept-timeout?=240',
        'golem.com.pricing.model="linear"',
        'golem.com.pricing.model.linear.coeffs=[0.0001,0.0002,0.0]',
        'golem.com.usage.vector=["golem.usage.cpu_sec","golem.usage.duration_sec"]',
        'golem.com.payment.platform.erc20-polygon-glm.address="0x0000000000000000000000000000000000000def"',
        'golem.com.payment.protocol.version=3',
      ].join('\n'),
    );
    const offer = {
      properties: offerProperties,
      constraints: '(&\n  (golem.srv.comp.expiration>1717171717171)\n  (golem.node.debug.subnet=public)\n)',
    };
    const demand = {
      properties: { 'golem.srv.comp.expiration': 1717171999999, 'golem.node.debug.subnet': 'public' },
      constraints:
        '(&(golem.runtime.name=vm)(golem.inf.mem.gib>=0.5)(golem.inf.storage.gib>=2)(golem.com.pricing.model=linear)\n(|(golem.com.payment.platform.erc20-polygon-glm.address=*))(golem.com.payment.protocol.version>1))',
    };
    assert.equal(matchDemandOffer(demand, offer).result, 'yes');
    assert.equal(
      matchDemandOffer({ ...demand, properties: { 'golem.node.debug.subnet': 'public' } }, offer).result,
      'undefined',
    );
    assert.equal(
      matchDemandOffer(
        { ...demand, properties: { ...demand.properties, 'golem.srv.comp.expiration': 1 } },
        offer,
      ).result,
      'no',
    );
    // The same offer as nested JSON (pricing model under @tag) gives the same property set.
    assert.deepEqual(flattenProperties(expandProperties(offerProperties)), offerProperties);
  });
});
