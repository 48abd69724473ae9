import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LocalBus } from '../../src/core/bus/index.ts';
import { resolveConfig } from '../../src/core/config/index.ts';
import { openDatabase } from '../../src/core/db/index.ts';
import { IdentityService } from '../../src/core/identity/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import { NET_EVENTS_TOPIC, type NetEvent } from '../../src/core/model/net.ts';
import { NetService, RelayServer } from '../../src/core/net/index.ts';
import { tempDir } from '../support/daemon.ts';
import { eventually, startNode, type TestNode } from '../support/net.ts';

describe('net: events, relay limits, persisted peers, WebSockets (in-process nodes, real sockets)', () => {
  let relay: RelayServer;
  let relayAddress: string;
  const nodes: TestNode[] = [];

  before(async () => {
    // A relay that holds a single reservation: the second node must be refused one.
    relay = new RelayServer({
      dataDir: tempDir('relay-'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logger: silentLogger,
      limits: { maxReservations: 1 },
    });
    await relay.start();
    relayAddress = relay.addresses()[0]!;
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await relay?.stop();
  });

  it('publishes peer-connected and peer-disconnected with node ids on the local events topic', async () => {
    const watcher = await startNode(relayAddress);
    nodes.push(watcher);
    const events: NetEvent[] = [];
    watcher.bus.subscribe<NetEvent>(NET_EVENTS_TOPIC, (event) => {
      events.push(event);
    });
    const visitor = await startNode();
    await visitor.net.host!.dial(watcher.net.host!.getMultiaddrs()[0]!);
    await eventually(
      () => events.some((e) => e.type === 'peer-connected' && e.nodeId === visitor.nodeId),
      'peer-connected of the visitor',
    );
    await visitor.stop();
    await eventually(
      () => events.some((e) => e.type === 'peer-disconnected' && e.nodeId === visitor.nodeId),
      'peer-disconnected of the visitor',
    );
  });

  it('a relay at its reservation limit refuses the next node, and keeps serving the first', async () => {
    const first = nodes[0]!;
    const circuit = (node: TestNode) =>
      node.net.host!.getMultiaddrs().some((a) => a.toString().includes('/p2p-circuit'));
    assert.ok(circuit(first), 'the first node holds a reservation');
    const second = await startNode(relayAddress);
    nodes.push(second);
    assert.ok(!circuit(second), 'no reservation beyond the limit');
    assert.ok(second.net.status().connectedPeers >= 1, 'still connected to the relay for lookups and gossip');
    assert.deepEqual(await second.bus.call(`/net/${first.nodeId}/net/Ping`), {
      pong: true,
      caller: second.nodeId,
    });
  });

  it('remembers the nodes it met and dials them again after a restart, with no relay', async () => {
    const known = await startNode();
    nodes.push(known);
    const db = openDatabase(':memory:');
    const config = resolveConfig({}, { YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0' });
    const run = async () => {
      const bus = new LocalBus();
      const identity = new IdentityService({ db, bus, logger: silentLogger, config });
      await identity.start();
      const net = new NetService({ db, bus, logger: silentLogger, config });
      await net.start();
      return {
        net,
        stop: async () => {
          await net.stop();
          await identity.stop();
        },
      };
    };
    try {
      const first = await run();
      await first.net.host!.dial(known.net.host!.getMultiaddrs()[0]!);
      await eventually(
        () =>
          db.get('SELECT 1 FROM net_peer WHERE node_id = ? AND addrs != ?', known.nodeId, '[]') !== undefined,
        'the known node stored with its addresses',
      );
      await first.stop();
      const second = await run();
      try {
        await eventually(
          () => second.net.peers().some((p) => p.nodeId === known.nodeId),
          'the known node dialled again at start',
        );
      } finally {
        await second.stop();
      }
    } finally {
      db.close();
    }
  });

  it('carries bus calls over WebSockets as well as TCP', async () => {
    const db = openDatabase(':memory:');
    const bus = new LocalBus();
    const config = resolveConfig({}, { YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0/ws' });
    const identity = new IdentityService({ db, bus, logger: silentLogger, config });
    await identity.start();
    const net = new NetService({ db, bus, logger: silentLogger, config });
    await net.start();
    const caller = await startNode();
    nodes.push(caller);
    try {
      const address = net.host!.getMultiaddrs()[0]!;
      assert.match(address.toString(), /\/ws\//);
      await caller.net.host!.dial(address);
      assert.deepEqual(await caller.bus.call(`/net/${bus.nodeId}/net/Ping`), {
        pong: true,
        caller: caller.nodeId,
      });
      assert.match(caller.net.peers().find((p) => p.nodeId === bus.nodeId)!.addrs[0]!, /\/ws/);
    } finally {
      await net.stop();
      await identity.stop();
      db.close();
    }
  });
});
