/** Transfer URLs and container paths: volumes by longest prefix, no climbing out, no symlinks out, size limits. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GolemError } from '../../../../src/core/errors/index.ts';
import type { BusCall } from '../../../../src/core/model/gftp-client.ts';
import {
  containerToHost,
  parseTransferUrl,
  TransferErrorCode,
  transfer,
} from '../../../../src/execution/transfer/index.ts';
import { tempDir } from '../../../support/daemon.ts';

const code = (expected: string) => (e: unknown) => e instanceof GolemError && e.code === expected;

function activityDir() {
  const workdir = tempDir('transfer-');
  const vols = [
    { name: 'vol-a', path: '/golem' },
    { name: 'vol-b', path: '/golem/input' },
    { name: 'vol-c', path: '/golem/output/' },
  ];
  for (const vol of vols) mkdirSync(join(workdir, vol.name));
  return { workdir, vols };
}

describe('transfers', () => {
  it('parses hash prefixes (variant by length), schemes, bare paths as container paths', () => {
    const hex = 'ab'.repeat(28);
    assert.deepEqual(parseTransferUrl(`hash:sha3:${hex}:http://h/x`).hash, { algorithm: 'sha3-224', hex });
    assert.deepEqual(parseTransferUrl(`HASH://sha3:0x${'CD'.repeat(32)}:gftp://0x1/abc`).hash, {
      algorithm: 'sha3-256',
      hex: 'cd'.repeat(32),
    });
    assert.equal(parseTransferUrl('/golem/input/x').scheme, 'container');
    assert.equal(parseTransferUrl('container:/golem/x').path, '/golem/x');
    assert.throws(
      () => parseTransferUrl(`hash:sha3:${'a'.repeat(10)}:http://h/x`),
      code(TransferErrorCode.BadUrl),
    );
    assert.throws(() => parseTransferUrl('ftp://h/x'), code(TransferErrorCode.BadUrl));
  });

  it('maps container paths by the longest volume at a / boundary; refuses .. and paths outside', () => {
    const context = activityDir();
    assert.equal(
      containerToHost('/golem/input/a/b', context).hostPath,
      join(context.workdir, 'vol-b', 'a', 'b'),
    );
    assert.equal(
      containerToHost('/golem/inputs', context).hostPath,
      join(context.workdir, 'vol-a', 'inputs'),
    );
    assert.equal(containerToHost('/golem/output/x', context).hostPath, join(context.workdir, 'vol-c', 'x'));
    assert.throws(
      () => containerToHost('/golem/input/../../etc/passwd', context),
      code(TransferErrorCode.OutsideVolume),
    );
    assert.throws(() => containerToHost('/etc/passwd', context), code(TransferErrorCode.OutsideVolume));
    assert.throws(() => containerToHost('relative/x', context), code(TransferErrorCode.OutsideVolume));
  });

  it('copies inside the volumes, checks the hash, and refuses symlinks leading out and files over the limit', async () => {
    const context = activityDir();
    const secret = join(tempDir('outside-'), 'secret');
    writeFileSync(secret, 'secret');
    writeFileSync(join(context.workdir, 'vol-b', 'in.txt'), 'content');
    await transfer('container:/golem/input/in.txt', 'container:/golem/output/deep/dir/out.txt', context);
    assert.equal(readFileSync(join(context.workdir, 'vol-c', 'deep', 'dir', 'out.txt'), 'utf8'), 'content');

    const sha3 = createHash('sha3-256').update('content').digest('hex');
    await transfer(
      `hash:sha3:${sha3}:container:/golem/input/in.txt`,
      'container:/golem/output/ok.txt',
      context,
    );
    await assert.rejects(
      transfer(
        `hash:sha3:${'0'.repeat(64)}:container:/golem/input/in.txt`,
        'container:/golem/output/bad.txt',
        context,
      ),
      code(TransferErrorCode.HashMismatch),
    );

    symlinkSync(secret, join(context.workdir, 'vol-b', 'link'));
    await assert.rejects(
      transfer('container:/golem/input/link', 'container:/golem/output/stolen', context),
      code(TransferErrorCode.SymlinkEscape),
    );
    symlinkSync(join(secret, '..'), join(context.workdir, 'vol-c', 'escape'));
    await assert.rejects(
      transfer('container:/golem/input/in.txt', 'container:/golem/output/escape/planted', context),
      code(TransferErrorCode.SymlinkEscape),
    );
    symlinkSync(secret, join(context.workdir, 'vol-c', 'overwrite'));
    await assert.rejects(
      transfer('container:/golem/input/in.txt', 'container:/golem/output/overwrite', context),
      code(TransferErrorCode.SymlinkEscape),
    );
    assert.equal(readFileSync(secret, 'utf8'), 'secret', 'nothing outside was touched');

    await assert.rejects(
      transfer('container:/golem/input/in.txt', 'container:/golem/output/big', { ...context, maxBytes: 3 }),
      code(TransferErrorCode.TooLarge),
    );
    await assert.rejects(
      transfer('container:/golem/input/missing', 'container:/golem/output/x', context),
      code(TransferErrorCode.NotFound),
    );
    await assert.rejects(transfer('http://h/x', 'https://h/y', context), code(TransferErrorCode.BadUrl));
  });

  it('holds a GFTP download to the limit by the size that download is told, asking the size once', async () => {
    const context = activityDir();
    const file = Buffer.alloc(64 * 1024, 7);
    let metadataCalls = 0;
    let bytesServed = 0;
    // Small the first time it is asked, the whole file every time after.
    const lyingServer: BusCall = async (address, message) => {
      if (address.endsWith('/GetMetadata')) return { fileSize: metadataCalls++ === 0 ? 8 : file.byteLength };
      const { offset, size } = message as { offset: number; size: number };
      const content = Uint8Array.from(file.subarray(offset, offset + size));
      bytesServed += content.byteLength;
      return { offset, content };
    };
    const url = `gftp://0x${'ab'.repeat(20)}/not-a-hash`;
    await transfer(url, 'container:/golem/output/small', { ...context, call: lyingServer, maxBytes: 16 });
    assert.equal(metadataCalls, 1);
    assert.equal(bytesServed, 8);
    assert.equal(readFileSync(join(context.workdir, 'vol-c', 'small')).byteLength, 8);

    const honestServer: BusCall = async (address, message) =>
      address.endsWith('/GetMetadata') ? { fileSize: file.byteLength } : lyingServer(address, message);
    bytesServed = 0;
    await assert.rejects(
      transfer(url, 'container:/golem/output/big', { ...context, call: honestServer, maxBytes: 16 }),
      code(TransferErrorCode.TooLarge),
    );
    assert.equal(bytesServed, 0);
  });
});
