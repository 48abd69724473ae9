/**
 * The language's speed, each beside the practical limit measured in the same run:
 * - one golem-js demand against 100,000 provider offers (full two-way match) vs a hand-written JavaScript
 *   predicate for exactly those constraints;
 * - constraint parse rate vs JSON.parse of a text of the same size.
 */
import {
  createDemandMatcher,
  type FlatProperties,
  flattenProperties,
  parseConstraints,
} from '../src/language/index.ts';
import { type Benchmark, medianMs } from './harness.ts';

const OFFERS = 100_000;

const demand = {
  properties: {
    'golem.srv.caps.multi-activity': true,
    'golem.node.debug.subnet': 'public',
    'golem.srv.comp.expiration': 1714557600000,
    'golem.com.payment.platform.erc20-holesky-tglm.address': '0x0000000000000000000000000000000000000abc',
    'golem.com.payment.protocol.version': '3',
  },
  constraints:
    '(&(golem.com.pricing.model=linear)\n\t(golem.node.debug.subnet=public)\n\t(golem.runtime.name=vm)\n\t(golem.inf.mem.gib>=0.5)\n\t(golem.inf.storage.gib>=2)\n\t(golem.inf.cpu.cores>=1)\n\t(golem.inf.cpu.threads>=1)\n\t(golem.com.payment.platform.erc20-holesky-tglm.address=*)\n\t(golem.com.payment.protocol.version>1))',
};

/** Deterministic pseudo-random offers shaped like real provider offers (a dozen constraint templates). */
function makeOffers(count: number): { properties: FlatProperties; constraints: string }[] {
  let seed = 42;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const offers = [];
  for (let i = 0; i < count; i++) {
    const threads = 1 + Math.floor(rand() * 32);
    const properties = flattenProperties({
      golem: {
        activity: { caps: { transfer: { protocol: ['http', 'https', 'gftp'] } } },
        com: {
          payment: {
            'debit-notes': { 'accept-timeout?': 240 },
            platform:
              rand() < 0.9
                ? { 'erc20-holesky-tglm': { address: `0x${i.toString(16).padStart(40, '0')}` } }
                : { 'erc20-polygon-glm': { address: '0x1' } },
            protocol: { version: 3 },
          },
          pricing: {
            model: {
              '@tag': rand() < 0.95 ? 'linear' : 'fixed',
              linear: { coeffs: [rand() / 1000, rand() / 1000, 0] },
            },
          },
          scheme: {
            '@tag': 'payu',
            payu: { 'debit-note': { 'interval-sec?': 120 }, 'payment-timeout-sec?': 120 },
          },
          usage: { vector: ['golem.usage.cpu_sec', 'golem.usage.duration_sec'] },
        },
        inf: {
          cpu: { architecture: 'x86_64', cores: Math.max(1, threads >> 1), threads },
          mem: { gib: Math.round(rand() * 64 * 10) / 10 },
          storage: { gib: Math.round(rand() * 500) },
        },
        node: { debug: { subnet: rand() < 0.8 ? 'public' : 'devnet-beta' }, id: { name: `provider-${i}` } },
        runtime: {
          capabilities: ['inet', 'vpn', 'manifest-support'],
          name: rand() < 0.7 ? 'vm' : 'wasmtime',
          version: '0.4.2',
        },
        srv: { caps: { 'multi-activity': true } },
      },
    });
    const template = i % 12;
    const constraints = `(&\n  (golem.srv.comp.expiration>${1714550000000 + template})\n  (golem.node.debug.subnet=${properties['golem.node.debug.subnet']})\n)`;
    offers.push({ properties, constraints });
  }
  return offers;
}

/** What a programmer would write by hand for exactly this demand and these offer constraints. */
function handWritten(demandProps: FlatProperties) {
  const expiration = demandProps['golem.srv.comp.expiration'] as number;
  const subnet = demandProps['golem.node.debug.subnet'];
  return (
    offer: { properties: FlatProperties; constraints: string },
    template: number,
    offerSubnet: string,
  ): boolean => {
    const p = offer.properties;
    const mem = p['golem.inf.mem.gib'];
    const storage = p['golem.inf.storage.gib'];
    const cores = p['golem.inf.cpu.cores'];
    const threads = p['golem.inf.cpu.threads'];
    const version = p['golem.com.payment.protocol.version'];
    return (
      p['golem.com.pricing.model'] === 'linear' &&
      p['golem.node.debug.subnet'] === 'public' &&
      p['golem.runtime.name'] === 'vm' &&
      typeof mem === 'number' &&
      mem >= 0.5 &&
      typeof storage === 'number' &&
      storage >= 2 &&
      typeof cores === 'number' &&
      cores >= 1 &&
      typeof threads === 'number' &&
      threads >= 1 &&
      p['golem.com.payment.platform.erc20-holesky-tglm.address'] !== undefined &&
      typeof version === 'number' &&
      version > 1 &&
      expiration > 1714550000000 + template &&
      subnet === offerSubnet
    );
  };
}

export const benchmarks: Benchmark[] = [
  {
    name: `language: 1 demand × ${OFFERS.toLocaleString('en')} offers, two-way match`,
    unit: 'ms',
    better: 'lower',
    goal: { op: '<=', ratio: 2 },
    run: async () => {
      const offers = makeOffers(OFFERS);
      const subnets = offers.map((o) => o.properties['golem.node.debug.subnet'] as string);
      let matchedLib = 0;
      let matchedHand = 0;
      const library = await medianMs(() => {
        const match = createDemandMatcher(demand);
        matchedLib = 0;
        for (const offer of offers) if (match(offer) === 'yes') matchedLib++;
      }, 7);
      const predicate = handWritten(flattenProperties(demand.properties));
      const baseline = await medianMs(() => {
        matchedHand = 0;
        for (let i = 0; i < offers.length; i++) if (predicate(offers[i]!, i % 12, subnets[i]!)) matchedHand++;
      }, 7);
      if (matchedLib !== matchedHand)
        throw new Error(`matchers disagree: library ${matchedLib}, hand-written ${matchedHand}`);
      return { value: library, baseline, baselineName: 'hand-written JS predicate' };
    },
  },
  {
    name: 'language: constraint parse rate',
    unit: 'constraints/s',
    better: 'higher',
    run: async () => {
      const text = demand.constraints;
      const json = JSON.stringify({ constraints: text.split('\n\t') });
      const rounds = 20_000;
      const parseMs = await medianMs(() => {
        for (let i = 0; i < rounds; i++) parseConstraints(text);
      }, 5);
      const jsonMs = await medianMs(() => {
        for (let i = 0; i < rounds; i++) JSON.parse(json);
      }, 5);
      return {
        value: (rounds / parseMs) * 1000,
        baseline: (rounds / jsonMs) * 1000,
        baselineName: 'JSON.parse, same size',
      };
    },
  },
];
