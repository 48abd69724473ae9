/**
 * A relay judges offers before it forwards them, as nodes do: nodes that know only the relay hear the honest
 * offers and none of a flood of invalid ones. Real libp2p on loopback, all in this process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { nodeIdFromSecret, toHex } from '../../src/core/crypto/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import { DEFAULT_DISCOVERY_OPTIONS, marketRelayChecks } from '../../src/core/market/index.ts';
import {
  OFFERS_TOPIC,
  type SignedOffer,
  type SignedUnsubscribe,
  UNSUBSCRIBES_TOPIC,
} from '../../src/core/model/market.ts';
import { GOSSIP_PREFIX, type PeerLimits, RelayServer } from '../../src/core/net/index.ts';
import { tempDir } from '../support/daemon.ts';
import { eventually, startNode } from '../support/net.ts';
import { randomOfferId, signedOffer, signedTombstone } from '../support/signed-market.ts';

/** A relay as `golem-ts net relay` builds it (the market's checks on its topics). */
async function marketRelay(
  peerLimits?: Partial<PeerLimits>,
): Promise<{ relay: RelayServer; address: string }> {
  const relay = new RelayServer({
    dataDir: tempDir('relay-'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    logger: silentLogger,
    validators: marketRelayChecks(DEFAULT_DISCOVERY_OPTIONS),
    peerLimits,
  });
  await relay.start();
  return { relay, address: relay.addresses()[0]! };
}

describe('a relay under an offer flood', () => {
  it('forwards honest offers and none of a flood of invalid ones', async () => {
    const { relay, address } = await marketRelay();
    // Nodes that know only the relay; none of them validates, so what the listener hears is what the relay passed.
    const flooder = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    const honest = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    const listener = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    try {
      const heard: SignedOffer[] = [];
      listener.bus.subscribe<SignedOffer>(OFFERS_TOPIC, (offer) => {
        heard.push(offer);
      });
      flooder.bus.subscribe(OFFERS_TOPIC, () => {});
      honest.bus.subscribe(OFFERS_TOPIC, () => {});
      const topic = GOSSIP_PREFIX + OFFERS_TOPIC;
      await eventually(
        () =>
          flooder.net.host!.services.pubsub.getSubscribers(topic).length > 0 &&
          honest.net.host!.services.pubsub.getSubscribers(topic).length > 0 &&
          relay.host!.services.pubsub.getSubscribers(topic).length >= 3,
        'the relay carries the offers topic',
      );
      const secret = new Uint8Array(randomBytes(32));
      // Within the relay's gossip rate (burst 500), so only the check can stop them: a forged signature, a
      // tampered offer, and junk.
      for (let i = 0; i < 100; i++) {
        const offer = signedOffer(secret, { properties: { 'golem.node.id.name': `flood-${i}` } });
        const forged = { ...offer, signature: toHex(randomBytes(64)) };
        const tampered = { ...offer, properties: { 'golem.node.id.name': 'other' } };
        await flooder.bus.publish(OFFERS_TOPIC, i % 3 === 0 ? forged : i % 3 === 1 ? tampered : { junk: i });
        if (i === 50)
          await honest.bus.publish(
            OFFERS_TOPIC,
            signedOffer(secret, { properties: { 'golem.node.id.name': 'honest' } }),
          );
      }
      await eventually(
        () => heard.some((offer) => offer.properties['golem.node.id.name'] === 'honest'),
        'the honest offer through the relay',
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(
        heard.map((offer) => offer.properties?.['golem.node.id.name']),
        ['honest'],
        'the listener heard only the honest offer',
      );
    } finally {
      await Promise.all([flooder.stop(), honest.stop(), listener.stop()]);
      await relay.stop();
    }
  });

  it('forwards honest tombstones and none of forged, oversized, malformed or expired ones, and bounds a flood', async () => {
    const { relay, address } = await marketRelay({ gossipPerSecond: 5, gossipBurst: 20 });
    const flooder = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    const honest = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    const listener = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    const stops = [flooder.stop, honest.stop, listener.stop];
    try {
      const heard: SignedUnsubscribe[] = [];
      listener.bus.subscribe<SignedUnsubscribe>(UNSUBSCRIBES_TOPIC, (tombstone) => {
        heard.push(tombstone);
      });
      flooder.bus.subscribe(UNSUBSCRIBES_TOPIC, () => {});
      honest.bus.subscribe(UNSUBSCRIBES_TOPIC, () => {});
      const topic = GOSSIP_PREFIX + UNSUBSCRIBES_TOPIC;
      await eventually(
        () =>
          flooder.net.host!.services.pubsub.getSubscribers(topic).length > 0 &&
          honest.net.host!.services.pubsub.getSubscribers(topic).length > 0 &&
          relay.host!.services.pubsub.getSubscribers(topic).length >= 3,
        'the relay carries the unsubscribes topic',
      );
      const secret = new Uint8Array(randomBytes(32));
      // Within the flooder's burst (20), so only the check can stop them.
      const bad: unknown[] = [
        { ...signedTombstone(secret, randomOfferId()), signature: toHex(randomBytes(64)) },
        { ...signedTombstone(secret, randomOfferId()), providerId: nodeIdFromSecret(randomBytes(32)) },
        { ...signedTombstone(secret, randomOfferId()), junk: 'x'.repeat(10_000) },
        signedTombstone(secret, 'y'.repeat(2_000)),
        signedTombstone(secret, randomOfferId(), { expiresAt: new Date(Date.now() - 1_000).toISOString() }),
        { junk: 1 },
        'not a tombstone',
      ];
      for (const message of bad) await flooder.bus.publish(UNSUBSCRIBES_TOPIC, message);
      const withdrawn = randomOfferId();
      await honest.bus.publish(UNSUBSCRIBES_TOPIC, signedTombstone(secret, withdrawn));
      await eventually(
        () => heard.some((tombstone) => tombstone.offerId === withdrawn),
        'the honest tombstone through the relay',
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(
        heard.map((tombstone) => tombstone.offerId),
        [withdrawn],
        'the listener heard only the honest tombstone',
      );
      // The forger's rejected messages were strikes enough to cut it off at the relay.
      await eventually(() => flooder.net.host!.getPeers().length === 0, 'the forger cut off by the relay');
      // A flood of validly signed tombstones (another identity) passes the relay only at its sender's rate.
      const spammer = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
      stops.push(() => spammer.stop());
      spammer.bus.subscribe(UNSUBSCRIBES_TOPIC, () => {});
      await eventually(
        () => spammer.net.host!.services.pubsub.getSubscribers(topic).length > 0,
        'the spammer meets the relay',
      );
      heard.length = 0;
      const started = Date.now();
      for (let i = 0; i < 80; i++)
        await spammer.bus.publish(UNSUBSCRIBES_TOPIC, signedTombstone(secret, randomOfferId()));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const bound = 20 + 5 * ((Date.now() - started) / 1000) + 1;
      assert.ok(heard.length > 0, 'some of the flood within the rate passes');
      assert.ok(
        heard.length <= bound,
        `${heard.length} tombstones of a flood of 80 passed (bound ${bound.toFixed(0)})`,
      );
    } finally {
      await Promise.all(stops.map((stop) => stop()));
      await relay.stop();
    }
  });
});
