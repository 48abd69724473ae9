/**
 * The GFTP service's bounds on what a peer may make it store: chunk size and upload size per receive target, and
 * how many files are published or received at once. Calls come from another node id through the bus's remote entry.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { openDatabase } from '../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { GftpService } from '../../../../src/core/gftp/index.ts';
import { IdentityService } from '../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { GFTP_MAX_CHUNK_SIZE, GftpErrorCode, type GftpPublished } from '../../../../src/core/model/gftp.ts';
import { tempDir } from '../../../support/daemon.ts';

const PEER = `0x${'cd'.repeat(20)}`;
/** Above one chunk, so that the chunk bound and the upload bound are each tried alone. */
const LIMIT = 4 * 1024 * 1024;

describe('GFTP service bounds', () => {
  const bus = new LocalBus();
  const identity = new IdentityService({
    db: openDatabase(':memory:'),
    bus,
    logger: silentLogger,
    config: resolveConfig({}, {}),
  });
  const gftp = new GftpService({
    bus,
    logger: silentLogger,
    limits: { maxUploadBytes: LIMIT, maxEntries: 2 },
  });
  const dir = tempDir('gftp-limits-');

  before(async () => {
    await identity.start();
    await gftp.start();
  });
  after(async () => {
    await gftp.stop();
    await identity.stop();
  });

  const upload = (id: string, offset: number, content: Uint8Array) =>
    bus.dispatchRemote(
      PEER,
      `/public/gftp/${id}/UploadChunk`,
      { chunk: { offset, content } },
      new AbortController().signal,
    );
  const tooLarge = (e: unknown) => isGolemError(e, GftpErrorCode.TooLarge);

  it('refuses a chunk above the chunk size and bytes past the upload size, writing none of them', async () => {
    const path = join(dir, 'received.bin');
    const [entry] = (await gftp.receive({ path })) as GftpPublished;
    await assert.rejects(upload(entry!.id, 0, new Uint8Array(GFTP_MAX_CHUNK_SIZE + 1)), tooLarge);
    await assert.rejects(upload(entry!.id, LIMIT - 10, new Uint8Array(20)), tooLarge);
    await assert.rejects(upload(entry!.id, LIMIT, new Uint8Array(1)), tooLarge);
    assert.equal(statSync(path).size, 0);
    await upload(entry!.id, LIMIT - 20, new Uint8Array(20));
    assert.equal(statSync(path).size, LIMIT);
    await gftp.close({ urls: [entry!.url] });
  });

  it('holds at most maxEntries files published or received', async () => {
    const file = join(dir, 'published.bin');
    writeFileSync(file, 'some bytes');
    const [published] = (await gftp.publish({ paths: [file] })) as GftpPublished;
    await gftp.receive({ path: join(dir, 'second.bin') });
    const busy = (e: unknown) => isGolemError(e, GftpErrorCode.Busy);
    await assert.rejects(gftp.receive({ path: join(dir, 'third.bin') }), busy);
    assert.equal(existsSync(join(dir, 'third.bin')), false);
    writeFileSync(join(dir, 'other.bin'), 'other bytes');
    await assert.rejects(gftp.publish({ paths: [join(dir, 'other.bin')] }), busy);
    // Publishing what is already published takes no room.
    assert.equal(((await gftp.publish({ paths: [file] })) as GftpPublished)[0]!.id, published!.id);
  });
});
