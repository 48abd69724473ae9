/**
 * Market figures, each beside a baseline measured in the same run:
 * - a new offer visible on every node of an N-node network (real libp2p nodes in this process, one relay),
 *   vs a bare broadcast of the same size on the same network (no signing, validation or storage);
 * - a node joining a network that holds 1,000 offers knows all of them, vs one bus call that carries the same
 *   offers without validation or storage;
 * - a tombstone stored into a full store of 100,000 tombstones of 100,000 identities (each takes the place of one
 *   of the provider holding the most), vs one stored into the same table under a limit not reached;
 * (Requestor-side ingestion of many offers is in market-matching.bench.ts.)
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBus } from '../src/core/bus/index.ts';
import { resolveConfig } from '../src/core/config/index.ts';
import { nodeIdFromSecret } from '../src/core/crypto/index.ts';
import { type Database, migrate, openDatabase } from '../src/core/db/index.ts';
import { IdentityService } from '../src/core/identity/index.ts';
import { silentLogger } from '../src/core/log/index.ts';
import { marketMigrations, OfferDiscovery } from '../src/core/market/index.ts';
import { NetService, RelayServer } from '../src/core/net/index.ts';
import { flattenProperties } from '../src/language/index.ts';
import { tempDir } from '../test/support/daemon.ts';
import { eventually } from '../test/support/net.ts';
import { randomOfferId, signedTombstone } from '../test/support/signed-market.ts';
import { type Benchmark, type Measurement, percentile } from './harness.ts';

const NODES = Number(process.env.BENCH_MARKET_NODES ?? 50);
const TOMBSTONES = Number(process.env.BENCH_TOMBSTONES ?? 100_000);

interface BenchNode {
  bus: LocalBus;
  discovery: OfferDiscovery;
  nodeId: string;
  stop(): Promise<void>;
}

async function startBenchNode(relayAddress: string, withNet = true): Promise<BenchNode> {
  const db = openDatabase(':memory:');
  const bus = new LocalBus();
  const config = resolveConfig({}, { YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0', YA_NET_RELAY: relayAddress });
  const identity = new IdentityService({ db, bus, logger: silentLogger, config });
  await identity.start();
  const net = new NetService({ db, bus, logger: silentLogger, config });
  if (withNet) await net.start();
  migrate(db, marketMigrations);
  const discovery = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs: 0 });
  discovery.start();
  return {
    bus,
    discovery,
    nodeId: bus.nodeId!,
    stop: async () => {
      discovery.stop();
      await net.stop();
      await identity.stop();
      db.close();
    },
  };
}

function offerContent(providerId: string, i: number) {
  return {
    providerId,
    properties: flattenProperties({
      golem: {
        inf: {
          cpu: { threads: 1 + (i % 16), cores: 1 + (i % 8) },
          mem: { gib: 1 + (i % 32) },
          storage: { gib: 20 },
        },
        runtime: { name: i % 3 === 0 ? 'wasmtime' : 'vm', version: '0.4.2' },
        node: { id: { name: `provider-${i}` }, debug: { subnet: 'bench' } },
        com: {
          pricing: { model: { '@tag': 'linear', linear: { coeffs: [0.1, 0.2, 0] } } },
          usage: { vector: ['golem.usage.cpu_sec', 'golem.usage.duration_sec'] },
        },
      },
    }) as Record<string, unknown>,
    constraints: '(&(golem.srv.comp.expiration>0)(golem.node.debug.subnet=bench))',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  };
}

let network: Promise<{ relay: RelayServer; address: string; nodes: BenchNode[] }> | undefined;

function benchNetwork() {
  network ??= (async () => {
    const relay = new RelayServer({
      dataDir: tempDir('bench-relay-'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logger: silentLogger,
    });
    await relay.start();
    const address = relay.addresses()[0]!;
    const nodes: BenchNode[] = [];
    for (let i = 0; i < NODES; i += 10)
      nodes.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, NODES - i) }, () => startBenchNode(address)),
        )),
      );
    // Let gossip meshes form.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return { relay, address, nodes };
  })();
  return network;
}

async function stopNetwork(): Promise<void> {
  if (network === undefined) return;
  const { relay, nodes } = await network;
  await Promise.all(nodes.map((n) => n.stop()));
  await relay.stop();
  network = undefined;
}

export const benchmarks: Benchmark[] = [
  {
    name: `market: new offer visible on all ${NODES} nodes (libp2p)`,
    unit: 'ms',
    better: 'lower',
    goal: { op: '<', value: 1000 },
    run: async () => {
      const { nodes } = await benchNetwork();
      const offerTimes: number[] = [];
      const rawTimes: number[] = [];
      const rawSeen = new Map<string, Set<string>>();
      for (const node of nodes) {
        node.bus.subscribe<{ id: string }>('bench/raw', (message) => {
          const set = rawSeen.get(message.id) ?? new Set<string>();
          rawSeen.set(message.id, set);
          set.add(node.nodeId);
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
      for (let round = 0; round < 20; round++) {
        const publisher = nodes[round % nodes.length]!;
        let start = performance.now();
        const offer = await publisher.discovery.publish(offerContent(publisher.nodeId, round));
        const holders = () => nodes.filter((n) => n.discovery.get(offer.offerId) !== undefined).length;
        await eventually(() => holders() === nodes.length, 'offer on every node', 30_000).catch(() => {
          throw new Error(`round ${round}: the offer reached ${holders()} of ${nodes.length} nodes in 30 s`);
        });
        offerTimes.push(performance.now() - start);

        const id = `raw-${round}`;
        const payload = JSON.stringify(offer);
        start = performance.now();
        await publisher.bus.publish('bench/raw', { id, payload });
        await eventually(
          () => (rawSeen.get(id)?.size ?? 0) >= nodes.length,
          'raw broadcast on every node',
          30_000,
        );
        rawTimes.push(performance.now() - start);
      }
      return [
        {
          value: percentile(offerTimes, 50),
          baseline: percentile(rawTimes, 50),
          baselineName: 'bare broadcast, same size, p50',
        },
        {
          value: percentile(offerTimes, 99),
          baseline: percentile(rawTimes, 99),
          baselineName: 'bare broadcast, same size, p99',
        },
      ];
    },
  },
  {
    name: 'market: joining node learns 1,000 offers (libp2p)',
    unit: 'ms',
    better: 'lower',
    goal: { op: '<', value: 2000 },
    run: async () => {
      const { nodes, address } = await benchNetwork();
      const holder = nodes[0]!;
      // 1,000 offers of 20 providers, signed off the network and handed to the holder only.
      for (let p = 0; p < 20; p++) {
        const db = openDatabase(':memory:');
        const bus = new LocalBus();
        await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
        migrate(db, marketMigrations);
        const offline = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs: 0 });
        for (let i = 0; i < 50; i++)
          holder.discovery.receive(await offline.publish(offerContent(bus.nodeId!, p * 50 + i)));
      }
      if (holder.discovery.count() < 1000)
        throw new Error(`the holder has ${holder.discovery.count()} offers`);
      const joiner = await startBenchNode(address);
      try {
        let start = performance.now();
        await joiner.discovery.reconcileWith(holder.nodeId);
        await eventually(() => joiner.discovery.count() >= 1000, 'all offers on the joining node', 30_000);
        const joinMs = performance.now() - start;
        start = performance.now();
        const all = await joiner.bus.call<unknown[]>(`/net/${holder.nodeId}/market/discovery/Get`, {
          ids: holder.discovery
            .list()
            .slice(0, 200)
            .map((o) => o.offerId),
        });
        const perBatch = performance.now() - start;
        if (all.length !== 200) throw new Error('baseline fetch incomplete');
        return {
          value: joinMs,
          baseline: perBatch * 5,
          baselineName: 'bare fetch of 1,000 offers (5 × 200)',
        };
      } finally {
        await joiner.stop();
        await stopNetwork();
      }
    },
  },
  {
    name: `market: tombstone stored into a full store (${TOMBSTONES} tombstones, one per identity), p50`,
    unit: 'ms',
    better: 'lower',
    goal: { op: '<=', ratio: 2 },
    run: () => tombstoneInsertTimes(),
  },
];

/**
 * A table of TOMBSTONES tombstones of as many providers (written directly: signing and storing them one by one
 * would take minutes), then tombstones of new identities judged one by one, as gossip delivers them: by a
 * discovery whose limit the table fills (each evicts one) and by one whose limit it does not, in alternating rounds.
 */
