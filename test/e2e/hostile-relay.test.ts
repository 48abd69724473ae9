/**
 * A relay judges offers before it forwards them, as nodes do: nodes that know only the relay hear the honest
 * offers and none of a flood of invalid ones. Real libp2p on loopback, all in this process.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  nodeIdFromSecret,
  publicKeyFromSecret,
  sha256,
  signDigest,
  toHex,
} from '../../src/core/crypto/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import { subscriptionId } from '../../src/core/market/ids.ts';
import {
  DEFAULT_DISCOVERY_OPTIONS,
  offerGossipVerdict,
  offerSigningMessage,
} from '../../src/core/market/index.ts';
import { OFFERS_TOPIC, type SignedOffer } from '../../src/core/model/market.ts';
import { GOSSIP_PREFIX, RelayServer } from '../../src/core/net/index.ts';
import { tempDir } from '../support/daemon.ts';
import { eventually, startNode } from '../support/net.ts';

function signedOffer(secret: Uint8Array, name: string): SignedOffer {
  const body = {
    providerId: nodeIdFromSecret(secret),
    properties: { 'golem.node.id.name': name } as Record<string, unknown>,
    constraints: '()',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
  };
  const offerId = subscriptionId(body);
  return {
    offerId,
    ...body,
    publicKey: toHex(publicKeyFromSecret(secret)),
    signature: toHex(signDigest(secret, sha256(offerSigningMessage(offerId)))),
  };
}

describe('a relay under an offer flood', () => {
  it('forwards honest offers and none of a flood of invalid ones', async () => {
    // As `golem-ts net relay` builds it.
    const relay = new RelayServer({
      dataDir: tempDir('relay-'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logger: silentLogger,
      validators: { [OFFERS_TOPIC]: (message) => offerGossipVerdict(message, DEFAULT_DISCOVERY_OPTIONS) },
    });
    await relay.start();
    const address = relay.addresses()[0]!;
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
        const offer = signedOffer(secret, `flood-${i}`);
        const forged = { ...offer, signature: toHex(randomBytes(64)) };
        const tampered = { ...offer, properties: { 'golem.node.id.name': 'other' } };
        await flooder.bus.publish(OFFERS_TOPIC, i % 3 === 0 ? forged : i % 3 === 1 ? tampered : { junk: i });
        if (i === 50) await honest.bus.publish(OFFERS_TOPIC, signedOffer(secret, 'honest'));
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
});
