/**
 * `/gsb-api/v1` bounds and socket lifecycle, on a real REST server and real WebSockets (one node, in-process bus).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ApiServer } from '../../../../src/core/api/index.ts';
import { BusErrorCode, LocalBus } from '../../../../src/core/bus/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import {
  decodeFrame,
  encodeFrame,
  GsbApiErrorCode,
  GsbApiService,
} from '../../../../src/core/gsb-api/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { AppKeyAddress, type AppKeyInfo } from '../../../../src/core/model/identity.ts';

const KEYS = ['key-a', 'key-b'];

interface Frame {
  id: string;
  component: string;
  payload: unknown;
}

describe('/gsb-api/v1 bindings', () => {
  const bus = new LocalBus({ logger: silentLogger });
  let api: ApiServer;
  let gsb: GsbApiService;
  let base: string;
  let seq = 0;

  before(async () => {
    bus.bind(AppKeyAddress.Get, ({ key }: { key: string }): AppKeyInfo | null =>
      KEYS.includes(key)
        ? { name: key, key, nodeId: `0x${'1'.repeat(40)}`, role: 'manager', createdAt: '', allowOrigins: [] }
        : null,
    );
    api = new ApiServer({
      bus,
      logger: silentLogger,
      config: { apiUrl: new URL('http://127.0.0.1:0'), apiAllowOrigins: [] },
    });
    gsb = new GsbApiService({
      bus,
      logger: silentLogger,
      rest: api,
      limits: {
        callsInFlight: 3,
        callsInFlightPerPeer: 2,
        queuedBytes: 4096,
        frameBytes: 8192,
        callTimeoutMs: 400,
        bindingsPerAppKey: 5,
      },
    });
    await gsb.start();
    base = (await api.listen()).origin;
  });
  after(async () => {
    await gsb.stop();
    await api.close();
  });

  const bind = async (components: string[], key = 'key-a') => {
    const on = `/public/test/s${++seq}`;
    const response = await fetch(`${base}/gsb-api/v1/services`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ listen: { on, components } }),
    });
    const body = (await response.json()) as { servicesId: string; code?: string };
    return { on, status: response.status, ...body };
  };
  const connect = async (servicesId: string, key = 'key-a') => {
    const socket = new WebSocket(
      `${base.replace('http', 'ws')}/gsb-api/v1/services/${servicesId}?authToken=${key}`,
      ['gsb+flexbuffers'],
    );
    socket.binaryType = 'nodebuffer';
    const frames: Frame[] = [];
    const waiters: (() => void)[] = [];
    socket.on('message', (data: Buffer) => {
      frames.push(decodeFrame(data) as Frame);
      for (const wake of waiters.splice(0)) wake();
    });
    await once(socket, 'open');
    assert.equal(socket.protocol, 'gsb+flexbuffers');
    const next = async (): Promise<Frame> => {
      while (frames.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
      return frames.shift()!;
    };
    return { socket, next };
  };
  const reply = (socket: WebSocket, id: string, payload: unknown) =>
    socket.send(encodeFrame({ id, payload }));
  const remove = (servicesId: string, key = 'key-a') =>
    fetch(`${base}/gsb-api/v1/services/${servicesId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${key}` },
    });

  it('queues a call until the socket opens, then forwards it; bytes go both ways', async () => {
    const { on, servicesId, status } = await bind(['GetChunk']);
    assert.equal(status, 201);
    const call = bus.call(`${on}/GetChunk`, { offset: 5, size: 3, blob: new Uint8Array([9, 8]) });
    const { socket, next } = await connect(servicesId);
    const frame = await next();
    assert.equal(frame.component, 'GetChunk');
    assert.deepEqual(frame.payload, { offset: 5, size: 3, blob: new Uint8Array([9, 8]) });
    reply(socket, frame.id, { offset: 5, content: new Uint8Array([1, 2, 3]) });
    assert.deepEqual(await call, { offset: 5, content: new Uint8Array([1, 2, 3]) });
    // Sizes past 4 GiB come back from FlexBuffers as 64-bit integers: the bus gets plain numbers.
    const big = bus.call(`${on}/GetChunk`, {});
    const second = await next();
    reply(socket, second.id, { fileSize: 5_000_000_000, offset: 2 ** 40 });
    assert.deepEqual(await big, { fileSize: 5_000_000_000, offset: 2 ** 40 });
    await assert.rejects(bus.call(`${on}/Other`, {}), (e) => isGolemError(e, BusErrorCode.NoHandler));
    socket.close();
  });

  it('fails an unanswered call at the deadline and a client error as a coded error', async () => {
    const { on, servicesId } = await bind(['Echo']);
    const { socket, next } = await connect(servicesId);
    await assert.rejects(bus.call(`${on}/Echo`, {}), (e) => isGolemError(e, GsbApiErrorCode.Timeout));
    await next();
    const failing = bus.call(`${on}/Echo`, {});
    const frame = await next();
    socket.send(encodeFrame({ id: frame.id, error: { InternalError: 'disk full' } }));
    await assert.rejects(failing, (e) => isGolemError(e, GsbApiErrorCode.ClientError));
    socket.close();
  });

  it('bounds calls in flight and bytes queued without a socket', async () => {
    const { on } = await bind(['Echo']);
    const first = bus.call(`${on}/Echo`, {});
    const second = bus.call(`${on}/Echo`, {});
    await assert.rejects(bus.call(`${on}/Echo`, {}), (e) => isGolemError(e, GsbApiErrorCode.Busy));
    await assert.rejects(first, (e) => isGolemError(e, GsbApiErrorCode.Timeout));
    await assert.rejects(second, (e) => isGolemError(e, GsbApiErrorCode.Timeout));
    await assert.rejects(bus.call(`${on}/Echo`, { blob: new Uint8Array(5000) }), (e) =>
      isGolemError(e, GsbApiErrorCode.Busy),
    );
  });

  it('one calling node cannot take every call slot of a binding', async () => {
    const { on, servicesId } = await bind(['Echo']);
    const from = (peer: string) => bus.dispatchRemote(peer, `${on}/Echo`, {}, new AbortController().signal);
    const busy = (e: unknown) => isGolemError(e, GsbApiErrorCode.Busy);
    const timedOut = (e: unknown) => isGolemError(e, GsbApiErrorCode.Timeout);
    const mine = [from('0xaaaa'), from('0xaaaa')].map((call) => assert.rejects(call, timedOut));
    await assert.rejects(from('0xaaaa'), busy);
    // Another node still gets a slot (its call waits for the client, and times out unanswered); then the binding is full.
    const theirs = assert.rejects(from('0xbbbb'), timedOut);
    await assert.rejects(from('0xbbbb'), busy);
    await Promise.all([...mine, theirs]);
    assert.equal((await remove(servicesId)).status, 200);
  });

  it('refuses a call larger than a frame may be, with a socket open too', async () => {
    const { on, servicesId } = await bind(['Echo']);
    const { socket } = await connect(servicesId);
    await assert.rejects(bus.call(`${on}/Echo`, { blob: new Uint8Array(10_000) }), (e) =>
      isGolemError(e, GsbApiErrorCode.Busy),
    );
    socket.close();
    assert.equal((await remove(servicesId)).status, 200);
  });

  it('a new socket replaces the old one; unbinding cancels pending calls and closes the socket', async () => {
    const { on, servicesId } = await bind(['Echo']);
    const old = await connect(servicesId);
    const pending = assert.rejects(bus.call(`${on}/Echo`, {}), (e) =>
      isGolemError(e, GsbApiErrorCode.Closed),
    );
    await old.next();
    const closed = once(old.socket, 'close');
    const fresh = await connect(servicesId);
    assert.equal(((await closed) as [number])[0], 1008);
    await pending;

    const waiting = assert.rejects(bus.call(`${on}/Echo`, {}), (e) =>
      isGolemError(e, GsbApiErrorCode.Closed),
    );
    await fresh.next();
    const freshClosed = once(fresh.socket, 'close');
    const removed = await remove(servicesId);
    assert.equal(removed.status, 200);
    await waiting;
    assert.equal(((await freshClosed) as [number])[0], 1000);
    await assert.rejects(bus.call(`${on}/Echo`, {}), (e) => isGolemError(e, BusErrorCode.NoHandler));
  });

  it("one app-key neither sees nor removes another's services, and has a bounded number of them", async () => {
    const { servicesId } = await bind(['Echo'], 'key-b');
    assert.equal((await remove(servicesId, 'key-a')).status, 404);
    await assert.rejects(connect(servicesId, 'key-a'));
    assert.equal((await remove(servicesId, 'key-b')).status, 200);
    const made: number[] = [];
    for (let index = 0; index < 5; index++) made.push((await bind(['Echo'], 'key-b')).status);
    assert.deepEqual(made, [201, 201, 201, 201, 201]);
    const over = await bind(['Echo'], 'key-b');
    assert.equal(over.status, 400);
    assert.equal(over.code, GsbApiErrorCode.TooManyServices);
  });
});
