import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BusErrorCode, LocalBus, MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { GolemError, isGolemError } from '../../../../src/core/errors/index.ts';
import { MarketErrorCode } from '../../../../src/core/market/index.ts';

const A = '0x00000000000000000000000000000000000000aa';
const B = '0x00000000000000000000000000000000000000bb';

function node(id: string): LocalBus {
  const bus = new LocalBus();
  bus.setNodeIds(id);
  return bus;
}

describe('LocalBus', () => {
  it('routes a call to the handler bound at the address, with caller "local"', async () => {
    const bus = node(A);
    bus.bind<{ x: number }, number>('/local/calc/Double', (msg, ctx) => {
      assert.equal(ctx.caller, 'local');
      return msg.x * 2;
    });
    assert.equal(await bus.call('/local/calc/Double', { x: 21 }), 42);
  });

  it('finds the longest bound prefix', async () => {
    const bus = node(A);
    bus.bind('/public/gftp/abc', (_msg, ctx) => ctx.address);
    assert.equal(await bus.call('/public/gftp/abc/GetChunk', {}), '/public/gftp/abc/GetChunk');
  });

  it('fails with BUS_NO_HANDLER for an unbound address', async () => {
    const bus = node(A);
    await assert.rejects(bus.call('/local/none/X'), (e) => isGolemError(e, BusErrorCode.NoHandler));
  });

  it('refuses addresses outside /local, /public and /net', async () => {
    const bus = node(A);
    assert.throws(
      () => bus.bind('/private/x', () => 1),
      (e) => isGolemError(e, BusErrorCode.BadAddress),
    );
    await assert.rejects(bus.call('/elsewhere/x'), (e) => isGolemError(e, BusErrorCode.BadAddress));
  });

  it('times out a slow handler and aborts its signal', async () => {
    const bus = node(A);
    let aborted = false;
    bus.bind('/local/slow/X', (_msg, ctx) => {
      return new Promise((resolve) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          resolve(0);
        });
      });
    });
    await assert.rejects(bus.call('/local/slow/X', null, { timeoutMs: 30 }), (e) =>
      isGolemError(e, BusErrorCode.Timeout),
    );
    assert.equal(aborted, true);
  });

  it('passes handler errors through with their code', async () => {
    const bus = node(A);
    bus.bind('/local/m/Fail', () => {
      throw new GolemError(MarketErrorCode.NoMatch, 'nope');
    });
    await assert.rejects(bus.call('/local/m/Fail'), (e) => isGolemError(e, MarketErrorCode.NoMatch));
  });

  it('short-circuits /net/<own id>/ to /public/ with the node id as caller', async () => {
    const bus = node(A);
    bus.bind('/public/m/Who', (_msg, ctx) => ctx.caller);
    assert.equal(await bus.call(`/net/${A}/m/Who`), A);
  });

  it('streams items and lets an RPC call collect a stream', async () => {
    const bus = node(A);
    bus.bindStream('/local/s/Count', async function* (msg: { n: number }) {
      for (let i = 0; i < msg.n; i++) yield i;
    });
    const seen: number[] = [];
    for await (const item of bus.stream<number>('/local/s/Count', { n: 3 })) seen.push(item);
    assert.deepEqual(seen, [0, 1, 2]);
    assert.deepEqual(await bus.call('/local/s/Count', { n: 2 }), [0, 1]);
  });

  it('delivers broadcasts to local listeners and stops after unsubscribe', async () => {
    const bus = node(A);
    const got: unknown[] = [];
    const off = bus.subscribe('t', (msg, ctx) => {
      got.push([msg, ctx.from]);
    });
    await bus.publish('t', 1);
    off();
    await bus.publish('t', 2);
    assert.deepEqual(got, [[1, A]]);
  });

  it('never serves /local addresses to the network', async () => {
    const bus = node(A);
    bus.bind('/local/identity/Sign', () => 'secret');
    await assert.rejects(
      bus.dispatchRemote(B, '/local/identity/Sign', {}, new AbortController().signal),
      (e) => isGolemError(e, BusErrorCode.Forbidden),
    );
  });
});

describe('MemoryNetwork', () => {
  it('carries /net calls and broadcasts between buses with the authenticated caller', async () => {
    const net = new MemoryNetwork();
    const a = node(A);
    const b = node(B);
    net.join(a);
    net.join(b);
    b.bind('/public/m/Echo', (msg, ctx) => ({ msg, caller: ctx.caller }));
    assert.deepEqual(await a.call(`/net/${B}/m/Echo`, { hi: 1 }), { msg: { hi: 1 }, caller: A });

    const received: unknown[] = [];
    b.subscribe('offers', (msg, ctx) => {
      received.push([msg, ctx.from]);
    });
    await a.publish('offers', 'o1');
    assert.deepEqual(received, [['o1', A]]);

    net.leave(B);
    await assert.rejects(a.call(`/net/${B}/m/Echo`, {}), (e) => isGolemError(e, 'BUS_UNREACHABLE'));
  });
});
