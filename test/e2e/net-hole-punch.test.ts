/**
 * Two nodes, each behind its own NAT, meet through a relay and then punch a hole to a direct TCP connection.
 *
 *   node-a (10.1.0.2) ─ nat-a ─ 10.99.1.2 ┐                ┌ 10.99.2.2 ─ nat-b ─ node-b (10.2.0.2)
 *                                          └─ internet ────┘
 *                                             (relay at 10.99.1.1 / 10.99.2.1)
 *
 * Each NAT masquerades its node and, like a home router, silently drops connections the outside starts. So a node
 * cannot dial the other's NAT address unless both dial each other at once (TCP simultaneous open) from the ports
 * the relay saw. The test builds the namespaces, links and NAT rules itself and removes them afterwards; it is
 * skipped, with the reason, where namespaces or nftables are not available.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ControlConnection } from '../../src/core/control/index.ts';
import type { FindResult, NetStatus, PeerInfo } from '../../src/core/model/net.ts';
import { NetAddress } from '../../src/core/model/net.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess } from '../support/daemon.ts';
import {
  createNamespaces,
  inNamespace,
  ip,
  removeNamespaces,
  runInNamespace,
  vethLink,
} from '../support/netns.ts';

const tag = randomBytes(3).toString('hex');
const ns = {
  internet: `gts-inet-${tag}`,
  natA: `gts-nata-${tag}`,
  natB: `gts-natb-${tag}`,
  a: `gts-ha-${tag}`,
  b: `gts-hb-${tag}`,
};

/** A home router: masquerade out of `uplink`, drop whatever the outside starts. */
function natRules(uplink: string): string {
  return `
table inet gts {
  chain postrouting { type nat hook postrouting priority srcnat; oifname "${uplink}" masquerade; }
  chain input { type filter hook input priority filter; iifname "${uplink}" ct state new drop; }
  chain forward { type filter hook forward priority filter; iifname "${uplink}" ct state new drop; }
}`;
}

/**
 * Builds the namespaces and NATs. Only a missing prerequisite (no root, no `ip`, no `nft`) is a reason to skip,
 * returned; a step that fails once they are there is a broken setup and is thrown, so the test fails.
 */
