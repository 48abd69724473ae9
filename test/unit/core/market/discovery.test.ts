import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import {
  nodeIdFromSecret,
  publicKeyFromSecret,
  sha256,
  signDigest,
  toHex,
} from '../../../../src/core/crypto/index.ts';
import { type Database, openDatabase } from '../../../../src/core/db/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import {
  OfferDiscovery,
  offerSigningMessage,
  unsubscribeSigningMessage,
} from '../../../../src/core/market/index.ts';
import { OFFERS_TOPIC, type SignedOffer, UNSUBSCRIBES_TOPIC } from '../../../../src/core/model/market.ts';
import { publishingNode } from './discovery/fixtures.ts';

const node = (
  network: MemoryNetwork | undefined,
  options: { perProviderLimit?: number; totalLimit?: number } = {},
  db?: Database,
) => publishingNode(options, network, db);

const content = (providerId: string, name = 'p') => ({
  providerId,
  properties: { 'golem.node.id.name': name, 'golem.inf.mem.gib': 4 },
  constraints: '()',
  createdAt: new Date().toISOString(),
  expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
});

describe('offer discovery', () => {
  it('announces a signed offer to every node at once', async () => {
    const network = new MemoryNetwork();
    const [a, b, c] = await Promise.all([node(network), node(network), node(network)]);
    const offer = await a.discovery.publish(content(a.nodeId));
    assert.match(offer.offerId, /^[0-9a-f]{32}-[0-9a-f]{64}$/);
    assert.deepEqual(b.discovery.get(offer.offerId), offer);
    assert.deepEqual(c.discovery.get(offer.offerId), offer);
  });

  it('refuses forged, tampered and expired offers', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network), node(network)]);
    const offer = await a.discovery.publish(content(a.nodeId));
    const fresh = await node(undefined);
    assert.equal(
      fresh.discovery.receive({ ...offer, properties: { ...offer.properties, 'golem.inf.mem.gib': 400 } }),
      false,
      'tampered properties',
    );
    assert.equal(
      fresh.discovery.receive({ ...offer, providerId: b.nodeId }),
      false,
      'claims another provider',
    );
    // Signed by someone else over a correct id of content that names A as provider.
    const intruder = new Uint8Array(randomBytes(32));
    const forged: SignedOffer = {
      ...offer,
      signature: toHex(signDigest(intruder, sha256(offerSigningMessage(offer.offerId)))),
    };
    assert.equal(fresh.discovery.receive(forged), false, 'signed by a stranger');
    assert.equal(
      fresh.discovery.receive({ ...forged, publicKey: toHex(publicKeyFromSecret(intruder)) }),
      false,
      'signed by a stranger who sends his own key',
    );
    assert.equal(fresh.discovery.receive({ ...offer, publicKey: '0x02' }), false, 'a key that is no point');
    assert.equal(fresh.discovery.receive({ ...offer, signature: '0x1234' }), false, 'a truncated signature');
    const { publicKey: _dropped, ...keyless } = offer;
    assert.equal(fresh.discovery.receive(keyless), false, 'no public key');
    assert.equal(
      fresh.discovery.receive({ ...offer, expiresAt: new Date(Date.now() - 1000).toISOString() }),
      false,
      'expired',
    );
    assert.equal(fresh.discovery.receive('garbage'), false);
    assert.equal(fresh.discovery.receive(offer), true, 'the genuine offer');
  });

  it('lets only the owner unsubscribe, and a tombstone stops re-announcements', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network), node(network)]);
    const offer = await a.discovery.publish(content(a.nodeId));
    const removed: string[] = [];
    b.discovery.onOfferRemoved((id, reason) => removed.push(`${id}:${reason}`));

    const intruder = new Uint8Array(randomBytes(32));
    const forgedTombstone = {
      offerId: offer.offerId,
      providerId: nodeIdFromSecret(intruder),
      expiresAt: offer.expiresAt,
      publicKey: toHex(publicKeyFromSecret(intruder)),
      signature: toHex(signDigest(intruder, sha256(unsubscribeSigningMessage(offer.offerId)))),
    };
    await b.bus.publish(UNSUBSCRIBES_TOPIC, forgedTombstone);
    assert.ok(b.discovery.get(offer.offerId), 'a stranger cannot unsubscribe the offer');
    await assert.rejects(b.discovery.unsubscribe(offer.offerId), /not an offer of this node/);

    await a.discovery.unsubscribe(offer.offerId);
    assert.equal(b.discovery.get(offer.offerId), undefined);
    assert.deepEqual(removed, [`${offer.offerId}:unsubscribed`]);
    await a.bus.publish(OFFERS_TOPIC, offer);
    assert.equal(b.discovery.get(offer.offerId), undefined, 'a late copy does not resurrect it');
  });

  it('lets a late joiner pull every offer and tombstone it lacks', async () => {
    const network = new MemoryNetwork();
    const [a, b] = await Promise.all([node(network), node(network)]);
    const offers = [];
    for (let i = 0; i < 30; i++)
      offers.push(
        await (i % 2 === 0 ? a : b).discovery.publish(content(i % 2 === 0 ? a.nodeId : b.nodeId, `o${i}`)),
      );
    await a.discovery.unsubscribe(offers[0]!.offerId);
    const late = await node(network);
    assert.equal(late.discovery.count(), 0);
    const pulled = await late.discovery.reconcileWith(a.nodeId);
    assert.equal(pulled, 29);
    assert.equal(late.discovery.count(), 29);
    assert.equal(late.discovery.get(offers[0]!.offerId), undefined);
    assert.equal(await late.discovery.reconcileWith(b.nodeId), 0, 'nothing new from the second peer');
    assert.equal(
      late.discovery.setDigest(),
      b.discovery.setDigest(),
      'same offers and tombstones, same digest',
    );
    assert.deepEqual(late.discovery.reconciliationStats(), { rounds: 2, inSync: 1, pulled: 29 });

    // While the late node is away, a withdraws an offer and publishes one: the digests differ, and one round repairs both.
    network.leave(late.nodeId);
    await a.discovery.unsubscribe(offers[2]!.offerId);
    const fresh = await a.discovery.publish(content(a.nodeId, 'fresh'));
    network.join(late.bus);
    assert.notEqual(late.discovery.setDigest(), a.discovery.setDigest());
    assert.equal(await late.discovery.reconcileWith(a.nodeId), 1);
    assert.ok(late.discovery.get(fresh.offerId));
    assert.equal(late.discovery.get(offers[2]!.offerId), undefined, 'the withdrawal came along');
    assert.equal(late.discovery.setDigest(), a.discovery.setDigest());
    assert.deepEqual(late.discovery.reconciliationStats(), { rounds: 3, inSync: 1, pulled: 30 });
  });

  it('bounds what one provider can store, so a flood cannot push out others', async () => {
    const network = new MemoryNetwork();
    const [honest, flooder] = await Promise.all([node(network), node(network)]);
    const observer = await node(network, { perProviderLimit: 5, totalLimit: 8 });
    const kept = await honest.discovery.publish(content(honest.nodeId, 'honest'));
    for (let i = 0; i < 20; i++) await flooder.discovery.publish(content(flooder.nodeId, `flood${i}`));
    assert.ok(observer.discovery.get(kept.offerId), 'the honest offer survives');
    assert.equal(observer.discovery.list().filter((o) => o.providerId === flooder.nodeId).length, 5);
  });

  it('keeps known offers across a restart', async () => {
    const network = new MemoryNetwork();
    const db = openDatabase(':memory:');
    const a = await node(network);
    const b = await node(network, {}, db);
    const offer = await a.discovery.publish(content(a.nodeId));
    b.discovery.stop();
    const again = new OfferDiscovery({ bus: b.bus, db, logger: silentLogger }, { antiEntropyMs: 0 });
    assert.deepEqual(again.get(offer.offerId), offer);
  });
});
