/**
 * The whole activity flow on the WASI runtime (descriptor `wasmtime`, found among the shipped descriptors): a
 * WASM package built here from WAT, named by the demand's `golem.srv.comp.task_package` with its sha3 and served
 * over HTTP, fetched into the provider's image cache, deployed, started and run; files travel from the requestor
 * by GFTP into a volume and back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import wabt from 'wabt';
import { ControlConnection } from '../../src/core/control/index.ts';
import { GftpLocalAddress, type GftpPublished } from '../../src/core/model/gftp.ts';
import { activityClient, execute, readyActivity } from '../support/activity.ts';
import { approvedAgreement } from '../support/agreement.ts';
import {
  type DaemonHandle,
  type RelayHandle,
  startDaemon,
  startRelayProcess,
  tempDir,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';

const wat = await wabt();
function compile(source: string): Uint8Array {
  const module = wat.parseWat('test.wat', source);
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

const FD_WRITE =
  '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))';
const PATH_OPEN =
  '(import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))';
const FD_READ =
  '(import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))';
const EXIT = '(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))';

/** `hello`: prints "hello from wasi". `shout`: reads /golem/input/in.txt, writes it upper-cased to /golem/output/out.txt. */
const HELLO = `(module ${FD_WRITE} (memory (export "memory") 1) (data (i32.const 1024) "hello from wasi\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
const SHOUT = `(module ${FD_WRITE} ${PATH_OPEN} ${FD_READ} ${EXIT} (memory (export "memory") 1)
  (data (i32.const 512) "in.txt") (data (i32.const 544) "out.txt")
  (func (export "_start") (local $n i32) (local $i i32) (local $c i32)
    ;; fd 3 = first preopen (/golem/input), fd 4 = second (/golem/output)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 512) (i32.const 6) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16))
      (then (call $proc_exit (i32.const 10))))
    (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 4096))
    (drop (call $fd_read (i32.load (i32.const 16)) (i32.const 0) (i32.const 1) (i32.const 8)))
    (local.set $n (i32.load (i32.const 8)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $c (i32.load8_u (i32.add (i32.const 1024) (local.get $i))))
      (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
        (then (i32.store8 (i32.add (i32.const 1024) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (if (call $path_open (i32.const 4) (i32.const 0) (i32.const 544) (i32.const 7) (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 20))
      (then (call $proc_exit (i32.const 11))))
    (i32.store (i32.const 4) (local.get $n))
    (drop (call $fd_write (i32.load (i32.const 20)) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

function wasmPackage(): Buffer {
  const manifest = {
    id: 'activity-e2e',
    name: 'activity-e2e',
    'entry-points': [
      { id: 'hello', 'wasm-path': 'hello.wasm' },
      { id: 'shout', 'wasm-path': 'shout.wasm' },
    ],
    'mount-points': [{ ro: 'golem/input' }, { rw: 'golem/output' }],
  };
  return Buffer.from(
    zipSync({
      'manifest.json': strToU8(JSON.stringify(manifest)),
      'hello.wasm': compile(HELLO),
      'shout.wasm': compile(SHOUT),
    }),
  );
}

describe('an activity on the WASI runtime, files by GFTP', () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let http: Server;
  let packageUrl: string;

  before(async () => {
    const pkg = wasmPackage();
    http = createServer((_request, response) =>
      response.writeHead(200, { 'content-length': pkg.length }).end(pkg),
    );
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const hash = createHash('sha3-224').update(pkg).digest('hex');
    packageUrl = `hash:sha3:${hash}:http://127.0.0.1:${(http.address() as AddressInfo).port}/activity-e2e.zip`;
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
  });
  after(async () => {
    http?.close();
    await Promise.all([requestor, provider].map((d) => d?.stop()));
    await relay?.stop();
  });

  it('deploys a package from the cache, runs, moves files by GFTP, destroys', async () => {
    const agreementId = await approvedAgreement(requestor, provider, {
      runtime: 'wasmtime',
      demand: { 'golem.srv.comp.task_package': packageUrl },
    });
    const api = activityClient(requestor);
    const activityId = await readyActivity(api, agreementId);

    const control = await ControlConnection.connect(join(requestor.dataDir, 'yagna.sock'));
    const input = join(tempDir('wasi-e2e-'), 'in.txt');
    writeFileSync(input, 'quiet words\n');
    const [published] = await control.call<GftpPublished>(GftpLocalAddress.Publish, { paths: [input] });
    const output = join(tempDir('wasi-e2e-'), 'out.txt');
    const [receiver] = await control.call<GftpPublished>(GftpLocalAddress.Receive, { path: output });
    const capture = { stdout: { atEnd: { format: 'str' } }, stderr: { atEnd: { format: 'str' } } };
    const results = await execute(api, activityId, [
      { transfer: { from: published!.url, to: 'container:/golem/input/in.txt' } },
      { run: { entry_point: 'hello', args: [], capture } },
      { run: { entry_point: 'shout', args: [], capture } },
      { transfer: { from: 'container:/golem/output/out.txt', to: receiver!.url } },
    ]);
    assert.deepEqual(
      results.map((r) => r.result),
      ['Ok', 'Ok', 'Ok', 'Ok'],
      JSON.stringify(results),
    );
    assert.equal(results[1]!.stdout, 'hello from wasi\n', JSON.stringify(results));
    await eventually(() => {
      try {
        return readFileSync(output, 'utf8') === 'QUIET WORDS\n';
      } catch {
        return false;
      }
    }, 'the upper-cased file on the requestor');
    await control.close();

    const usage = await api.requestorState.getActivityUsage(activityId);
    assert.ok(usage.currentUsage![0]! > 0);
    await api.requestorControl.destroyActivity(activityId, 30);
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Terminated', null]);
  });
});
