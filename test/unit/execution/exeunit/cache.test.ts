/** The task-package cache: fetched once, verified by sha3, reused, bounded. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isGolemError } from '../../../../src/core/errors/index.ts';
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