async function tombstoneInsertTimes(): Promise<Measurement> {
  const dir = tempDir('bench-tombstones-');
  const db = openDatabase(join(dir, 'market.db'));
  try {
    migrate(db, marketMigrations);
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const receivedAt = new Date().toISOString();
    db.transaction(() => {
      for (let i = 0; i < TOMBSTONES; i++)
        db.run(
          `INSERT INTO market_offer (offer_id, provider_id, body, expires_at, received_at, own, unsubscribed, tombstone)
           VALUES (?, ?, '{}', ?, ?, 0, 1, '{}')`,
          randomOfferId(),
          `0x${randomBytes(20).toString('hex')}`,
          expiresAt,
          receivedAt,
        );
    });
    const full: number[] = [];
    const notFull: number[] = [];
    for (let round = 0; round < 4; round++) {
      full.push(...timeTombstones(db, TOMBSTONES, 50));
      notFull.push(...timeTombstones(db, TOMBSTONES * 10, 50));
    }
    const held = db.get<{ n: number }>('SELECT COUNT(*) AS n FROM market_offer')!.n;
    if (held !== TOMBSTONES + notFull.length)
      throw new Error(`${held} tombstones held: the full store did not stay at its limit`);
    return {
      value: percentile(full, 50),
      baseline: percentile(notFull, 50),
      baselineName: 'same table, limit not reached, p50',
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Milliseconds each of `count` new identities' tombstones takes to be judged and stored, under `tombstoneLimit`. */
function timeTombstones(db: Database, tombstoneLimit: number, count: number): number[] {
  const bus = new LocalBus();
  bus.setNodeIds(nodeIdFromSecret(randomBytes(32)));
  const discovery = new OfferDiscovery(
    { bus, db, logger: silentLogger },
    { antiEntropyMs: 0, tombstoneLimit },
  );
  discovery.storageStats(); // the counts are built from the table here, not in the first timed call
  const tombstones = Array.from({ length: count }, () => signedTombstone(randomBytes(32), randomOfferId()));
  return tombstones.map((tombstone) => {
    const start = performance.now();
    const verdict = discovery.judgeTombstone(tombstone);
    if (verdict !== 'accept') throw new Error(`a new identity's tombstone was answered ${verdict}`);
    return performance.now() - start;
  });
}
