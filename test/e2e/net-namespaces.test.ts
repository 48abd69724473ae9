/**
 * Two nodes in network namespaces that cannot route to each other reach each other through a relay in a third
 * namespace. The test makes the namespaces and veth links itself and removes them afterwards; where namespaces
 * cannot be made (not root, no iproute2) it is skipped with the reason.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ControlConnection } from '../../src/core/control/index.ts';
import { type FindResult, NetAddress, type PingResult } from '../../src/core/model/net.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess } from '../support/daemon.ts';
import {
  createNamespaces,
  inNamespace,
  removeNamespaces,
  runInNamespace,
  vethLink,
} from '../support/netns.ts';

const tag = randomBytes(3).toString('hex');
const ns = { a: `gts-a-${tag}`, b: `gts-b-${tag}`, r: `gts-r-${tag}` };

function setUpNamespaces(): string | undefined {
  const reason = createNamespaces(Object.values(ns));
  if (reason !== undefined) return reason;
  vethLink(ns.a, '10.231.1.1/24', ns.r, '10.231.1.2/24', `a${tag}`);
  vethLink(ns.b, '10.231.2.1/24', ns.r, '10.231.2.2/24', `b${tag}`);
  return undefined;
}

const tearDownNamespaces = () => removeNamespaces(Object.values(ns));

const skipReason = setUpNamespaces();

describe('nodes behind separate networks meet through a relay', { skip: skipReason }, () => {
  let relay: RelayHandle;
  let a: DaemonHandle;
  let b: DaemonHandle;

  before(async () => {
    // The wrapper really isolates: inside A only A's own addresses exist.
    const inside = runInNamespace(ns.a, ['ip', '-4', '-o', 'addr']).stdout;
    assert.deepEqual(inside.match(/inet [0-9.]+/g)?.sort(), ['inet 10.231.1.1', 'inet 127.0.0.1']);
    relay = await startRelayProcess({ listen: '/ip4/0.0.0.0/tcp/7477', wrap: inNamespace(ns.r) });
    const relayPeer = relay.addresses[0]!.split('/p2p/')[1]!;
    const listen = '/ip4/0.0.0.0/tcp/0';
    [a, b] = await Promise.all([
      startDaemon({
        wrap: inNamespace(ns.a),
        env: { YA_NET_LISTEN: listen, YA_NET_RELAY: `/ip4/10.231.1.2/tcp/7477/p2p/${relayPeer}` },
      }),
      startDaemon({
        wrap: inNamespace(ns.b),
        env: { YA_NET_LISTEN: listen, YA_NET_RELAY: `/ip4/10.231.2.2/tcp/7477/p2p/${relayPeer}` },
      }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await relay?.stop();
    tearDownNamespaces();
  });

  it('A cannot route to B, yet finds, pings and calls B through the relay', async () => {
    const route = runInNamespace(ns.a, ['ip', 'route', 'get', '10.231.2.1']);
    assert.notEqual(route.status, 0, 'namespace A must have no route to B');

    const control = await ControlConnection.connect(`${a.dataDir}/yagna.sock`);
    try {
      const found = await control.call<FindResult>(
        NetAddress.Find,
        { nodeId: b.nodeId },
        { timeoutMs: 30_000 },
      );
      assert.equal(found.connection, 'relayed');
      const ping = await control.call<PingResult>(
        NetAddress.Ping,
        { nodeId: b.nodeId },
        { timeoutMs: 30_000 },
      );
      assert.equal(ping.nodeId, b.nodeId);
      const reply = await control.call(`/net/${b.nodeId}/net/Ping`, null, { timeoutMs: 30_000 });
      assert.deepEqual(reply, { pong: true, caller: a.nodeId });
    } catch (error) {
      if (process.env.NET_TEST_DEBUG) console.log(a.logs(), b.logs());
      throw error;
    } finally {
      await control.close();
    }
  });
});

if (skipReason !== undefined) tearDownNamespaces();
