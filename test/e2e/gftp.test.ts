import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BusErrorCode } from '../../src/core/bus/index.ts';
import { GolemError, isGolemError } from '../../src/core/errors/index.ts';
import { GftpService } from '../../src/core/gftp/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import {
  GFTP_EVENTS_TOPIC,
  GFTP_MAX_CHUNK_SIZE,
  GFTP_MAX_STREAM_BYTES,
  GftpErrorCode,
  type GftpEvent,
  GftpLocalAddress,
  type GftpPublished,
  gftpNetAddress,
} from '../../src/core/model/gftp.ts';
import { type BusCall, type BusStream, gftpDownload, gftpUpload } from '../../src/core/model/gftp-client.ts';
import type { RelayServer } from '../../src/core/net/index.ts';
import { tempDir } from '../support/daemon.ts';
import { startNode, startRelay, type TestNode } from '../support/net.ts';

const SIZE = 3 * 1024 * 1024 + 12_345;

describe('GFTP between two nodes over libp2p', () => {
  let relay: RelayServer;
  let a: TestNode;
  let b: TestNode;
  let c: TestNode;
  const services: GftpService[] = [];
  const dir = tempDir('gftp-');
  const source = join(dir, 'source.bin');
  const content = randomBytes(SIZE);
  const sha3 = createHash('sha3-256').update(content).digest('hex');
  let url: string;

  before(async () => {
    const started = await startRelay();
    relay = started.relay;
    [a, b, c] = await Promise.all([
      startNode(started.address),
      startNode(started.address),
      startNode(started.address),
    ]);
    for (const node of [a, b, c]) {
      const service = new GftpService({ bus: node.bus, logger: silentLogger });
      await service.start();
      services.push(service);
    }
    writeFileSync(source, content);
    const [entry] = await a.bus.call<GftpPublished>(GftpLocalAddress.Publish, { paths: [source] });
    url = entry!.url;
  });
  after(async () => {
    await Promise.all(services.map((service) => service.stop()));
    await Promise.all([a, b, c].map((node) => node?.stop()));
    await relay?.stop();
  });

  it('publishes under the SHA3-256 of the content and another node downloads it whole', async () => {
    assert.equal(url, `gftp://${a.nodeId}/${sha3}`);
    const dest = join(dir, 'downloaded.bin');
    const result = await gftpDownload(b.bus.call.bind(b.bus) as BusCall, url, dest);
    assert.equal(result.bytes, SIZE);
    assert.equal(result.sha3_256, sha3);
    assert.equal(result.resumedFrom, 0);
    assert.ok(readFileSync(dest).equals(content));
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.endsWith('.gftp-part')),
      [],
    );
  });

  it('keeps what arrived when a download is interrupted and continues from there', async () => {
    const dest = join(dir, 'resumed.bin');
    let chunks = 0;
    const flaky: BusCall = async (address, message, options) => {
      if (address.endsWith('/GetChunk') && ++chunks > 20) {
        throw new GolemError(BusErrorCode.Unreachable, 'link dropped (test)');
      }
      return b.bus.call(address, message, options);
    };
    await assert.rejects(gftpDownload(flaky, url, dest, { retries: 0 }), (e) =>
      isGolemError(e, BusErrorCode.Unreachable),
    );
    assert.equal(existsSync(dest), false);
    const result = await gftpDownload(b.bus.call.bind(b.bus) as BusCall, url, dest);
    assert.ok(result.resumedFrom >= 10 * 40 * 1024, `resumed from ${result.resumedFrom}`);
    assert.ok(result.resumedFrom < SIZE);
    assert.equal(result.sha3_256, sha3);
    assert.ok(readFileSync(dest).equals(content));
  });

  it('retries a failed chunk call and still completes', async () => {
    const dest = join(dir, 'retried.bin');
    // Three chunk calls fail, never two in a row (chosen, not random: a random pick could fail one chunk
    // more times than the client retries it).
    let chunkCalls = 0;
    let failures = 0;
    const flaky: BusCall = async (address, message, options) => {
      if (address.endsWith('/GetChunk') && [2, 5, 9].includes(++chunkCalls)) {
        failures++;
        throw new GolemError(BusErrorCode.Timeout, 'slow (test)');
      }
      return b.bus.call(address, message, options);
    };
    const result = await gftpDownload(flaky, url, dest, { retryDelayMs: 1 });
    assert.equal(result.sha3_256, sha3);
    assert.equal(failures, 3);
  });

  it('detects a corrupted chunk and keeps nothing of it', async () => {
    const dest = join(dir, 'corrupt.bin');
    let chunks = 0;
    const corrupting: BusCall = async (address, message, options) => {
      const reply = await b.bus.call(address, message, options);
      if (address.endsWith('/GetChunk') && ++chunks === 7) {
        const chunk = reply as { offset: number; content: Uint8Array };
        const content = Uint8Array.from(chunk.content);
        content[100] = content[100]! ^ 0xff;
        return { offset: chunk.offset, content };
      }
      return reply;
    };
    await assert.rejects(gftpDownload(corrupting, url, dest), (e) =>
      isGolemError(e, GftpErrorCode.Integrity),
    );
    assert.equal(existsSync(dest), false);
    assert.deepEqual(
      readdirSync(dir).filter((name) => name.startsWith('corrupt.bin')),
      [],
    );
  });

  it('uploads to a receive target, checked by hash, owned by the first uploader', async () => {
    const target = join(dir, 'received.bin');
    const [entry] = await a.bus.call<GftpPublished>(GftpLocalAddress.Receive, { path: target });
    const events: GftpEvent[] = [];
    a.bus.subscribe<GftpEvent>(GFTP_EVENTS_TOPIC, (event) => {
      events.push(event);
    });
    const result = await gftpUpload(b.bus.call.bind(b.bus) as BusCall, source, entry!.url, {
      concurrency: 4,
    });
    assert.equal(result.sha3_256, sha3);
    assert.ok(readFileSync(target).equals(content));
    assert.deepEqual(
      events.map((event) => [event.type, event.hash, event.size]),
      [['received', sha3, SIZE]],
    );
    // Finished: nobody writes to it any more, not even its uploader.
    await assert.rejects(
      b.bus.call(gftpNetAddress(a.nodeId, entry!.id, 'UploadChunk'), {
        chunk: { offset: 0, content: new Uint8Array(4) },
      }),
      (e) => isGolemError(e, GftpErrorCode.Forbidden),
    );

    const [other] = await a.bus.call<GftpPublished>(GftpLocalAddress.Receive, {
      path: join(dir, 'other.bin'),
    });
    await b.bus.call(gftpNetAddress(a.nodeId, other!.id, 'UploadChunk'), {
      chunk: { offset: 0, content: new Uint8Array([1, 2, 3]) },
    });
    await assert.rejects(
      c.bus.call(gftpNetAddress(a.nodeId, other!.id, 'UploadChunk'), {
        chunk: { offset: 3, content: new Uint8Array([4]) },
      }),
      (e) => isGolemError(e, GftpErrorCode.Forbidden),
    );
    await assert.rejects(
      b.bus.call(gftpNetAddress(a.nodeId, other!.id, 'UploadFinished'), { hash: sha3 }),
      (e) => isGolemError(e, GftpErrorCode.Integrity),
    );
  });

  it('downloads as one stream of chunks (GetChunks) where the server has it, resuming and checking it too', async () => {
    const stream = b.bus.stream.bind(b.bus) as BusStream;
    let chunkCalls = 0;
    const counting: BusCall = async (address, message, options) => {
      if (address.endsWith('/GetChunk')) chunkCalls++;
      return b.bus.call(address, message, options);
    };
    const dest = join(dir, 'streamed.bin');
    const result = await gftpDownload(counting, url, dest, { stream, chunkSize: 256 * 1024 });
    assert.equal(result.sha3_256, sha3);
    assert.equal(chunkCalls, 0);
    assert.ok(readFileSync(dest).equals(content));

    // Interrupted after 5 chunks: what arrived stays; the next download goes on from there.
    const cut = join(dir, 'streamed-cut.bin');
    const breaking: BusStream = async function* (address, message, options) {
      let items = 0;
      for await (const item of b.bus.stream(address, message, options)) {
        if (++items > 5) throw new GolemError(BusErrorCode.Unreachable, 'link dropped (test)');
        yield item;
      }
    };
    await assert.rejects(
      gftpDownload(counting, url, cut, { stream: breaking, retries: 0, chunkSize: 65536 }),
      (e) => isGolemError(e, BusErrorCode.Unreachable),
    );
    const resumed = await gftpDownload(counting, url, cut, { stream, chunkSize: 65536 });
    assert.equal(resumed.resumedFrom, 5 * 65536);
    assert.ok(readFileSync(cut).equals(content));

    const flipping: BusStream = async function* (address, message, options) {
      let items = 0;
      for await (const item of b.bus.stream(address, message, options)) {
        const chunk = item as { offset: number; content: Uint8Array };
        if (++items === 3) {
          const bad = Uint8Array.from(chunk.content);
          bad[0] = bad[0]! ^ 1;
          yield { offset: chunk.offset, content: bad };
        } else yield item;
      }
    };
    await assert.rejects(gftpDownload(counting, url, join(dir, 'flipped.bin'), { stream: flipping }), (e) =>
      isGolemError(e, GftpErrorCode.Integrity),
    );
    assert.equal(existsSync(join(dir, 'flipped.bin')), false);
    assert.equal(chunkCalls, 0);
  });

  it('bounds what one peer may have open: GetChunks streams and the bytes one of them carries', async () => {
    const address = gftpNetAddress(a.nodeId, sha3, 'GetChunks');
    const open = Array.from({ length: 4 }, () =>
      c.bus.stream(address, { offset: 0, chunkSize: 1024 })[Symbol.asyncIterator](),
    );
    await Promise.all(open.map((iterator) => iterator.next()));
    await assert.rejects(
      c.bus.stream(address, { offset: 0, chunkSize: 1024 })[Symbol.asyncIterator]().next(),
      (e) => isGolemError(e, GftpErrorCode.Busy),
    );
    await Promise.all(open.map((iterator) => iterator.return?.()));
    // A plain call gets the whole stream collected: never more than GFTP_MAX_STREAM_BYTES of it.
    const all = (await c.bus.call(address, { offset: 0, chunkSize: GFTP_MAX_CHUNK_SIZE })) as {
      content: Uint8Array;
    }[];
    const bytes = all.reduce((sum, chunk) => sum + chunk.content.byteLength, 0);
    assert.ok(bytes <= GFTP_MAX_STREAM_BYTES);
  });

  it('an interrupted upload goes on from where it stopped (the receiver keeps what arrived)', async () => {
    const target = join(dir, 'upload-resumed.bin');
    const [entry] = await a.bus.call<GftpPublished>(GftpLocalAddress.Receive, { path: target });
    let chunks = 0;
    const dropping: BusCall = async (address, message, options) => {
      if (address.endsWith('/UploadChunk') && ++chunks > 10)
        throw new GolemError(BusErrorCode.Unreachable, 'link dropped (test)');
      return b.bus.call(address, message, options);
    };
    await assert.rejects(gftpUpload(dropping, source, entry!.url, { retries: 0 }), (e) =>
      isGolemError(e, BusErrorCode.Unreachable),
    );
    const sent: number[] = [];
    const recording: BusCall = async (address, message, options) => {
      if (address.endsWith('/UploadChunk'))
        sent.push((message as { chunk: { offset: number } }).chunk.offset);
      return b.bus.call(address, message, options);
    };
    const result = await gftpUpload(recording, source, entry!.url, { fromOffset: 10 * 40 * 1024 });
    assert.equal(sent[0], 10 * 40 * 1024);
    assert.equal(result.sha3_256, sha3);
    assert.ok(readFileSync(target).equals(content));
  });

  it('answers bad requests with codes and clamps oversized chunk requests', async () => {
    const id = sha3;
    const call = (component: string, message: unknown) =>
      b.bus.call(gftpNetAddress(a.nodeId, id, component), message);
    const big = (await call('GetChunk', { offset: 0, size: 1e9 })) as { content: Uint8Array };
    assert.equal(big.content.byteLength, GFTP_MAX_CHUNK_SIZE);
    const tail = (await call('GetChunk', { offset: SIZE - 5, size: 40960 })) as { content: Uint8Array };
    assert.equal(tail.content.byteLength, 5);
    for (const bad of [
      { offset: -1, size: 10 },
      { offset: SIZE + 1, size: 10 },
      { offset: 0.5, size: 1 },
      null,
    ]) {
      await assert.rejects(call('GetChunk', bad), (e) => isGolemError(e, GftpErrorCode.BadRequest));
    }
    await assert.rejects(call('UploadChunk', { chunk: { offset: 0, content: new Uint8Array(1) } }), (e) =>
      isGolemError(e, GftpErrorCode.NotFound),
    );
    await assert.rejects(b.bus.call(gftpNetAddress(a.nodeId, 'nothing-here', 'GetMetadata'), {}), (e) =>
      isGolemError(e, GftpErrorCode.NotFound),
    );
    await assert.rejects(
      gftpDownload(b.bus.call.bind(b.bus) as BusCall, 'gftp://nobody/x', join(dir, 'x')),
      (e) => isGolemError(e, GftpErrorCode.BadUrl),
    );
  });

  it('unpublishes on Close', async () => {
    const closed = await a.bus.call<{ closed: number }>(GftpLocalAddress.Close, { urls: [url] });
    assert.equal(closed.closed, 1);
    await assert.rejects(b.bus.call(gftpNetAddress(a.nodeId, sha3, 'GetMetadata'), {}), (e) =>
      isGolemError(e, GftpErrorCode.NotFound),
    );
  });
});
