/**
 * Requestor-side matching in the market service, each figure beside the bare matcher loop over the same offers
 * in the same run:
 * - 10,000 incoming offers (signature check, storage, matching against 10 live demands, proposal events), as a
 *   rate beside the same offers taken in by a node without demands (discovery alone); the goal is 5,000 offers/s;
 * - a new demand subscribed on a node that already knows 10,000 offers (matching in memory, proposal events),
 *   beside the bare matcher loop over the same offers; the goal is within 10x of it.
 * Both check that the requestor then collects exactly as many proposals as the bare matcher finds.
 */
import { LocalBus } from '../src/core/bus/index.ts';
import { resolveConfig } from '../src/core/config/index.ts';
import { migrate, openDatabase } from '../src/core/db/index.ts';
import { IdentityService } from '../src/core/identity/index.ts';
import { silentLogger } from '../src/core/log/index.ts';
import { MarketService, marketMigrations, OfferDiscovery } from '../src/core/market/index.ts';
import { offerSignatureValid } from '../src/core/market/offer-check.ts';
import { SignaturePool } from '../src/core/market/signature-pool.ts';
import type { SignedOffer } from '../src/core/model/market.ts';
import { createDemandMatcher, flattenProperties } from '../src/language/index.ts';
import { type Benchmark, medianMs } from './harness.ts';

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
  const nodeId = bus.nodeId!;
  /** Every Initial proposal the demands' event queues deliver (drained, as a requestor would). */
  const proposals = async (demandIds: string[]) => {
    let count = 0;
    for (const demandId of demandIds)
      for (;;) {
        const events = await market.collectEvents(nodeId, demandId, 'requestor', 0, 10_000);
        if (events.length === 0) break;
        count += events.filter((e) => e.eventType === 'ProposalEvent').length;
      }
    return count;
  };
  return { market, nodeId, proposals, stop: () => market.stop() };
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

/** Signature checks per second: on this thread (bare OpenSSL), and through a pool of worker threads. */
async function verifyCeilings(offers: SignedOffer[]) {
  let start = performance.now();
  for (const offer of offers) if (!offerSignatureValid(offer)) throw new Error('a bench offer is not signed');
  const oneThread = (offers.length * 1000) / (performance.now() - start);
  const pool = new SignaturePool();
  await pool.verify(offers.slice(0, 256)); // workers started and warm
  start = performance.now();
  const valid = await pool.verify(offers);
  const pooled = (offers.length * 1000) / (performance.now() - start);
  const threads = pool.threads;
  await pool.close();
  if (valid.some((flag) => !flag)) throw new Error('the pool refused a signed offer');
  return { oneThread, pooled, threads };
}

let ceilings: ReturnType<typeof verifyCeilings> | undefined;

export const benchmarks: Benchmark[] = [
  {
    name: 'market matching: offer ingest with signatures checked in worker threads (discovery, batches of 1,000)',
    unit: 'offers/s',
    better: 'higher',
    goal: { op: '>=', value: 5_000 },
    run: async () => {
      const offers = await signedOffers();
      ceilings ??= verifyCeilings(offers);
      const { pooled, threads } = await ceilings;
      const db = openDatabase(':memory:');
      const bus = new LocalBus();
      migrate(db, marketMigrations);
      const discovery = new OfferDiscovery(
        { bus, db, logger: silentLogger },
        { antiEntropyMs: 0, perProviderLimit: OFFERS },
      );
      const start = performance.now();
      let stored = 0;
      for (let at = 0; at < offers.length; at += 1_000)
        stored += await discovery.ingest(offers.slice(at, at + 1_000));
      const ms = performance.now() - start;
      discovery.stop();
      db.close();
      if (stored !== offers.length) throw new Error(`ingest stored ${stored} of ${offers.length} offers`);
      return {
        value: (offers.length * 1000) / ms,
        baseline: pooled,
        baselineName: `signature checks alone through the same pool (${threads} threads), offers/s: the ceiling`,
      };
    },
  },
  {
    name: 'market matching: signature checks per second through the worker pool',
    unit: 'verifies/s',
    better: 'higher',
    goal: { op: '>=', value: 5_000 },
    run: async () => {
      ceilings ??= verifyCeilings(await signedOffers());
      const { oneThread, pooled } = await ceilings;
      return {
        value: pooled,
        baseline: oneThread,
        baselineName: 'bare OpenSSL checks on one thread, verifies/s',
      };
    },
  },
  {
    name: 'market matching: 10,000 incoming offers against 10 live demands',
    unit: 'offers/s',
    better: 'higher',
    goal: { op: '>=', value: 5_000 },
    run: async () => {
      const offers = await signedOffers();
      const node = await requestor();
      const demands = Array.from({ length: 10 }, (_, i) => demand(2 + 3 * i));
      const demandIds = demands.map((d) => node.market.subscribeDemand(node.nodeId, d));
      const start = performance.now();
      for (const offer of offers) node.market.discovery.receive(offer);
      await node.market.settled();
      const ingest = performance.now() - start;
      const pure = pureLoop(offers, demands);
      const proposals = await node.proposals(demandIds);
      await node.stop();
      if (proposals !== pure.matched)
        throw new Error(`ingestion made ${proposals} proposals, the matcher finds ${pure.matched}`);
      // The same offers into a node without demands: what discovery alone costs (receipt, checks, storage).
      const bare = await requestor();
      const bareStart = performance.now();
      for (const offer of offers) bare.market.discovery.receive(offer);
      await bare.market.settled();
      const discoveryAlone = performance.now() - bareStart;
      await bare.stop();
      const rate = (ms: number) => (offers.length * 1000) / ms;
      return {
        value: rate(ingest),
        baseline: rate(discoveryAlone),
        baselineName: 'the same offers into a node with no demand (discovery alone), offers/s',
      };
    },
  },
  {
    name: 'market matching: new demand against 10,000 known offers',
    unit: 'ms',
    better: 'lower',
    goal: { op: '<=', ratio: 10 },
    run: async () => {
      const offers = await signedOffers();
      const node = await requestor();
      for (const offer of offers) node.market.discovery.receive(offer);
      await node.market.settled();
      const d = demand(8);
      // Median of 7 subscriptions (each a new demand on the same terms) beside the median of 7 bare loops: one
      // garbage collection or preemption on the shared machine does not decide the figure.
      const demandIds: string[] = [];
      const subscribe = await medianMs(
        () => demandIds.push(node.market.subscribeDemand(node.nodeId, d)),
        7,
        1,
      );
      const bareMs = await medianMs(() => pureLoop(offers, [d]), 7, 1);
      const pure = pureLoop(offers, [d]);
      const proposals = await node.proposals([demandIds.at(-1)!]);
      await node.stop();
      if (proposals !== pure.matched)
        throw new Error(`subscription made ${proposals} proposals, the matcher finds ${pure.matched}`);
      return { value: subscribe, baseline: bareMs, baselineName: 'bare matcher loop over the same offers' };
    },
  },
];
