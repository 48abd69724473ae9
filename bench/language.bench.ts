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
  OfferConstraintCache,
  parseConstraints,
  prepareOffer,
} from '../src/language/index.ts';
import { type Benchmark, medianMs, percentile } from './harness.ts';

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

interface BenchOffer {
  properties: FlatProperties;
  constraints: string;
  /** What the hand-written predicate reads from the offer's constraints, extracted before timing. */
  offerExpirationBound: number;
  offerSubnet: string;
}

/** Each provider's offer constraint, as ya-provider writes it: its own `NOW_MS` at offer time, its subnet. */
function offerConstraints(expirationBound: number, subnet: string): string {
  return `(&\n  (golem.srv.comp.expiration>${expirationBound})\n  (golem.node.debug.subnet=${subnet})\n)`;
}

/**
 * Deterministic pseudo-random offers shaped like real provider offers; every provider subscribed at its own
 * moment, so (as in the real network) nearly every offer's constraint text is different.
 */
function makeOffers(count: number, firstSubscription: number): BenchOffer[] {
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
    const offerExpirationBound = firstSubscription + i * 37;
    const offerSubnet = properties['golem.node.debug.subnet'] as string;
    const constraints = offerConstraints(offerExpirationBound, offerSubnet);
    offers.push({ properties, constraints, offerExpirationBound, offerSubnet });
  }
  return offers;
}

/** What a programmer would write by hand for exactly this demand and these offer constraints. */
function handWritten(demandProps: FlatProperties) {
  const expiration = demandProps['golem.srv.comp.expiration'] as number;
  const subnet = demandProps['golem.node.debug.subnet'];
  return (offer: BenchOffer): boolean => {
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
      expiration > offer.offerExpirationBound &&
      subnet === offer.offerSubnet
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
      // Steady state: the offers are known (the market compiles an offer's constraints once, when it arrives).
      const offers = makeOffers(OFFERS, 1714500000000);
      const cache = new OfferConstraintCache();
      const prepared = offers.map((offer) => prepareOffer(offer, cache));
      const predicate = handWritten(flattenProperties(demand.properties));
      let matchedHand = 0;
      let matchedLib = 0;
      const byHand = () => {
        matchedHand = 0;
        for (let i = 0; i < offers.length; i++) if (predicate(offers[i]!)) matchedHand++;
      };
      const byLibrary = () => {
        const match = createDemandMatcher(demand);
        matchedLib = 0;
        for (const offer of prepared) if (match(offer) === 'yes') matchedLib++;
      };
      // Rounds alternate between the two, so a busy moment on the machine weighs on both alike.
      const handSamples: number[] = [];
      const librarySamples: number[] = [];
      for (let round = 0; round < 11; round++) {
        librarySamples.push(await medianMs(byLibrary, 1, round === 0 ? 2 : 0));
        handSamples.push(await medianMs(byHand, 1, round === 0 ? 2 : 0));
      }
      const library = percentile(librarySamples, 50);
      const baseline = percentile(handSamples, 50);
      if (matchedLib !== matchedHand || matchedLib === 0)
        throw new Error(`matchers disagree: library ${matchedLib}, hand-written ${matchedHand}`);
      return { value: library, baseline, baselineName: 'hand-written JS predicate' };
    },
  },
  {
    name: `language: 1 demand × ${OFFERS.toLocaleString('en')} offers never seen before (compiles each offer's constraints)`,
    unit: 'ms',
    better: 'lower',
    run: async () => {
      // Cold: every run meets 100,000 offer constraint texts no matcher has compiled yet.
      const offers = makeOffers(OFFERS, 1714500000000);
      const rounds = 4;
      const texts = Array.from({ length: rounds }, (_, round) =>
        offers.map((offer, i) =>
          offerConstraints(1_800_000_000_000 + round * 10_000_000 + i * 37, offer.offerSubnet),
        ),
      );
      let round = 0;
      const library = await medianMs(
        () => {
          const match = createDemandMatcher(demand);
          const fresh = texts[round++]!;
          for (let i = 0; i < offers.length; i++)
            match({ properties: offers[i]!.properties, constraints: fresh[i]! });
        },
        rounds - 1,
        1,
      );
      const predicate = handWritten(flattenProperties(demand.properties));
      const baseline = await medianMs(() => {
        for (let i = 0; i < offers.length; i++) predicate(offers[i]!);
      }, 7);
      return { value: library, baseline, baselineName: 'hand-written JS predicate, offers known' };
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
