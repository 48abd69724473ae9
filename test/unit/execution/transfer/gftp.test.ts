/**
 * The GFTP download client against a server that answers wrongly (a fake server: this is the client's own unit).
 * The URL's id is no hash, so nothing checks the whole file at the end: each chunk check has to hold by itself.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { GftpErrorCode } from '../../../../src/core/model/gftp.ts';
import { type BusCall, type BusStream, gftpDownload } from '../../../../src/core/model/gftp-client.ts';
import { tempDir } from '../../../support/daemon.ts';

const URL = `gftp://0x${'ab'.repeat(20)}/upload-token-not-a-hash`;
const CHUNK = 4096;
const content = randomBytes(10 * CHUNK + 123);

type Chunk = { offset: number; content: Uint8Array };

/** A server of `content`; `change` may alter the chunk it answers at `offset`. */
function server(change: (chunk: Chunk) => Chunk = (chunk) => chunk): { call: BusCall; stream: BusStream } {
  const chunkAt = (offset: number, size: number): Chunk =>
    change({ offset, content: Uint8Array.from(content.subarray(offset, offset + size)) });
  const call: BusCall = async (address, message) => {
    if (address.endsWith('/GetMetadata')) return { fileSize: content.byteLength };
    const { offset, size } = message as { offset: number; size: number };
    return chunkAt(offset, size);
  };
  const stream: BusStream = async function* (_address, message) {
    const { offset, chunkSize } = message as { offset: number; chunkSize: number };
    for (let at = offset; at < content.byteLength; at += chunkSize) yield chunkAt(at, chunkSize);
  };
  return { call, stream };
}

const integrity = (e: unknown) => isGolemError(e, GftpErrorCode.Integrity);

describe('GFTP download from a server that answers wrongly', () => {
  const dir = tempDir('gftp-client-');

  it('takes an honest server’s file whole, by chunk calls and by stream', async () => {
    const { call, stream } = server();
    await gftpDownload(call, URL, join(dir, 'calls.bin'), { chunkSize: CHUNK, retries: 0 });
    assert.ok(readFileSync(join(dir, 'calls.bin')).equals(content));
    await gftpDownload(call, URL, join(dir, 'stream.bin'), { chunkSize: CHUNK, stream, retries: 0 });
    assert.ok(readFileSync(join(dir, 'stream.bin')).equals(content));
  });

  it('refuses a chunk call answered with another offset or size, keeping nothing', async () => {
    const shifted = server((chunk) => (chunk.offset === 3 * CHUNK ? { ...chunk, offset: 0 } : chunk));
    const short = server((chunk) =>
      chunk.offset === 3 * CHUNK ? { ...chunk, content: chunk.content.subarray(1) } : chunk,
    );
    for (const [name, { call }] of Object.entries({ shifted, short })) {
      const dest = join(dir, `${name}.bin`);
      await assert.rejects(gftpDownload(call, URL, dest, { chunkSize: CHUNK, retries: 0 }), integrity);
      assert.equal(existsSync(dest), false);
    }
  });

  it('refuses a streamed chunk at another offset or past the file’s end', async () => {
    const shifted = server((chunk) => (chunk.offset === 2 * CHUNK ? { ...chunk, offset: CHUNK } : chunk));
    const { call } = server();
    await assert.rejects(
      gftpDownload(call, URL, join(dir, 'stream-shifted.bin'), {
        chunkSize: CHUNK,
        stream: shifted.stream,
        retries: 0,
      }),
      integrity,
    );
    const overlong: BusStream = async function* (address, message, options) {
      for await (const item of server().stream(address, message, options)) {
        const chunk = item as Chunk;
        // The last chunk carries bytes past the size the server announced.
        if (chunk.offset + CHUNK > content.byteLength)
          yield { offset: chunk.offset, content: new Uint8Array(CHUNK) };
        else yield chunk;
      }
    };
    await assert.rejects(
      gftpDownload(call, URL, join(dir, 'stream-long.bin'), {
        chunkSize: CHUNK,
        stream: overlong,
        retries: 0,
      }),
      integrity,
    );
  });

  it('refuses a streamed chunk larger than the chunk size it asked for', async () => {
    const whole: BusStream = async function* () {
      yield { offset: 0, content: Uint8Array.from(content) };
    };
    await assert.rejects(
      gftpDownload(server().call, URL, join(dir, 'stream-whole.bin'), {
        chunkSize: CHUNK,
        stream: whole,
        retries: 0,
      }),
      integrity,
    );
  });

  it('refuses a file larger than maxBytes before fetching any of it', async () => {
    const { call } = server();
    let chunks = 0;
    const counting: BusCall = async (address, message, options) => {
      if (!address.endsWith('/GetMetadata')) chunks++;
      return call(address, message, options);
    };
    const dest = join(dir, 'too-large.bin');
    await assert.rejects(
      gftpDownload(counting, URL, dest, { chunkSize: CHUNK, retries: 0, maxBytes: content.byteLength - 1 }),
      (e: unknown) => isGolemError(e, GftpErrorCode.TooLarge),
    );
    assert.equal(chunks, 0);
    await gftpDownload(counting, URL, dest, { chunkSize: CHUNK, retries: 0, maxBytes: content.byteLength });
    assert.ok(readFileSync(dest).equals(content));
  });

  it('starts over when the kept partial file is longer than the file', async () => {
    const dest = join(dir, 'partial.bin');
    const partial = `${dest}.${createHash('sha3-256').update(URL).digest('hex').slice(0, 12)}.gftp-part`;
    writeFileSync(partial, randomBytes(content.byteLength + 10));
    const result = await gftpDownload(server().call, URL, dest, { chunkSize: CHUNK, retries: 0 });
    assert.equal(result.resumedFrom, 0);
    assert.ok(readFileSync(dest).equals(content));
  });
});
