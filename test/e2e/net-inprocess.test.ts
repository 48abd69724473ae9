import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isGolemError } from '../../src/core/errors/index.ts';
import { readFrames } from '../../src/core/net/bus-protocol.ts';
import { BUS_PROTOCOL, encodeFrame, type RelayServer } from '../../src/core/net/index.ts';
import { eventually, startNode, startRelay, type TestNode } from '../support/net.ts';

describe('bus over libp2p (in-process nodes, real sockets)', () => {
  let relay: RelayServer;
  let a: TestNode;
  let b: TestNode;
  let c: TestNode;
  let relayAddress: string;

  before(async () => {
    const started = await startRelay();
    relay = started.relay;
    relayAddress = started.address;
    [a, b, c] = await Promise.all([
      startNode(started.address),
      startNode(started.address),
      startNode(started.address),
    ]);
  });
  after(async () => {
    await Promise.all([a, b, c].map((node) => node?.stop()));
    await relay?.stop();
  });

  it('routes a call from A to a handler on C, which sees A as the authenticated caller', async () => {
    c.bus.bind('/public/test/Echo', (message, context) => ({ message, caller: context.caller }));
    const reply = await a.bus.call(`/net/${c.nodeId}/test/Echo`, {
      hello: 'c',
      bytes: new Uint8Array([1, 2, 3]),
    });
    assert.deepEqual(reply, { message: { hello: 'c', bytes: new Uint8Array([1, 2, 3]) }, caller: a.nodeId });
  });

  it('keeps error codes across the wire and never serves /local to the network', async () => {
    c.bus.bind('/public/test/Fail', () => {
      throw Object.assign(new Error('x'), {});
    });
    await assert.rejects(a.bus.call(`/net/${c.nodeId}/test/Nothing`), (e) =>
      isGolemError(e, 'BUS_NO_HANDLER'),
    );
    await assert.rejects(a.bus.call(`/net/${c.nodeId}/identity/Sign`, {}), (e) =>
      isGolemError(e, 'BUS_NO_HANDLER'),
    );
    await assert.rejects(a.bus.call(`/net/${c.nodeId}/test/Fail`), (e) =>
      isGolemError(e, 'BUS_HANDLER_FAILED'),
    );
  });

  it('streams replies item by item', async () => {
    const items: number[] = [];
    for await (const item of a.bus.stream<{ index: number; payload: Uint8Array }>(
      `/net/${b.nodeId}/net/PingStream`,
      { count: 50, size: 1000 },
    )) {
      assert.equal(item.payload.length, 1000);
      items.push(item.index);
    }
    assert.deepEqual(
      items,
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it('cancels the remote handler when the caller stops reading', async () => {
    let cancelled = false;
    c.bus.bindStream('/public/test/Endless', async function* (_message, context) {
      context.signal.addEventListener('abort', () => {
        cancelled = true;
      });
      for (let i = 0; !context.signal.aborted; i++) {
        yield i;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    for await (const item of a.bus.stream<number>(`/net/${c.nodeId}/test/Endless`)) {
      if (item >= 3) break;
    }
    await eventually(() => cancelled, 'the remote handler to see the cancellation');
  });

  it('delivers broadcasts to every subscribed node with the publisher as sender', async () => {
    const seen = new Map<string, unknown[]>();
    for (const node of [b, c]) {
      seen.set(node.nodeId, []);
      node.bus.subscribe('test-topic', (message, context) => {
        seen.get(node.nodeId)!.push([message, context.from]);
      });
    }
    // Gossip meshes form over a heartbeat or two: publish until both have it.
    await eventually(async () => {
      await a.bus.publish('test-topic', 'hello all');
      return [...seen.values()].every((list) => list.length > 0);
    }, 'the broadcast on B and C');
    for (const list of seen.values()) assert.deepEqual(list[0], ['hello all', a.nodeId]);
  });

  it('survives garbage and truncated frames on the bus protocol and keeps serving others', async () => {
    // The fuzzer is a node of its own: garbage earns strikes, and enough of them cut the sender off.
    const fuzzer = await startNode(relayAddress);
    const host = fuzzer.net.host!;
    const target = c.net.host!.peerId;
    const payloads = [
      randomBytes(64),
      new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]),
      encodeFrame({ t: 'call', a: '/public/test/Echo', m: {} }).subarray(0, 10),
      Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('{bad}')]),
      encodeFrame({ t: 'nonsense' }),
      encodeFrame({ t: 'call', a: '/local/identity/GetSecretKey', m: { nodeId: c.nodeId } }),
    ];
    for (const payload of payloads) {
      const stream = await host.dialProtocol(target, BUS_PROTOCOL).catch(() => undefined);
      if (stream === undefined) continue; // cut off
      stream.send(payload);
      await stream.close().catch(() => {});
      const replies: Uint8Array[] = [];
      try {
        for await (const chunk of stream)
          replies.push(chunk instanceof Uint8Array ? chunk : chunk.subarray());
      } catch {
        // a reset stream is the expected answer to garbage
      }
      const text = Buffer.concat(replies).toString('utf8');
      assert.ok(!text.includes('"ok"'), 'garbage must not be served');
    }
    await fuzzer.stop();
    assert.deepEqual(await a.bus.call(`/net/${c.nodeId}/net/Ping`), { pong: true, caller: a.nodeId });
  });

  it("ends a remote stream with BUS_TIMEOUT at the caller's deadline, never with a clean end", async () => {
    let handlerCancelled = false;
    c.bus.bindStream('/public/test/Slow', async function* (_message, context) {
      yield 'first';
      await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
      handlerCancelled = true;
    });
    // A raw caller that never aborts on its own: only the deadline it sent (300 ms) can stop the handler.
    const stream = await a.net.host!.dialProtocol(c.net.host!.peerId, BUS_PROTOCOL);
    stream.send(encodeFrame({ t: 'stream', a: '/public/test/Slow', m: null, to: 300 }));
    const frames: { t: string; v?: unknown; e?: { code: string } }[] = [];
    for await (const frame of readFrames(stream)) frames.push(frame as (typeof frames)[number]);
    assert.deepEqual(
      frames.map((f) => f.t),
      ['item', 'err'],
    );
    assert.equal(frames[1]!.e!.code, 'BUS_TIMEOUT');
    assert.ok(handlerCancelled, 'the handler saw its signal abort');
  });

  it('holds a fast producer back while the remote consumer does not read (backpressure)', async () => {
    let produced = 0;
    const total = 2000;
    c.bus.bindStream('/public/test/Flood', async function* () {
      const payload = new Uint8Array(64 * 1024);
      for (let i = 0; i < total; i++) {
        produced++;
        yield payload;
      }
    });
    const items = a.bus.stream<Uint8Array>(`/net/${c.nodeId}/test/Flood`)[Symbol.asyncIterator]();
    await items.next();
    // Give the producer every chance to run ahead; only the stream windows and socket buffers may hold items.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(produced < total / 2, `producer ran ahead by ${produced} items of ${total} (125 MiB)`);
    let received = 1;
    while (!(await items.next()).done) received++;
    assert.equal(received, total);
  });

  it('fails fast with BUS_UNREACHABLE once a node is gone', async () => {
    const gone = await startNode();
    const address = gone.net.host!.getMultiaddrs()[0]!;
    await a.net.host!.dial(address);
    assert.deepEqual(await a.bus.call(`/net/${gone.nodeId}/net/Ping`), { pong: true, caller: a.nodeId });
    await gone.stop();
    await assert.rejects(a.bus.call(`/net/${gone.nodeId}/net/Ping`, null, { timeoutMs: 30_000 }), (e) =>
      isGolemError(e, 'BUS_UNREACHABLE'),
    );
  });
});
