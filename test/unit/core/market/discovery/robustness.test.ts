/**
 * What the first discovery tests leave out: malformed calls to the public handlers, bounded replies, the
 * periodic anti-entropy round, reconciliation on `peer-connected`, and expiry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBus, MemoryNetwork } from '../../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../../src/core/config/index.ts';
import { type Database, migrate, openDatabase } from '../../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../../src/core/errors/index.ts';
import { IdentityService } from '../../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../../src/core/log/index.ts';
import { marketMigrations, OfferDiscovery } from '../../../../../src/core/market/index.ts';
import type { SignedOffer } from '../../../../../src/core/model/market.ts';
import {
  NET_EVENTS_TOPIC,
  NetAddress,
  type NetEvent,
  type PeerInfo,
} from '../../../../../src/core/model/net.ts';

interface Node {
  bus: LocalBus;
  db: Database;
  discovery: OfferDiscovery;
  nodeId: string;
}

async function node(network: MemoryNetwork | undefined, antiEntropyMs = 0): Promise<Node> {
  const bus = new LocalBus();
  const db = openDatabase(':memory:');
  await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
  migrate(db, marketMigrations);
  const discovery = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs });
  discovery.start();
  network?.join(bus);
  return { bus, db, discovery, nodeId: bus.nodeId! };
}

const content = (providerId: string, name: string, lifetimeMs = 3_600_000) => ({
  providerId,
  properties: { 'golem.node.id.name': name },
  constraints: '()',
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + lifetimeMs).toISOString(),
});

/** Resolves once `check` holds, polling; the test runner's own timeout bounds a failure. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('offer discovery: public handlers', () => {
  it('answers malformed calls from another node with a coded error and keeps serving', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network), node(network)]);
    const offer = await a.discovery.publish(content(a.nodeId, 'p'));
    for (const message of [null, 'ids', { ids: 'x' }, { ids: { length: 5 } }, 42]) {
      await assert.rejects(
        b.bus.call(`/net/${a.nodeId}/market/discovery/Get`, message),
        (error) => isGolemError(error) && typeof error.code === 'string' && error.code.length > 0,
        `Get ${JSON.stringify(message)}`,
      );
    }
    for (const message of [null, 'x', { after: { $gt: '' }, limit: 'all' }, { limit: -5 }, [1, 2]]) {
      const page = await b.bus.call<{ ids: string[] }>(`/net/${a.nodeId}/market/discovery/Ids`, message);
      assert.ok(Array.isArray(page.ids), `Ids ${JSON.stringify(message)}`);
      const tombstones = await b.bus.call<unknown[]>(`/net/${a.nodeId}/market/discovery/Tombstones`, message);
      assert.ok(Array.isArray(tombstones), `Tombstones ${JSON.stringify(message)}`);
    }
    const offers = await b.bus.call<SignedOffer[]>(`/net/${a.nodeId}/market/discovery/Get`, {
      ids: [offer.offerId, 7, null, { offerId: offer.offerId }],
    });
    assert.deepEqual(offers, [offer], 'non-string ids are skipped, the valid one still answered');
  });

  it('bounds reply sizes whatever the caller asks for', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network), node(network)]);
    const published: SignedOffer[] = [];
    for (let i = 0; i < 5; i++) published.push(await a.discovery.publish(content(a.nodeId, `o${i}`)));
    const manyIds = Array.from({ length: 5_000 }, () => published[0]!.offerId);
    const offers = await b.bus.call<SignedOffer[]>(`/net/${a.nodeId}/market/discovery/Get`, { ids: manyIds });
    assert.ok(offers.length < manyIds.length, `Get answered ${offers.length} of ${manyIds.length}`);
    assert.ok(offers.length <= 1_000);
    const page = await b.bus.call<{ ids: string[]; next?: string }>(`/net/${a.nodeId}/market/discovery/Ids`, {
      limit: 1_000_000,
    });
    assert.deepEqual(page.ids, published.map((o) => o.offerId).sort(), 'a huge limit still answers one page');
    const firstTwo = await b.bus.call<{ ids: string[]; next?: string }>(
      `/net/${a.nodeId}/market/discovery/Ids`,
      {
        limit: 2,
      },
    );
    assert.equal(firstTwo.ids.length, 2);
    assert.equal(typeof firstTwo.next, 'string', 'a full page says where the next one starts');
  });
});

describe('offer discovery: repair and expiry', () => {
  it('a periodic anti-entropy round pulls offers that gossip never delivered', async () => {
    const network = new MemoryNetwork();
    const a = await node(network);
    // Published before b exists and no peer-connected event follows: only anti-entropy can repair this.
    const offer = await a.discovery.publish(content(a.nodeId, 'missed'));
    const b = await node(network, 50);
    b.bus.bind(NetAddress.Peers, (): PeerInfo[] => [
      { nodeId: a.nodeId, peerId: 'stand-in', addrs: [], connection: 'direct', latencyMs: null },
    ]);
    const seen: string[] = [];
    b.discovery.onOffer((o) => seen.push(o.offerId));
    await until(() => b.discovery.get(offer.offerId) !== undefined);
    assert.deepEqual(b.discovery.get(offer.offerId), offer);
    assert.deepEqual(seen, [offer.offerId], 'listeners hear about a repaired offer once');
    b.discovery.stop();
  });

  it('reconciles with a peer as soon as the net reports it connected', async () => {
    const network = new MemoryNetwork();
    const a = await node(network);
    const offers: SignedOffer[] = [];
    for (let i = 0; i < 3; i++) offers.push(await a.discovery.publish(content(a.nodeId, `o${i}`)));
    await a.discovery.unsubscribe(offers[0]!.offerId);
    const b = await node(network);
    assert.equal(b.discovery.list().length, 0);
    const connected: NetEvent = { type: 'peer-connected', nodeId: a.nodeId };
    await b.bus.publish(NET_EVENTS_TOPIC, connected);
    await until(() => b.discovery.list().length === 2);
    assert.deepEqual(
      b.discovery
        .list()
        .map((o) => o.offerId)
        .sort(),
      [offers[1]!.offerId, offers[2]!.offerId].sort(),
    );
    assert.equal(b.discovery.get(offers[0]!.offerId), undefined, 'the unsubscribed offer is not pulled');
  });

  it('drops an offer once it expires, on every node, and tells listeners why', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network), node(network)]);
    const removed: string[] = [];
    b.discovery.onOfferRemoved((id, reason) => removed.push(`${id}:${reason}`));
    const shortLived = await a.discovery.publish(content(a.nodeId, 'short', 300));
    const longLived = await a.discovery.publish(content(a.nodeId, 'long'));
    assert.ok(b.discovery.get(shortLived.offerId));
    await until(() => Date.now() > Date.parse(shortLived.expiresAt));
    assert.deepEqual(
      b.discovery.list().map((o) => o.offerId),
      [longLived.offerId],
      'list() hides an expired offer before any sweep',
    );
    b.discovery.sweepExpired();
    assert.deepEqual(removed, [`${shortLived.offerId}:expired`]);
    const page = await b.bus.call<{ ids: string[] }>(`/net/${a.nodeId}/market/discovery/Ids`, {});
    assert.deepEqual(page.ids, [longLived.offerId], 'an expired offer is not offered to peers');
  });
});
