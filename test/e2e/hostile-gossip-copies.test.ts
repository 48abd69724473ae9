/**
 * Copies of gossip a node has seen already are not counted against the neighbour that forwards them: in a mesh
 * every neighbour passes on what crosses it, and counting those copies made an honest neighbour that forwarded a
 * flood spend its whole rate, so its own next message was dropped unread. Real libp2p on loopback.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerId } from '@libp2p/interface';
import type { PeerLimits } from '../../src/core/net/index.ts';
import { eventually, startNode } from '../support/net.ts';

const LIMITS: Partial<PeerLimits> = { gossipPerSecond: 5, gossipBurst: 20, strikesToBan: 3 };
const ALONE = { YA_NET_NEIGHBOURS: '0', YA_NET_AUTONAT: '0' };

type Rpc = { subscriptions: unknown[]; messages: unknown[]; control?: unknown };

describe('gossip copies', () => {
  it('a neighbour forwarding copies of seen messages keeps its rate for its own', async () => {
    const victim = await startNode(undefined, undefined, ALONE, { limits: LIMITS });
    const sender = await startNode(undefined, undefined, ALONE);
    const neighbour = await startNode(undefined, undefined, ALONE);
    try {
      const pubsub = victim.net.host!.services.pubsub as unknown as {
        handleReceivedRpc(from: PeerId, rpc: Rpc): Promise<void>;
      };
      // What reaches the victim's gossipsub past the guard, kept to be sent again as copies.
      const seen: unknown[] = [];
      const guarded = pubsub.handleReceivedRpc.bind(pubsub);
      pubsub.handleReceivedRpc = async (from, rpc) => {
        seen.push(...rpc.messages);
        return guarded(from, rpc);
      };
      const heard: unknown[] = [];
      victim.bus.subscribe('test/copies', (message) => {
        heard.push(message);
      });
      sender.bus.subscribe('test/copies', () => {});
      neighbour.bus.subscribe('test/copies', () => {});
      await sender.net.host!.dial(victim.net.host!.getMultiaddrs()[0]!);
      await neighbour.net.host!.dial(victim.net.host!.getMultiaddrs()[0]!);
      await eventually(
        () =>
          sender.net.host!.services.pubsub.getSubscribers('golem-ts/bus/test/copies').length > 0 &&
          neighbour.net.host!.services.pubsub.getSubscribers('golem-ts/bus/test/copies').length > 0,
        'both peers know the victim takes the topic',
      );
      for (let i = 0; i < 15; i++) await sender.bus.publish('test/copies', { i });
      await eventually(() => heard.length === 15, 'the sender’s 15 messages');
      const copies = seen.slice(0, 15);
      const throttledBefore = victim.net.status().guard!.gossipThrottled;
      // 150 copies from the neighbour, seven times its burst.
      for (let round = 0; round < 10; round++)
        await pubsub.handleReceivedRpc(neighbour.net.host!.peerId, { subscriptions: [], messages: copies });
      assert.equal(victim.net.status().guard!.gossipThrottled, throttledBefore, 'no copy was counted');
      await neighbour.bus.publish('test/copies', 'the neighbour’s own');
      await eventually(() => heard.includes('the neighbour’s own'), 'the neighbour’s own message');
      assert.equal(heard.length, 16, 'the copies were not delivered again');
    } finally {
      await Promise.all([victim.stop(), sender.stop(), neighbour.stop()]);
    }
  });
});
