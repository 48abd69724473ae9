import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { ControlConnection } from '../../src/core/control/index.ts';
import { isGolemError } from '../../src/core/errors/index.ts';
import { type FindResult, NetAddress, type NetStatus } from '../../src/core/model/net.ts';
import { BUS_PROTOCOL, createHost, encodeFrame } from '../../src/core/net/index.ts';
import { type HeardProbe, NetDiagAddress } from '../../src/core/net/service.ts';
import {
  api,
  type DaemonHandle,
  type RelayHandle,
  readJson,
  runCli,
  startDaemon,
  startRelayProcess,
} from '../support/daemon.ts';

describe('net across processes: three daemons and a relay', () => {
  let relay: RelayHandle;
  let nodes: DaemonHandle[] = [];
  let control: ControlConnection;

  before(async () => {
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    nodes = await Promise.all([startDaemon({ env }), startDaemon({ env }), startDaemon({ env })]);
    control = await ControlConnection.connect(`${nodes[0]!.dataDir}/yagna.sock`);
  });
  after(async () => {
    await control?.close();
    await Promise.all(nodes.map((node) => node.stop()));
    await relay?.stop();
    for (const node of nodes) node.cleanup();
  });

  it('a call from A reaches C and returns, with A as the caller', async () => {
    const [a, , c] = nodes;
    const reply = await control.call(`/net/${c!.nodeId}/net/Ping`, null);
    assert.deepEqual(reply, { pong: true, caller: a!.nodeId });
  });

  it('streams replies from C to A item by item', async () => {
    const c = nodes[2]!;
    const reply = await control.call(NetDiagAddress.StreamPing, { nodeId: c.nodeId, count: 200, size: 1000 });
    assert.deepEqual(reply, { nodeId: c.nodeId, items: 200, bytes: 200_000 });
  });

  it('a broadcast from A reaches B and C, with A as the authenticated publisher', async () => {
    const [a, b, c] = nodes;
    const listeners = await Promise.all(
      [b!, c!].map((node) => ControlConnection.connect(`${node.dataDir}/yagna.sock`)),
    );
    try {
      // Gossip meshes form within a few heartbeats: publish until every node has heard one probe.
      const heardByAll = async () => {
        const heard = await Promise.all(listeners.map((l) => l.call<HeardProbe[]>(NetDiagAddress.Heard)));
        return heard.every((list) => list.some((p) => p.text.startsWith('hello-')));
      };
      for (let attempt = 0; attempt < 100 && !(await heardByAll()); attempt++) {
        await control.call(NetDiagAddress.Probe, { text: `hello-${attempt}` });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      for (const listener of listeners) {
        const heard = await listener.call<HeardProbe[]>(NetDiagAddress.Heard);
        const probe = heard.find((p) => p.text.startsWith('hello-'));
        assert.ok(probe, 'the probe reached this node');
        assert.equal(probe.from, a!.nodeId);
      }
    } finally {
      await Promise.all(listeners.map((l) => l.close()));
    }
  });

  it('finds a node by id through the relay, and the CLI pings it', async () => {
    const [a, b] = nodes;
    const found = await control.call<FindResult>(NetAddress.Find, { nodeId: b!.nodeId });
    assert.equal(found.nodeId, b!.nodeId);
    const ping = runCli(['net', 'ping', b!.nodeId, '--json'], { dataDir: a!.dataDir });
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal(JSON.parse(ping.stdout).nodeId, b!.nodeId);
    const status = await control.call<NetStatus>(NetAddress.Status);
    assert.ok(status.connectedPeers >= 2);
  });

  it('the CLI shows status, sessions and finds a node, in text and JSON', async () => {
    const [a, , c] = nodes;
    const find = runCli(['net', 'find', c!.nodeId, '--json'], { dataDir: a!.dataDir });
    assert.equal(find.code, 0, find.stderr);
    const found = JSON.parse(find.stdout) as FindResult;
    assert.equal(found.nodeId, c!.nodeId);
    assert.ok(found.addrs.length > 0);
    const sessions = runCli(['net', 'sessions', '--json'], { dataDir: a!.dataDir });
    assert.equal(sessions.code, 0, sessions.stderr);
    const peers = JSON.parse(sessions.stdout) as { nodeId: string }[];
    assert.ok(peers.some((p) => p.nodeId === c!.nodeId));
    assert.ok(
      peers.some((p) => p.nodeId === relay.nodeId),
      'the relay is a session too',
    );
    const status = runCli(['net', 'status'], { dataDir: a!.dataDir });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(a!.nodeId));
  });

  it('serves /net-api/v2/net/status as yagna does', async () => {
    const response = await api(nodes[0]!, '/net-api/v2/net/status');
    assert.equal(response.status, 200);
    const body = (await readJson(response)) as {
      nodeId: string;
      listenIp: string;
      publicIp: unknown;
      sessions: number;
    };
    assert.equal(body.nodeId, nodes[0]!.nodeId);
    assert.ok(body.sessions >= 1, 'connected to the relay at least');
    assert.match(body.listenIp, /^127\.0\.0\.1:\d+$/);
    assert.equal(body.publicIp, null, 'loopback is not a public address');
  });

  it('random bytes and truncated frames on the bus protocol never crash a daemon', async () => {
    const b = nodes[1]!;
    const bControl = await ControlConnection.connect(`${b.dataDir}/yagna.sock`);
    const prober = await createHost({ secret: new Uint8Array(randomBytes(32)), listen: [] });
    try {
      const status = await bControl.call<NetStatus>(NetAddress.Status);
      const target = multiaddr(status.listenAddrs[0]!);
      const request = encodeFrame({ t: 'call', a: '/public/net/Ping', m: null });
      const payloads: Uint8Array[] = [
        new Uint8Array([0xff, 0xff, 0xff, 0xff]),
        new Uint8Array([0, 0, 0, 9, 0x7b]),
        ...Array.from({ length: request.length - 1 }, (_, cut) => request.subarray(0, cut + 1)),
        ...Array.from({ length: 40 }, (_, i) => new Uint8Array(randomBytes(1 + i * 37))),
      ];
      let refused = 0;
      for (const payload of payloads) {
        // After a few malformed streams the prober is cut off: its dials are refused from then on.
        const stream = await prober.dialProtocol(target, BUS_PROTOCOL).catch(() => undefined);
        if (stream === undefined) {
          refused++;
          continue;
        }
        stream.send(payload);
        await stream.close().catch(() => {});
        try {
          for await (const _ of stream) {
            // whatever comes back (an error frame or a reset) is fine; the daemon must stay up
          }
        } catch {
          // reset
        }
      }
      assert.equal(b.process.exitCode, null, 'the daemon is still running');
      assert.deepEqual(await control.call(`/net/${b.nodeId}/net/Ping`, null), {
        pong: true,
        caller: nodes[0]!.nodeId,
      });
      const after = await bControl.call<NetStatus>(NetAddress.Status);
      assert.equal(after.nodeId, b.nodeId);
      assert.ok(refused > 0, 'the prober was cut off');
      assert.equal(after.guard?.bans, 1, 'one peer cut off, counted in net status');
      // The same counters in `yagna net status`, as JSON and as the table.
      const json = runCli(['net', 'status', '--json'], { dataDir: b.dataDir });
      assert.equal((JSON.parse(json.stdout) as NetStatus).guard?.bans, 1);
      const table = runCli(['net', 'status'], { dataDir: b.dataDir });
      assert.match(table.stdout, /peers cut off \(now \/ since start\)\s+1 \/ 1/);
      assert.match(table.stdout, /offence malformed\s+[1-9]/);
    } finally {
      await prober.stop();
      await bControl.close();
    }
  });

  it('a node that dies is detected and calls to it fail with BUS_UNREACHABLE', async () => {
    const c = nodes[2]!;
    await control.call(`/net/${c.nodeId}/net/Ping`, null);
    await c.kill();
    await assert.rejects(control.call(`/net/${c.nodeId}/net/Ping`, null, { timeoutMs: 30_000 }), (e) =>
      isGolemError(e, 'BUS_UNREACHABLE'),
    );
  });

  it('rejects a malformed node id with a usage error', () => {
    const result = runCli(['net', 'ping', 'not-a-node'], { dataDir: nodes[0]!.dataDir });
    assert.equal(result.code, 2);
  });
});
