/**
 * A relay carries a relayed connection only within its data and duration limits, so one pair of nodes cannot
 * exhaust it; past a limit the circuit closes, the caller gets a clear error instead of a hang, and the next
 * call opens a fresh circuit.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isGolemError } from '../../src/core/errors/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import { RelayServer } from '../../src/core/net/index.ts';
import { tempDir } from '../support/daemon.ts';
import { startNode, type TestNode } from '../support/net.ts';

const DATA_LIMIT = 256 * 1024;
const DURATION_LIMIT_MS = 4_000;

describe('relay limits on relayed connections (in-process nodes, real sockets)', () => {
  let relay: RelayServer;
  let hidden: TestNode;
  let caller: TestNode;

  before(async () => {
    relay = new RelayServer({
      dataDir: tempDir('relay-limits-'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logger: silentLogger,
      limits: { dataLimitBytes: BigInt(DATA_LIMIT), durationLimitMs: DURATION_LIMIT_MS },
    });
    await relay.start();
    const address = relay.addresses()[0]!;
    // No listen address of its own: the hidden node is reachable only through the relay.
    hidden = await startNode(address, []);
    // Neither side listens: the circuit cannot be upgraded to a direct connection, so the limits apply.
    caller = await startNode(address, []);
  });
  after(async () => {
    await Promise.all([hidden, caller].map((node) => node?.stop()));
    await relay?.stop();
  });

  const relayedSessions = () =>
    caller.net.peers().filter((s) => s.nodeId === hidden.nodeId && s.connection === 'relayed');

  it('serves calls over the relayed connection', async () => {
    assert.deepEqual(await caller.bus.call(`/net/${hidden.nodeId}/net/Ping`), {
      pong: true,
      caller: caller.nodeId,
    });
    assert.equal(relayedSessions().length, 1, 'the only way to the hidden node is the relay');
  });

  it('closes a circuit that passes the data limit: the stream fails with a coded error, the next call works', async () => {
    const items = 64; // 64 × 16 KiB = 1 MiB, four times the limit
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const item of caller.bus.stream<{ payload: Uint8Array }>(
          `/net/${hidden.nodeId}/net/PingStream`,
          { count: items, size: 16 * 1024 },
          { timeoutMs: 15_000 },
        ))
          received += item.payload.length;
      })(),
      (error: unknown) => isGolemError(error) && error.code.startsWith('BUS_'),
    );
    assert.ok(received < items * 16 * 1024, 'the stream did not complete');
    assert.ok(received <= DATA_LIMIT, `no more than the limit got through (${received} bytes)`);
    assert.deepEqual(await caller.bus.call(`/net/${hidden.nodeId}/net/Ping`), {
      pong: true,
      caller: caller.nodeId,
    });
  });

  it('lets many nodes reach a node behind NAT through the relay at once (all appear from the relay address)', async () => {
    const address = relay.addresses()[0]!;
    const crowd = await Promise.all(Array.from({ length: 8 }, () => startNode(address)));
    try {
      const replies = await Promise.all(
        crowd.map((node) =>
          node.bus.call(`/net/${hidden.nodeId}/net/Ping`, undefined, { timeoutMs: 15_000 }),
        ),
      );
      assert.deepEqual(
        replies,
        crowd.map((node) => ({ pong: true, caller: node.nodeId })),
      );
    } finally {
      await Promise.all(crowd.map((node) => node.stop()));
    }
  });

  it('closes a circuit at the duration limit, and the next call opens a new one', async () => {
    const host = caller.net.host!;
    // A circuit left from the tests before may be about to reach its limit under the first call: start on a fresh one.
    await host.hangUp(hidden.net.host!.peerId);
    const closed = new Promise<void>((resolve) => {
      const onClose = (event: CustomEvent<{ remotePeer: { equals(other: unknown): boolean } }>) => {
        if (!event.detail.remotePeer.equals(hidden.net.host!.peerId)) return;
        host.removeEventListener('connection:close', onClose as never);
        resolve();
      };
      host.addEventListener('connection:close', onClose as never);
    });
    await caller.bus.call(`/net/${hidden.nodeId}/net/Ping`);
    // The circuit was opened just now, so the relay closes it within the next limit.
    await Promise.race([
      closed,
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error('the relay did not close the circuit')),
          DURATION_LIMIT_MS + 10_000,
        ),
      ),
    ]);
    assert.deepEqual(await caller.bus.call(`/net/${hidden.nodeId}/net/Ping`), {
      pong: true,
      caller: caller.nodeId,
    });
  });
});
