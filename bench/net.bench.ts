/**
 * The bus over libp2p beside the transport it runs on, in the same run:
 * - round trip of a remote bus call vs a raw libp2p stream echo (one stream per call, as the bus does);
 * - bytes/s of a streamed bus reply vs a raw TCP socket on loopback.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { sendBounded } from '../src/core/net/bus-protocol.ts';
import { noiseCrypto } from '../src/core/net/noise-crypto.ts';
import { startNode, type TestNode } from '../test/support/net.ts';
import { type Benchmark, percentile } from './harness.ts';

const ECHO_PROTOCOL = '/golem-ts/bench-echo/1.0.0';

async function pair(): Promise<[TestNode, TestNode]> {
  const a = await startNode();
  const b = await startNode();
  await a.net.host!.dial(b.net.host!.getMultiaddrs()[0]!);
  return [a, b];
}

async function rawEcho(a: TestNode, b: TestNode): Promise<number> {
  const start = performance.now();
  const stream = await a.net.host!.dialProtocol(b.net.host!.peerId, ECHO_PROTOCOL);
  stream.send(new Uint8Array([1, 2, 3, 4]));
  await stream.close();
  for await (const _ of stream) break;
  return performance.now() - start;
}

const ITEMS = 2000;
const ITEM_BYTES = 64 * 1024;
const TOTAL_BYTES = ITEMS * ITEM_BYTES;
/** Rounds of the three measurements, interleaved: each figure is the median, so a burst of load hits all three. */
const THROUGHPUT_ROUNDS = 3;
const FLOOD_PROTOCOL = '/golem-ts/bench-flood/1.0.0';
let measured: Promise<{ bus: number; libp2p: number; tcp: number }> | undefined;

const rate = (bytes: number, start: number) => bytes / 1e6 / ((performance.now() - start) / 1000);
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

async function busRate(a: TestNode, b: TestNode): Promise<number> {
  const start = performance.now();
  let received = 0;
  for await (const item of a.bus.stream<{ payload: Uint8Array }>(`/net/${b.nodeId}/net/PingStream`, {
    count: ITEMS,
    size: ITEM_BYTES,
  })) {
    received += item.payload.length;
  }
  if (received !== TOTAL_BYTES) throw new Error(`received ${received} of ${TOTAL_BYTES} bytes`);
  return rate(received, start);
}

async function libp2pRate(a: TestNode, b: TestNode): Promise<number> {
  const stream = await a.net.host!.dialProtocol(b.net.host!.peerId, FLOOD_PROTOCOL);
  const start = performance.now();
  let received = 0;
  for await (const chunk of stream) received += chunk.byteLength;
  return rate(received, start);
}

