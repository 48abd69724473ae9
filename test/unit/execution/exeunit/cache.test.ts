/** The task-package cache: fetched once, verified by sha3, reused, bounded. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import type { BusCall } from '../../../../src/core/model/gftp-client.ts';
import { ImageCache } from '../../../../src/execution/exeunit/cache.ts';
import { ExeUnitErrorCode } from '../../../../src/execution/exeunit/errors.ts';
import { tempDir } from '../../../support/daemon.ts';

function image(dir: string, name: string, size: number): { path: string; sha3: string } {
  const content = Buffer.alloc(size, name);
  const path = join(dir, name);
  writeFileSync(path, content);
  return { path, sha3: createHash('sha3-224').update(content).digest('hex') };
}

describe('image cache', () => {
  it('stores <stem>_<hash>.<ext> once verified and reuses it; a wrong hash leaves nothing', async () => {
    const source = tempDir('images-');
    const cache = new ImageCache({ dir: tempDir('cache-') });
    const { path, sha3 } = image(source, 'image.gvmi', 1000);
    const local = await cache.fetch(`hash:sha3:${sha3}:file://${path}`);
    assert.equal(local, join(cache.dir, `image_${sha3}.gvmi`));
    writeFileSync(path, 'changed'); // a cached package is not fetched again
    assert.equal(await cache.fetch(`hash:sha3:${sha3}:file://${path}`), local);

    const other = image(source, 'other.zip', 10);
    await assert.rejects(
      cache.fetch(`hash:sha3:${'1'.repeat(56)}:file://${other.path}`),
      (e: unknown) => isGolemError(e, ExeUnitErrorCode.Image) && /InvalidHashError/.test(e.message),
    );
    assert.deepEqual(readdirSync(join(cache.dir, 'tmp')), []);
    await assert.rejects(cache.fetch(`file://${other.path}`), (e: unknown) =>
      isGolemError(e, ExeUnitErrorCode.Image),
    );
  });

  it('fetches gftp:// packages over the bus (golem-js imageUrl: file://…), verified by sha3', async () => {
    const content = Buffer.alloc(100_000, 'gvmi');
    const sha3 = createHash('sha3-224').update(content).digest('hex');
    const node = `0x${'ab'.repeat(20)}`;
    const calls: string[] = [];
    // The requestor's published file as the bus serves it: GetMetadata, then GetChunk by offset.
    const call: BusCall = async (address, message) => {
      calls.push(address.split('/').at(-1)!);
      if (!address.startsWith(`/net/${node}/gftp/file-1/`)) throw new Error(`unexpected ${address}`);
      if (address.endsWith('/GetMetadata')) return { fileSize: content.length };
      const { offset, size } = message as { offset: number; size: number };
      return { offset, content: content.subarray(offset, Math.min(offset + size, content.length)) };
    };
    const cache = new ImageCache({ dir: tempDir('cache-'), call });
    const local = await cache.fetch(`hash:sha3:${sha3}:gftp://${node}/file-1`);
    assert.equal(local, join(cache.dir, `file-1_${sha3}`));
    assert.ok(calls.includes('GetMetadata') && calls.includes('GetChunk'));
    await assert.rejects(cache.fetch(`hash:sha3:${'2'.repeat(56)}:gftp://${node}/file-1`), (e: unknown) =>
      isGolemError(e, ExeUnitErrorCode.Image),
    );
    assert.equal(existsSync(join(cache.dir, `file-1_${'2'.repeat(56)}`)), false);
    await assert.rejects(
      new ImageCache({ dir: tempDir('cache-') }).fetch(`hash:sha3:${sha3}:gftp://${node}/file-1`),
      (e: unknown) => isGolemError(e, ExeUnitErrorCode.Image) && /no bus/.test(e.message),
    );
  });

  it('evicts the least recently used packages beyond its size', async () => {
    const source = tempDir('images-');
    const cache = new ImageCache({ dir: tempDir('cache-'), maxBytes: 2500 });
    const fetched: string[] = [];
    for (const name of ['a.bin', 'b.bin', 'c.bin']) {
      const { path, sha3 } = image(source, name, 1000);
      fetched.push(await cache.fetch(`hash:sha3:${sha3}:${path}`));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(existsSync(fetched[0]!), false, 'the oldest went');
    assert.ok(existsSync(fetched[1]!) && existsSync(fetched[2]!));
  });

  it('lets two ExeUnits fetch the same package at once', async () => {
    const source = tempDir('images-');
    const { path, sha3 } = image(source, 'shared.gvmi', 2_000_000);
    const dir = tempDir('cache-');
    const url = `hash:sha3:${sha3}:file://${path}`;
    const [a, b] = await Promise.all([
      new ImageCache({ dir }).fetch(url),
      new ImageCache({ dir }).fetch(url),
    ]);
    assert.equal(a, b);
    assert.equal(createHash('sha3-224').update(readFileSync(a)).digest('hex'), sha3);
  });
});
