import assert from 'node:assert/strict';
import { mkdirSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { resolveInside } from '../../../../src/execution/runtimes/wasi/path-guard.ts';
import { tempDir } from '../../../support/daemon.ts';

describe('WASI path guard', () => {
  const base = realpathSync(tempDir('wasi-guard-'));
  const root = join(base, 'vol');
  mkdirSync(join(root, 'sub', 'deep'), { recursive: true });
  symlinkSync('sub', join(root, 'inner'));
  symlinkSync('../..', join(root, 'sub', 'up2'));
  symlinkSync('..', join(root, 'sub', 'deep', 'parent'));
  symlinkSync(base, join(root, 'absolute'));
  symlinkSync('loop', join(root, 'loop'));
  const dir = { root, host: root };

  it('resolves paths inside the volume, following links that stay inside', () => {
    assert.equal(resolveInside(dir, 'a.txt', true), join(root, 'a.txt'));
    assert.equal(resolveInside(dir, './sub/../sub/deep/x', true), join(root, 'sub', 'deep', 'x'));
    assert.equal(resolveInside(dir, 'inner/deep', true), join(root, 'sub', 'deep'));
    assert.equal(resolveInside(dir, 'sub/deep/parent/deep', true), join(root, 'sub', 'deep'));
    assert.equal(resolveInside({ root, host: join(root, 'sub') }, '../a', true), join(root, 'a'));
  });

  it('refuses what leaves it: by name, through a link, absolute, looping', () => {
    for (const path of [
      '..',
      '../vol/a',
      'sub/../../x',
      '/etc/passwd',
      'sub/up2/x',
      'absolute/x',
      'loop/x',
    ]) {
      assert.equal(resolveInside(dir, path, true), undefined, path);
    }
    assert.equal(resolveInside({ root, host: join(root, 'sub') }, '../../x', true), undefined);
  });

  it('does not follow a final link when the call does not (unlink, readlink, lstat)', () => {
    assert.equal(resolveInside(dir, 'absolute', false), join(root, 'absolute'));
    assert.equal(resolveInside(dir, 'absolute', true), undefined);
    assert.equal(resolveInside(dir, 'sub/up2', false), join(root, 'sub', 'up2'));
  });
});
