/**
 * The whole activity flow on the WASI runtime (descriptor `wasmtime`, found among the shipped descriptors): a
 * WASM package built here from WAT, named by the demand's `golem.srv.comp.task_package` with its sha3 and served
 * over HTTP, fetched into the provider's image cache, deployed, started and run; files travel from the requestor
 * by GFTP into a volume and back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { strToU8, zipSync } from 'fflate';
import wabt from 'wabt';
import { activityClient, execute, readyActivity } from '../support/activity.ts';
import {
  assertAllOk,
  CAPTURE,
  destroyActivity,
  gftpRoundTrip,
  type RelayedPair,
  startRelayedPair,
  stopRelayedPair,
} from '../support/activity-run.ts';
import { approvedAgreement } from '../support/agreement.ts';

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
  let daemons: RelayedPair | undefined;
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
    daemons = await startRelayedPair();
  });
  after(async () => {
    http?.close();
    await stopRelayedPair(daemons);
  });

  it('deploys a package from the cache, runs, moves files by GFTP, destroys', async () => {
    const { requestor, provider } = daemons!;
    const agreementId = await approvedAgreement(requestor, provider, {
      runtime: 'wasmtime',
      demand: { 'golem.srv.comp.task_package': packageUrl },
    });
    const api = activityClient(requestor);
    const activityId = await readyActivity(api, agreementId);

    const files = await gftpRoundTrip(requestor);
    const results = await execute(api, activityId, [
      { transfer: { from: files.from, to: 'container:/golem/input/in.txt' } },
      { run: { entry_point: 'hello', args: [], capture: CAPTURE } },
      { run: { entry_point: 'shout', args: [], capture: CAPTURE } },
      { transfer: { from: 'container:/golem/output/out.txt', to: files.to } },
    ]);
    assertAllOk(results, 4);
    assert.equal(results[1]!.stdout, 'hello from wasi\n', JSON.stringify(results));
    await files.upperCasedBack();

    const usage = await api.requestorState.getActivityUsage(activityId);
    assert.ok(usage.currentUsage![0]! > 0);
    await destroyActivity(api, activityId, 30);
  });
});
