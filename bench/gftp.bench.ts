/**
 * GFTP between two nodes over libp2p beside what carries it, in the same run:
 * - a download as one GetChunks stream (256 KiB chunks) and one as GetChunk calls (Golem's 40 KiB, 8 in flight), both
 *   written to disk and hash-checked, vs a raw bus stream of the same bytes between the same nodes (goal: >= 0.8
 *   for the stream);
 * - the same beside the one-thread cipher ceiling the net bench measures (both nodes share this process's thread).
 *
 * Size: 256 MiB by default (GFTP_BENCH_MIB=1024 for the full GiB): the machines are shared, and past a few
 * hundred MiB the rate is steady (each chunk is one bus call; nothing accumulates with size).
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GftpService } from '../src/core/gftp/index.ts';
import { silentLogger } from '../src/core/log/index.ts';
import { GftpLocalAddress, type GftpPublished } from '../src/core/model/gftp.ts';
import { type BusCall, type BusStream, gftpDownload } from '../src/core/model/gftp-client.ts';
import { tempDir } from '../test/support/daemon.ts';
import { startNode, type TestNode } from '../test/support/net.ts';
import type { Benchmark } from './harness.ts';
import { cipherCeiling } from './net.bench.ts';

const MIB = 1024 * 1024;
const TOTAL_BYTES = Number(process.env.GFTP_BENCH_MIB ?? 256) * MIB;
const STREAM_ITEM_BYTES = 64 * 1024;
const ROUNDS = 3;

const rate = (bytes: number, start: number) => bytes / 1e6 / ((performance.now() - start) / 1000);
const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;

async function busStreamRate(a: TestNode, b: TestNode): Promise<number> {
  const start = performance.now();
  let received = 0;
  for await (const item of a.bus.stream<{ payload: Uint8Array }>(`/net/${b.nodeId}/net/PingStream`, {
    count: TOTAL_BYTES / STREAM_ITEM_BYTES,
    size: STREAM_ITEM_BYTES,
  })) {
    received += item.payload.length;
  }
  if (received !== TOTAL_BYTES) throw new Error(`received ${received} of ${TOTAL_BYTES} bytes`);
  return rate(received, start);
}

async function gftpRate(
  a: TestNode,
  url: string,
  dest: string,
  chunkSize: number | undefined,
  streamed: boolean,
): Promise<number> {
  rmSync(dest, { force: true });
  const start = performance.now();
  const result = await gftpDownload(a.bus.call.bind(a.bus) as BusCall, url, dest, {
    chunkSize,
    resume: false,
    ...(streamed ? { stream: a.bus.stream.bind(a.bus) as BusStream } : {}),
  });
  if (result.bytes !== TOTAL_BYTES) throw new Error(`downloaded ${result.bytes} of ${TOTAL_BYTES} bytes`);
  return rate(result.bytes, start);
}

interface Rates {
  /** One GetChunks stream, the client's default 256 KiB chunks (our extension). */
  streamed: number;
  /** GetChunk calls, 8 in flight, Golem's 40 KiB chunks (what a golem-js file through /gsb-api gets). */
  calls: number;
  bus: number;
}

let measured: Promise<Rates> | undefined;

function throughput(): Promise<Rates> {
  measured ??= (async () => {
    const dir = tempDir('gftp-bench-');
    const [a, b] = [await startNode(), await startNode()];
    const service = new GftpService({ bus: b.bus, logger: silentLogger });
    try {
      await a.net.host!.dial(b.net.host!.getMultiaddrs()[0]!);
      await service.start();
      const source = join(dir, 'source.bin');
      const block = randomBytes(MIB);
      writeFileSync(source, Buffer.concat(Array.from({ length: TOTAL_BYTES / MIB }, () => block)));
      const [entry] = await b.bus.call<GftpPublished>(GftpLocalAddress.Publish, { paths: [source] });
      const dest = join(dir, 'dest.bin');
      const rates = { streamed: [] as number[], calls: [] as number[], bus: [] as number[] };
      for (let round = 0; round < ROUNDS; round++) {
        rates.bus.push(await busStreamRate(a, b));
        rates.streamed.push(await gftpRate(a, entry!.url, dest, undefined, true));
        rates.calls.push(await gftpRate(a, entry!.url, dest, 40 * 1024, false));
      }
      return { streamed: median(rates.streamed), calls: median(rates.calls), bus: median(rates.bus) };
    } finally {
      await service.stop();
      await a.stop();
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return measured;
}

export const benchmarks: Benchmark[] = [
  {
    name: `gftp: download ${TOTAL_BYTES / MIB} MiB, GetChunks stream (256 KiB chunks) vs raw bus stream`,
    unit: 'MB/s',
    better: 'higher',
    goal: { op: '>=', ratio: 0.8 },
    run: async () => {
      const rates = await throughput();
      return {
        value: rates.streamed,
        baseline: rates.bus,
        baselineName: 'bus stream, 64 KiB items, same nodes',
      };
    },
  },
  {
    name: `gftp: download ${TOTAL_BYTES / MIB} MiB, GetChunk calls (40 KiB, 8 in flight) vs raw bus stream`,
    unit: 'MB/s',
    better: 'higher',
    run: async () => {
      const rates = await throughput();
      return {
        value: rates.calls,
        baseline: rates.bus,
        baselineName: 'bus stream, 64 KiB items, same nodes',
      };
    },
  },
  {
    name: `gftp: download ${TOTAL_BYTES / MIB} MiB, GetChunks stream vs cipher ceiling`,
    unit: 'MB/s',
    better: 'higher',
    run: async () => {
      const rates = await throughput();
      return {
        value: rates.streamed,
        baseline: cipherCeiling(),
        baselineName: 'ChaCha20-Poly1305 seal+open, one thread',
      };
    },
  },
];
