/**
 * A node reachable only through its relay (behind NAT), called by a node it can reach directly (same machine here;
 * a public caller or one on the same LAN in the field): the relayed connection is upgraded to a direct one and the
 * relayed one is let go, freeing the relay. AutoNAT is off on both: its dial-back can open a direct
 * connection too, but only when the caller happens to ask; the upgrade under test does it every time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RelayServer } from '../../src/core/net/index.ts';
import { eventually, startNode, startRelay, type TestNode } from '../support/net.ts';

describe('a relayed connection upgraded to direct (in-process nodes, real sockets)', () => {
  let relay: RelayServer;
  let hidden: TestNode;
  let caller: TestNode;

  before(async () => {
    const started = await startRelay();
    relay = started.relay;
    // No neighbourhood of its own, so the only direct connection it can get is the upgrade under test.
    hidden = await startNode(started.address, [], { YA_NET_NEIGHBOURS: '0', YA_NET_AUTONAT: '0' });
    caller = await startNode(started.address, undefined, { YA_NET_AUTONAT: '0' });
  });
  after(async () => {
    await Promise.all([hidden, caller].map((node) => node?.stop()));
    await relay?.stop();
  });

  const connectionsBetween = () =>
    caller.net
      .host!.getConnections(hidden.net.host!.peerId)
      .map((c) => (c.limits === undefined ? 'direct' : 'relayed'));

  it('calls through the relay, then both sides hold only a direct connection', async () => {
    assert.deepEqual(await caller.bus.call(`/net/${hidden.nodeId}/net/Ping`), {
      pong: true,
      caller: caller.nodeId,
    });
    await eventually(
      () => connectionsBetween().length > 0 && connectionsBetween().every((kind) => kind === 'direct'),
      'only a direct connection left between the nodes',
    );
    assert.equal(caller.net.peers().find((p) => p.nodeId === hidden.nodeId)?.connection, 'direct');
    assert.equal(hidden.net.peers().find((p) => p.nodeId === caller.nodeId)?.connection, 'direct');
    assert.deepEqual(await caller.bus.call(`/net/${hidden.nodeId}/net/Ping`), {
      pong: true,
      caller: caller.nodeId,
    });
  });
});
