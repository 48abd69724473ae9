/**
 * Requestor-side matching in the market service, each figure beside the bare matcher loop over the same offers
 * in the same run:
 * - 10,000 incoming offers (signature check, storage, matching against 10 live demands, proposal events);
 * - a new demand subscribed on a node that already knows 10,000 offers (scan, matching, proposal events).
 */
import { LocalBus } from '../src/core/bus/index.ts';
import { resolveConfig } from '../src/core/config/index.ts';
import { migrate, openDatabase } from '../src/core/db/index.ts';
import { IdentityService } from '../src/core/identity/index.ts';
import { silentLogger } from '../src/core/log/index.ts';
import { MarketService, marketMigrations, OfferDiscovery } from '../src/core/market/index.ts';
import type { SignedOffer } from '../src/core/model/market.ts';
import { createDemandMatcher, flattenProperties } from '../src/language/index.ts';
import type { Benchmark } from './harness.ts';

const OFFERS = Number(process.env.BENCH_OFFERS ?? 10_000);
const PROVIDERS = 40;

function offerContent(providerId: string, i: number) {
  return {
    providerId,
    properties: flattenProperties({
      golem: {
        inf: { cpu: { threads: 1 + (i % 16) }, mem: { gib: 1 + (i % 32) }, storage: { gib: 20 } },
        runtime: { name: i % 3 === 0 ? 'wasmtime' : 'vm' },
        node: { id: { name: `provider-${i}` }, debug: { subnet: 'bench' } },
        com: { pricing: { model: { '@tag': 'linear', linear: { coeffs: [0.1, 0.2, 0] } } } },
      },
    }) as Record<string, unknown>,
    constraints: '(&(golem.srv.comp.expiration>0)(golem.node.debug.subnet=bench))',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  };
}

const demand = (memGib: number) => ({
  properties: { 'golem.node.debug.subnet': 'bench', 'golem.srv.comp.expiration': Date.now() + 3_600_000 },
  constraints: `(&(golem.runtime.name=vm)(golem.inf.mem.gib>=${memGib})(golem.node.debug.subnet=bench))`,
});

let signed: Promise<SignedOffer[]> | undefined;

/** 10,000 offers signed by 40 providers, made once for both figures. */
function signedOffers(): Promise<SignedOffer[]> {
  signed ??= (async () => {
    const offers: SignedOffer[] = [];
    for (let p = 0; p < PROVIDERS; p++) {
      const db = openDatabase(':memory:');
      const bus = new LocalBus();
      await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
      migrate(db, marketMigrations);
      const discovery = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs: 0 });
      const perProvider = OFFERS / PROVIDERS;
      for (let i = 0; i < perProvider; i++)
        offers.push(await discovery.publish(offerContent(bus.nodeId!, p * perProvider + i)));
      db.close();
    }
    return offers;
  })();
  return signed;
}

async function requestor() {
  const db = openDatabase(':memory:');
  const bus = new LocalBus();
  await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
  const market = new MarketService(
    { db, bus, logger: silentLogger },
    { discovery: { antiEntropyMs: 0, perProviderLimit: OFFERS } },
  );
  await market.start();
  const proposals = () =>
    db.get<{ n: number }>("SELECT COUNT(*) AS n FROM market_proposal WHERE state = 'Initial'")?.n ?? 0;
  return { market, nodeId: bus.nodeId!, proposals, stop: () => market.stop() };
}

function pureLoop(offers: SignedOffer[], demands: ReturnType<typeof demand>[]) {
  const matchers = demands.map((d) => createDemandMatcher(d));
  const start = performance.now();
  let matched = 0;
  for (const offer of offers)
    for (const matcher of matchers)
      if (matcher({ properties: offer.properties as never, constraints: offer.constraints }) === 'yes')
        matched++;
  return { ms: performance.now() - start, matched };
}

export const benchmarks: Benchmark[] = [
  {
    name: 'market matching: 10,000 incoming offers against 10 live demands',
    unit: 'ms',
    better: 'lower',
    run: async () => {
      const offers = await signedOffers();
      const node = await requestor();
      const demands = Array.from({ length: 10 }, (_, i) => demand(2 + 3 * i));
      for (const d of demands) node.market.subscribeDemand(node.nodeId, d);
      const start = performance.now();
      for (const offer of offers) node.market.discovery.receive(offer);
      const ingest = performance.now() - start;
      const pure = pureLoop(offers, demands);
      const proposals = node.proposals();
      await node.stop();
      if (proposals !== pure.matched)
        throw new Error(`ingestion made ${proposals} proposals, the matcher finds ${pure.matched}`);
      return {
        value: ingest,
        baseline: pure.ms,
        baselineName: 'bare matcher loop (10 demands × same offers)',
      };
    },
  },
  {
    name: 'market matching: new demand against 10,000 known offers',
    unit: 'ms',
    better: 'lower',
    run: async () => {
      const offers = await signedOffers();
      const node = await requestor();
      for (const offer of offers) node.market.discovery.receive(offer);
      const d = demand(8);
      const start = performance.now();
      node.market.subscribeDemand(node.nodeId, d);
      const subscribe = performance.now() - start;
      const pure = pureLoop(offers, [d]);
      const proposals = node.proposals();
      await node.stop();
      if (proposals !== pure.matched)
        throw new Error(`subscription made ${proposals} proposals, the matcher finds ${pure.matched}`);
      return { value: subscribe, baseline: pure.ms, baselineName: 'bare matcher loop over the same offers' };
    },
  },
];