async function tcpRate(): Promise<number> {
  const server = createServer((socket) => {
    const chunk = Buffer.alloc(ITEM_BYTES, 7);
    let sent = 0;
    const pump = () => {
      while (sent < ITEMS) {
        sent++;
        if (!socket.write(chunk)) return void socket.once('drain', pump);
      }
      socket.end();
    };
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const start = performance.now();
  const socket = connect(port, '127.0.0.1');
  let received = 0;
  for await (const chunk of socket) received += (chunk as Buffer).length;
  server.close();
  return rate(received, start);
}

/** Streams the same bytes three ways: over the bus, a raw libp2p stream, a raw TCP socket (medians of rounds). */
function throughput(): Promise<{ bus: number; libp2p: number; tcp: number }> {
  measured ??= (async () => {
    const [a, b] = await pair();
    const rates = { bus: [] as number[], libp2p: [] as number[], tcp: [] as number[] };
    try {
      await b.net.host!.handle(FLOOD_PROTOCOL, async (stream) => {
        const chunk = new Uint8Array(ITEM_BYTES).fill(7);
        // Same bounded sending as the bus, so both sides of the ratio hold the same amount in flight.
        for (let i = 0; i < ITEMS; i++) await sendBounded(stream, chunk);
        await stream.close();
      });
      for (let round = 0; round < THROUGHPUT_ROUNDS; round++) {
        rates.bus.push(await busRate(a, b));
        rates.libp2p.push(await libp2pRate(a, b));
        rates.tcp.push(await tcpRate());
      }
    } finally {
      await a.stop();
      await b.stop();
    }
    return { bus: median(rates.bus), libp2p: median(rates.libp2p), tcp: median(rates.tcp) };
  })();
  return measured;
}

/**
 * What the transport's cipher alone allows: Noise's ChaCha20-Poly1305 sealing and opening 64 KiB messages in one
 * thread (both ends of a loopback test share it), with OpenSSL as libp2p-noise uses it in Node. An encrypted
 * stream cannot be faster than this, whatever the framing.
 */
/** Seal and open of full Noise transport messages in one thread, with the cipher the hosts use. */
export function cipherCeiling(): number {
  const key = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const ad = new Uint8Array(0);
  const message = Buffer.alloc(65_519, 7);
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < 1000) {
    const sealed = noiseCrypto.chaCha20Poly1305Encrypt(message, nonce, ad, key);
    noiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, key);
    bytes += message.length;
  }
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

let timed: Promise<{ bus: number[]; raw: number[] }> | undefined;

/** Round trips of a remote bus call and of a raw libp2p stream echo, interleaved so both see the same load. */
function roundTrips(): Promise<{ bus: number[]; raw: number[] }> {
  timed ??= (async () => {
    const [a, b] = await pair();
    try {
      await b.net.host!.handle(ECHO_PROTOCOL, async (stream) => {
        for await (const chunk of stream) stream.send(chunk instanceof Uint8Array ? chunk : chunk.subarray());
        await stream.close();
      });
      const bus: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < 600; i++) {
        const start = performance.now();
        await a.bus.call(`/net/${b.nodeId}/net/Ping`);
        if (i >= 100) bus.push(performance.now() - start);
        const r = await rawEcho(a, b);
        if (i >= 100) raw.push(r);
      }
      return { bus, raw };
    } finally {
      await a.stop();
      await b.stop();
    }
  })();
  return timed;
}

export const benchmarks: Benchmark[] = [
  {
    name: 'net: remote bus call round trip p50',
    unit: 'ms',
    better: 'lower',
    run: async () => {
      const { bus, raw } = await roundTrips();
      return {
        value: percentile(bus, 50),
        baseline: percentile(raw, 50),
        baselineName: 'raw libp2p stream echo p50',
      };
    },
  },
  {
    name: 'net: remote bus call round trip p99',
    unit: 'ms',
    better: 'lower',
    run: async () => {
      const { bus, raw } = await roundTrips();
      return {
        value: percentile(bus, 99),
        baseline: percentile(raw, 99),
        baselineName: 'raw libp2p stream echo p99',
      };
    },
  },
  {
    // No goal against raw TCP: any encrypted stream stays under the cipher ceiling below (about 0.4 of raw TCP on
    // one machine, where one thread seals and opens every byte). The goal is against the raw libp2p stream.
    name: 'net: bus stream throughput vs raw TCP',
    unit: 'MB/s',
    better: 'higher',
    run: async () => {
      const rates = await throughput();
      return { value: rates.bus, baseline: rates.tcp, baselineName: 'raw TCP socket on loopback' };
    },
  },
  {
    name: 'net: cipher ceiling (ChaCha20-Poly1305 seal+open, one thread) vs raw TCP',
    unit: 'MB/s',
    better: 'higher',
    run: async () => {
      const rates = await throughput();
      return { value: cipherCeiling(), baseline: rates.tcp, baselineName: 'raw TCP socket on loopback' };
    },
  },
  {
    name: 'net: bus stream throughput vs raw libp2p stream',
    unit: 'MB/s',
    better: 'higher',
    goal: { op: '>=', ratio: 0.8 },
    run: async () => {
      const rates = await throughput();
      return { value: rates.bus, baseline: rates.libp2p, baselineName: 'raw libp2p stream (Noise+Yamux)' };
    },
  },
];
