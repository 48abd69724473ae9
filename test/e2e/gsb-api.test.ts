/**
 * golem-js 3.6.0's default storage provider (WebSocketStorageProvider, unmodified) against a real daemon's
 * `/gsb-api/v1`, and a second daemon over the net that pulls and pushes files the way a provider's ExeUnit does
 * (its GFTP module runs gftpDownload/gftpUpload on its bus).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ControlConnection } from '../../src/core/control/index.ts';
import { isGolemError } from '../../src/core/errors/index.ts';
import { GsbApiErrorCode } from '../../src/core/gsb-api/index.ts';
import { GftpErrorCode, GftpLocalAddress, type GftpTransferDone } from '../../src/core/model/gftp.ts';
import {
  CLI_MAIN,
  type DaemonHandle,
  type RelayHandle,
  runCli,
  startDaemon,
  startRelayProcess,
  tempDir,
} from '../support/daemon.ts';

// golem-js's CommonJS build: in its ES-module build `receiveData` calls `jsSha3.sha3_256` on a namespace import
// of the CommonJS js-sha3, which Node leaves empty, so receiving data throws inside golem-js.
const { WebSocketStorageProvider, YagnaApi } = createRequire(import.meta.url)(
  '@golem-sdk/golem-js',
) as typeof import('@golem-sdk/golem-js');
type WebSocketStorageProvider = import('@golem-sdk/golem-js').WebSocketStorageProvider;

const silent = {
  child: () => silent,
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

describe('/gsb-api/v1 with golem-js WebSocketStorageProvider, and GFTP from another daemon', () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let providerControl: ControlConnection;
  let storage: WebSocketStorageProvider;
  const dir = tempDir('gsb-api-');

  before(async () => {
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
    providerControl = await ControlConnection.connect(join(provider.dataDir, 'yagna.sock'));
    const yagnaApi = new YagnaApi({
      apiKey: requestor.appKey,
      basePath: requestor.apiUrl,
      logger: silent as never,
    });
    storage = new WebSocketStorageProvider(yagnaApi, { logger: silent as never });
    await storage.init();
  });
  after(async () => {
    await storage?.close();
    await providerControl?.close();
    await Promise.all([requestor, provider].map((node) => node?.stop()));
    await relay?.stop();
    for (const node of [requestor, provider]) node?.cleanup();
  });

  const pull = (url: string, path: string, expectedHash?: string) =>
    providerControl.call<GftpTransferDone>(
      GftpLocalAddress.Download,
      { url, path, expectedHash },
      { timeoutMs: 60_000 },
    );
  const push = (path: string, url: string) =>
    providerControl.call<GftpTransferDone>(GftpLocalAddress.Upload, { path, url }, { timeoutMs: 60_000 });

  it('golem-js publishes a file; the provider daemon downloads it over the net, hash checked', async () => {
    const content = randomBytes(1024 * 1024 + 333);
    const source = join(dir, 'published.bin');
    writeFileSync(source, content);
    const url = await storage.publishFile(source);
    assert.match(url, new RegExp(`^gftp://${requestor.nodeId}/[0-9a-f-]{36}$`));
    const sha3_224 = createHash('sha3-224').update(content).digest('hex');
    const dest = join(dir, 'pulled.bin');
    const result = await pull(url, dest, sha3_224);
    assert.equal(result.bytes, content.length);
    assert.ok(readFileSync(dest).equals(content));
    await assert.rejects(pull(url, join(dir, 'wrong.bin'), 'ab'.repeat(28)), (e) =>
      isGolemError(e, GftpErrorCode.Integrity),
    );
  });

  it('golem-js publishes bytes (publishData); the provider downloads them', async () => {
    // A Uint8Array of its own: golem-js slices it per chunk, and a Buffer's slice is a view whose whole backing
    // store FlexBuffers would send.
    const data = new Uint8Array(randomBytes(100_000));
    const url = await storage.publishData(data);
    const dest = join(dir, 'data.bin');
    await pull(url, dest);
    assert.ok(readFileSync(dest).equals(data));
  });

  it('the provider uploads a file; golem-js receives it (receiveFile and receiveData)', async () => {
    const content = randomBytes(700_000);
    const source = join(dir, 'result.bin');
    writeFileSync(source, content);

    const dest = join(dir, 'received.bin');
    const fileUrl = await storage.receiveFile(dest);
    await push(source, fileUrl);
    assert.ok(readFileSync(dest).equals(content));

    const received = Promise.withResolvers<Uint8Array>();
    const dataUrl = await storage.receiveData((data) => received.resolve(data));
    await push(source, dataUrl);
    assert.ok(Buffer.from(await received.promise).equals(content));
  });

  it('refuses bad binds, unknown ids and missing keys with codes', async () => {
    const post = (body: unknown, key = requestor.appKey) =>
      fetch(`${requestor.apiUrl}/gsb-api/v1/services`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    for (const body of [
      {},
      { listen: { on: '/local/identity', components: ['Sign'] } },
      { listen: { on: '/public/gftp/../x', components: ['GetChunk'] } },
      { listen: { on: '/public/gftp/x', components: [] } },
      { listen: { on: '/public/gftp/x', components: ['Get/../Chunk'] } },
    ]) {
      const response = await post(body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(((await response.json()) as { code: string }).code, GsbApiErrorCode.BadRequest);
    }
    const ok = await post({ listen: { on: '/public/test/dup', components: ['Echo'] } });
    assert.equal(ok.status, 201);
    const { servicesId } = (await ok.json()) as { servicesId: string };
    assert.equal(ok.headers.get('location'), `/${servicesId}`);
    const dup = await post({ listen: { on: '/public/test/dup', components: ['Echo'] } });
    assert.equal(dup.status, 400);
    assert.equal(((await dup.json()) as { code: string }).code, GsbApiErrorCode.AlreadyBound);
    assert.equal(
      (await post({ listen: { on: '/public/test/x', components: ['Echo'] } }, 'wrong-key')).status,
      401,
    );

    const del = (id: string) =>
      fetch(`${requestor.apiUrl}/gsb-api/v1/services/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${requestor.appKey}` },
      });
    const deleted = await del(servicesId);
    assert.equal(deleted.status, 200);
    assert.equal(await deleted.text(), 'null');
    assert.equal((await del(servicesId)).status, 404);
    assert.equal((await del('not base64 !')).status, 400);

    const wsStatus = (id: string, key = requestor.appKey) =>
      new Promise<number>((resolve) => {
        const socket = new WebSocket(
          `${requestor.apiUrl.replace('http', 'ws')}/gsb-api/v1/services/${id}?authToken=${key}`,
          ['gsb+flexbuffers'],
        );
        socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
        socket.on('open', () => {
          resolve(101);
          socket.close();
        });
        socket.on('error', () => {});
      });
    assert.equal(await wsStatus(servicesId), 404);
    assert.equal(await wsStatus(servicesId, 'wrong-key'), 401);
  });

  it('yagna gftp publish serves until Ctrl-C; yagna gftp receive on another node downloads it', async () => {
    const content = randomBytes(300_000);
    const source = join(dir, 'cli-source.bin');
    writeFileSync(source, content);
    const publisher = spawn(
      process.execPath,
      [CLI_MAIN, 'gftp', 'publish', source, '--datadir', requestor.dataDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const [line] = (await once(publisher.stdout!, 'data')) as [Buffer];
    const url = line.toString().split(' ')[0]!;
    assert.equal(url, `gftp://${requestor.nodeId}/${createHash('sha3-256').update(content).digest('hex')}`);
    const dest = join(dir, 'cli-dest.bin');
    const received = runCli(['gftp', 'receive', url, dest], { dataDir: provider.dataDir });
    assert.equal(received.code, 0, received.stderr);
    assert.match(received.stdout, /received 300000 bytes/);
    assert.ok(readFileSync(dest).equals(content));

    publisher.kill('SIGINT');
    const [code] = (await once(publisher, 'exit')) as [number];
    assert.equal(code, 0);
    const gone = runCli(['gftp', 'receive', url, join(dir, 'gone.bin')], { dataDir: provider.dataDir });
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /GFTP_NOT_FOUND|no such file/);
    assert.equal(runCli(['gftp', 'receive', 'not-a-url'], { dataDir: provider.dataDir }).code, 2);
  });
});
