/**
 * Many nodes on one IP address (a provider farm behind one NAT, the local network on loopback) must all hear a
 * broadcast by gossip alone. Gossipsub's default IP colocation penalty scored every node past the tenth on an
 * address below the publish threshold, and gossip then reached nobody: this test guards against that.
 */
import { after, before, describe, it } from 'node:test';
import type { RelayServer } from '../../src/core/net/index.ts';
import { eventually, startNode, startRelay, type TestNode } from '../support/net.ts';

const NODES = 14;

describe('gossip among many nodes on one address', () => {
  let relay: RelayServer;
  const nodes: TestNode[] = [];

  before(async () => {
    const started = await startRelay();
    relay = started.relay;
    for (let i = 0; i < NODES; i += 7)
      nodes.push(...(await Promise.all(Array.from({ length: 7 }, () => startNode(started.address)))));
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await relay?.stop();
  });

  it('delivers every broadcast to every node, whoever publishes it', async () => {
    const heard = new Map<string, Set<string>>();
    for (const node of nodes)
      node.bus.subscribe<{ id: string }>('test/crowd', (message) => {
        const set = heard.get(message.id) ?? new Set<string>();
        set.add(node.nodeId);
        heard.set(message.id, set);
      });
    // Meshes form at gossipsub heartbeats; publish from several nodes until each message is everywhere.
    for (const publisher of [nodes[0]!, nodes[NODES - 1]!, nodes[NODES >> 1]!]) {
      const id = `from-${publisher.nodeId}`;
      const others = () => nodes.filter((n) => n !== publisher && heard.get(id)?.has(n.nodeId)).length;
      await eventually(
        async () => {
          if (others() === NODES - 1) return true;
          await publisher.bus.publish('test/crowd', { id });
          await new Promise((resolve) => setTimeout(resolve, 500));
          return others() === NODES - 1;
        },
        `a broadcast of ${publisher.nodeId} on all ${NODES - 1} other nodes`,
        20_000,
      );
    }
  });
});