function setUp(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v nft']).status !== 0) return 'nft (nftables) is not installed';
  if (spawnSync('sh', ['-c', 'command -v ip']).status !== 0) return 'ip (iproute2) is not installed';
  const names = Object.values(ns);
  const reason = createNamespaces(names);
  if (reason !== undefined) return reason;
  try {
    vethLink(ns.internet, '10.99.1.1/24', ns.natA, '10.99.1.2/24', `ua${tag}`);
    vethLink(ns.internet, '10.99.2.1/24', ns.natB, '10.99.2.2/24', `ub${tag}`);
    vethLink(ns.natA, '10.1.0.1/24', ns.a, '10.1.0.2/24', `da${tag}`);
    vethLink(ns.natB, '10.2.0.1/24', ns.b, '10.2.0.2/24', `db${tag}`);
    for (const router of [ns.internet, ns.natA, ns.natB]) {
      const forwarding = runInNamespace(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      if (forwarding.status !== 0) throw new Error(forwarding.stderr);
    }
    ip('-n', ns.natA, 'route', 'add', 'default', 'via', '10.99.1.1');
    ip('-n', ns.natB, 'route', 'add', 'default', 'via', '10.99.2.1');
    ip('-n', ns.a, 'route', 'add', 'default', 'via', '10.1.0.1');
    ip('-n', ns.b, 'route', 'add', 'default', 'via', '10.2.0.1');
    for (const [nat, uplink] of [
      [ns.natA, `ua${tag}r`],
      [ns.natB, `ub${tag}r`],
    ] as const) {
      const loaded = runInNamespace(nat, ['nft', '-f', '-'], natRules(uplink));
      if (loaded.status !== 0) throw new Error(`nft: ${loaded.stderr}`);
    }
  } catch (error) {
    removeNamespaces(names);
    setupError = new Error(`cannot build the NATs: ${(error as Error).message}`, { cause: error });
  }
  return undefined;
}

let setupError: Error | undefined;

const tearDown = () => removeNamespaces(Object.values(ns));

const skipReason = setUp();

describe('two nodes behind separate NATs punch a hole to each other', { skip: skipReason }, () => {
  let relay: RelayHandle;
  let a: DaemonHandle;
  let b: DaemonHandle;

  before(async () => {
    if (setupError !== undefined) throw setupError;
    relay = await startRelayProcess({
      listen: '/ip4/0.0.0.0/tcp/7477',
      wrap: inNamespace(ns.internet),
    });
    const relayPeer = relay.addresses[0]!.split('/p2p/')[1]!;
    [a, b] = await Promise.all([
      startDaemon({
        wrap: inNamespace(ns.a),
        env: {
          YA_NET_LISTEN: '/ip4/0.0.0.0/tcp/0',
          YAGNA_LOG_LEVEL: 'debug',
          YA_NET_RELAY: `/ip4/10.99.1.1/tcp/7477/p2p/${relayPeer}`,
        },
      }),
      startDaemon({
        wrap: inNamespace(ns.b),
        env: {
          YA_NET_LISTEN: '/ip4/0.0.0.0/tcp/0',
          YAGNA_LOG_LEVEL: 'debug',
          YA_NET_RELAY: `/ip4/10.99.2.1/tcp/7477/p2p/${relayPeer}`,
        },
      }),
    ]);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await relay?.stop();
    tearDown();
  });

  it('the NATs really block: A cannot dial B’s NAT address on its own', () => {
    // nc is not assumed: bash's /dev/tcp makes a plain connect, which nat-b drops.
    const attempt = runInNamespace(ns.a, ['timeout', '2', 'bash', '-c', 'exec 3<>/dev/tcp/10.99.2.2/7477']);
    assert.notEqual(attempt.status, 0);
  });

  it('A finds B through the relay, then both end up on one direct connection', async () => {
    const control = await ControlConnection.connect(`${a.dataDir}/yagna.sock`);
    try {
      // The NATs let nothing in, so the first connection is relayed; the nodes may have met and punched through
      // already (they look each other up while building their neighbourhood).
      const found = await control
        .call<FindResult>(NetAddress.Find, { nodeId: b.nodeId }, { timeoutMs: 30_000 })
        .catch((error) => {
          if (process.env.NET_TEST_DEBUG) console.log(a.logs(), b.logs());
          throw error;
        });
      assert.equal(found.nodeId, b.nodeId);

      // The node that received the relayed connection leads the punch; the relayed connection is dropped after it.
      let peer: PeerInfo | undefined;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const peers = await control.call<PeerInfo[]>(NetAddress.Peers, null);
        peer = peers.find((p) => p.nodeId === b.nodeId);
        if (peer?.connection === 'direct' && !peer.addrs.some((x) => x.includes('/p2p-circuit'))) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      if (process.env.NET_TEST_DEBUG) console.log(a.logs(), b.logs());
      assert.equal(peer?.connection, 'direct', `B stayed ${peer?.connection}: ${peer?.addrs.join(', ')}`);
      // Direct to B's NAT, from the port B dials from, not through the relay.
      assert.equal(peer.addrs.length, 1);
      assert.match(peer.addrs[0]!, /^\/ip4\/10\.99\.2\.2\/tcp\/\d+\/p2p\//);

      // A knows where the outside sees it: its NAT's address, with the port it dials from.
      const status = await control.call<NetStatus>(NetAddress.Status, null);
      assert.ok(
        status.observedAddrs.some((x) => /^\/ip4\/10\.99\.1\.2\/tcp\/\d+$/.test(x)),
        `A's observed addresses: ${status.observedAddrs.join(', ')}`,
      );

      const reply = await control.call(`/net/${b.nodeId}/net/Ping`, null, { timeoutMs: 10_000 });
      assert.deepEqual(reply, { pong: true, caller: a.nodeId });
    } finally {
      await control.close();
    }
  });
});

if (skipReason !== undefined) tearDown();
