/**
 * The WASI runtime program run as the supervisor runs it: a process per command, Golem's runtime CLI contract.
 * Test packages are built here from WAT (wabt) and zipped (fflate).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { strToU8, zipSync } from 'fflate';
import wabt from 'wabt';
import { tempDir } from '../../../support/daemon.ts';

const MAIN = fileURLToPath(new URL('../../../../src/execution/runtimes/wasi/main.ts', import.meta.url));
const wat = await wabt();

function compile(source: string): Uint8Array {
  const module = wat.parseWat('test.wat', source);
  try {
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

const WASI = (name: string, params: string, result = '(result i32)') =>
  `(import "wasi_snapshot_preview1" "${name}" (func $${name} (param ${params}) ${result}))`;

/** Writes `text` (placed at 1024) to `fd` through one iovec at 0. */
const writeText = (fd: number, text: string) => `
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const ${Buffer.byteLength(text)}))
    (drop (call $fd_write (i32.const ${fd}) (i32.const 0) (i32.const 1) (i32.const 8)))`;

/** `$strlen` of a NUL-terminated string in memory (for argv). */
const STRLEN = `(func $strlen (param $p i32) (result i32) (local $n i32)
      (block $done (loop $next
        (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $next)))
      (local.get $n))`;

const MODULES: Record<string, string> = {
  // "hello" on stdout, "oops" on stderr, exit code = argc.
  hello: `(module ${WASI('fd_write', 'i32 i32 i32 i32')} ${WASI('args_sizes_get', 'i32 i32')} ${WASI('proc_exit', 'i32', '')}
    (memory (export "memory") 1)
    (data (i32.const 1024) "hello\\n") (data (i32.const 2048) "oops\\n")
    (func (export "_start")
      ${writeText(1, 'hello\n')}
      (i32.store (i32.const 0) (i32.const 2048)) (i32.store (i32.const 4) (i32.const 5))
      (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
      (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
      (call $proc_exit (i32.load (i32.const 16)))))`,
  // Creates (truncating) the file argv[1] relative to the first volume and writes "written\n"; exit 100+errno on failure.
  fs: `(module ${WASI('fd_write', 'i32 i32 i32 i32')} ${WASI('args_sizes_get', 'i32 i32')} ${WASI('args_get', 'i32 i32')}
    ${WASI('path_open', 'i32 i32 i32 i32 i32 i64 i64 i32 i32')} ${WASI('proc_exit', 'i32', '')}
    (memory (export "memory") 1)
    (data (i32.const 1024) "written\\n")
    ${STRLEN}
    (func (export "_start") (local $path i32) (local $errno i32)
      (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
      (drop (call $args_get (i32.const 64) (i32.const 4096)))
      (local.set $path (i32.load (i32.const 68)))
      (local.set $errno (call $path_open (i32.const 3) (i32.const 1) (local.get $path) (call $strlen (local.get $path))
        (i32.const 9) (i64.const 66) (i64.const 66) (i32.const 0) (i32.const 24)))
      (if (local.get $errno) (then (call $proc_exit (i32.add (i32.const 100) (local.get $errno)))))
      (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 8))
      (drop (call $fd_write (i32.load (i32.const 24)) (i32.const 0) (i32.const 1) (i32.const 8)))
      (call $proc_exit (i32.const 0))))`,
  // Makes the symlink argv[1] -> argv[2] in the first volume; exit 100+errno on failure.
  symlink: `(module ${WASI('args_sizes_get', 'i32 i32')} ${WASI('args_get', 'i32 i32')}
    ${WASI('path_symlink', 'i32 i32 i32 i32 i32')} ${WASI('proc_exit', 'i32', '')}
    (memory (export "memory") 1)
    ${STRLEN}
    (func (export "_start") (local $link i32) (local $target i32) (local $errno i32)
      (drop (call $args_sizes_get (i32.const 16) (i32.const 20)))
      (drop (call $args_get (i32.const 64) (i32.const 4096)))
      (local.set $link (i32.load (i32.const 68)))
      (local.set $target (i32.load (i32.const 72)))
      (local.set $errno (call $path_symlink (local.get $target) (call $strlen (local.get $target))
        (i32.const 3) (local.get $link) (call $strlen (local.get $link))))
      (if (local.get $errno) (then (call $proc_exit (i32.add (i32.const 100) (local.get $errno)))))
      (call $proc_exit (i32.const 0))))`,
  loop: `(module (memory (export "memory") 1) (func (export "_start") (loop $forever (br $forever))))`,
  // Asks for 2000 more pages (125 MiB): exit 42 when refused, 0 when granted.
  grow: `(module ${WASI('proc_exit', 'i32', '')} (memory (export "memory") 1)
    (func (export "_start")
      (if (i32.eq (memory.grow (i32.const 2000)) (i32.const -1))
        (then (call $proc_exit (i32.const 42))))
      (call $proc_exit (i32.const 0))))`,
  big: `(module (memory (export "memory") 2000) (func (export "_start")))`,
  spam: `(module ${WASI('fd_write', 'i32 i32 i32 i32')} (memory (export "memory") 2)
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 1024)) (i32.store (i32.const 4) (i32.const 65536))
      (loop $more (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))) (br $more))))`,
  trap: `(module (memory (export "memory") 1) (func (export "_start") unreachable))`,
};

function buildPackage(
  dir: string,
  manifest: Record<string, unknown>,
  files: Record<string, Uint8Array>,
): string {
  const path = join(dir, `package-${Math.random().toString(36).slice(2)}.zip`);
  writeFileSync(path, zipSync({ 'manifest.json': strToU8(JSON.stringify(manifest)), ...files }));
  return path;
}

const MOUNTS = [{ rw: 'golem/output' }, { ro: 'golem/input' }, { private: 'tmp' }];

function fullPackage(dir: string): string {
  const files: Record<string, Uint8Array> = {};
  for (const [id, source] of Object.entries(MODULES)) files[`bin/${id}.wasm`] = compile(source);
  return buildPackage(
    dir,
    {
      id: 'test',
      name: 'test',
      'entry-points': Object.keys(MODULES).map((id) => ({ id, 'wasm-path': `bin/${id}.wasm` })),
      'mount-points': MOUNTS,
    },
    files,
  );
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function runtime(args: string[], env: Record<string, string> = {}): Result {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function deployed(): { dir: string; workdir: string; pkg: string; vols: { name: string; path: string }[] } {
  const dir = tempDir('wasi-');
  const workdir = join(dir, 'work');
  const pkg = fullPackage(dir);
  const result = runtime(['--workdir', workdir, '--task-package', pkg, 'deploy', '--']);
  assert.equal(result.status, 0, result.stderr);
  const answer = JSON.parse(result.stdout) as { vols: { name: string; path: string }[] };
  return { dir, workdir, pkg, vols: answer.vols };
}

describe('WASI runtime program', () => {
  it('deploys: volumes from the mount points, private ones not reported, start mode empty', () => {
    const { workdir, vols } = deployed();
    assert.deepEqual(
      vols.map((volume) => volume.path),
      ['/golem/output', '/golem/input'],
    );
    for (const volume of vols) assert.match(volume.name, /^vol-[0-9a-f-]{36}$/);
    const deployment = JSON.parse(readFileSync(join(workdir, 'deploy.json'), 'utf8')) as {
      vols: [boolean, { name: string }][];
    };
    assert.deepEqual(
      deployment.vols.map(([isPrivate]) => isPrivate),
      [false, false, true],
    );
    for (const [, volume] of deployment.vols) assert.ok(existsSync(join(workdir, volume.name)));
  });

  it('deploy prints exactly the contract shape', () => {
    const dir = tempDir('wasi-');
    const pkg = buildPackage(
      dir,
      { id: 'x', name: 'x', 'entry-points': [{ id: 'main', 'wasm-path': 'm.wasm' }] },
      {
        'm.wasm': compile(MODULES.loop!),
      },
    );
    const result = runtime(['--workdir', join(dir, 'w'), '--task-package', pkg, 'deploy']);
    assert.equal(result.stdout, '{"valid":{"Ok":""},"vols":[],"startMode":"empty"}\n');
  });

  it('runs an entry point: stdout, stderr, arguments, exit code; start compiles every entry point', () => {
    const { workdir, pkg } = deployed();
    const base = ['--workdir', workdir, '--task-package', pkg];
    assert.equal(runtime([...base, 'start', '--']).status, 0);
    const result = runtime([...base, 'run', '--entrypoint', 'hello', '--', 'a', 'b']);
    assert.equal(result.stdout, 'hello\n');
    assert.equal(result.stderr, 'oops\n');
    assert.equal(result.status, 3, 'argc: the wasm path and two arguments');
    const usage = JSON.parse(readFileSync(join(workdir, 'usage.json'), 'utf8')) as { cpuSec: number };
    assert.ok(usage.cpuSec > 0);
  });

  it('writes files only inside its volumes', () => {
    const { dir, workdir, pkg, vols } = deployed();
    const base = ['--workdir', workdir, '--task-package', pkg, 'run', '--entrypoint', 'fs', '--'];
    const output = join(workdir, vols[0]!.name);
    assert.equal(runtime([...base, 'out.txt']).status, 0);
    assert.equal(readFileSync(join(output, 'out.txt'), 'utf8'), 'written\n');

    const deployJson = readFileSync(join(workdir, 'deploy.json'), 'utf8');
    const secret = join(dir, 'secret.txt');
    writeFileSync(secret, 'secret');
    mkdirSync(join(dir, 'outside'));
    symlinkSync(dir, join(output, 'link'));
    for (const path of [
      '../deploy.json',
      '../../secret.txt',
      secret,
      'link/secret.txt',
      'link/outside/new.txt',
    ]) {
      const result = runtime([...base, path]);
      assert.ok(
        result.status !== null && result.status > 100,
        `${path}: exit ${result.status} ${result.stderr}`,
      );
    }
    // Links the module makes itself: to an absolute path or climbing out, refused (ENOTCAPABLE); inside, they work.
    const symlink = ['--workdir', workdir, '--task-package', pkg, 'run', '--entrypoint', 'symlink', '--'];
    assert.equal(runtime([...symlink, 'abs', dir]).status, 176);
    assert.equal(runtime([...symlink, 'up', '../../..']).status, 176);
    assert.equal(runtime([...symlink, 'inner', 'sub']).status, 0);
    mkdirSync(join(output, 'sub'));
    assert.equal(runtime([...base, 'inner/ok.txt']).status, 0, 'a link inside the volume works');
    assert.equal(readFileSync(join(output, 'sub', 'ok.txt'), 'utf8'), 'written\n');
    assert.equal(readFileSync(join(workdir, 'deploy.json'), 'utf8'), deployJson);
    assert.equal(readFileSync(secret, 'utf8'), 'secret');
    assert.deepEqual(readdirSync(join(dir, 'outside')), []);
  });

  it('kills a module that never ends at the time limit and still counts its CPU time', () => {
    const { workdir, pkg } = deployed();
    const result = runtime([
      '--workdir',
      workdir,
      '--task-package',
      pkg,
      '--time-limit',
      '1',
      'run',
      '--entrypoint',
      'loop',
    ]);
    assert.equal(result.status, 124);
    assert.match(result.stderr, /time limit of 1 s exceeded/);
    const usage = JSON.parse(readFileSync(join(workdir, 'usage.json'), 'utf8')) as { cpuSec: number };
    // Counted from /proc when killed (the sandbox never reported): some CPU time, however loaded the machine.
    assert.ok(usage.cpuSec > 0, `cpu ${usage.cpuSec}`);
  });

  it('caps the module memory: growing past the limit fails, starting above it is refused', () => {
    const { workdir, pkg } = deployed();
    const base = ['--workdir', workdir, '--task-package', pkg];
    assert.equal(runtime([...base, '--max-memory', '64m', 'run', '--entrypoint', 'grow']).status, 42);
    assert.equal(runtime([...base, '--max-memory', '256m', 'run', '--entrypoint', 'grow']).status, 0);
    assert.equal(
      runtime([...base, 'run', '--entrypoint', 'grow'], { YA_RUNTIME_WASI_INIT_MEM: '64m' }).status,
      42,
    );
    const big = runtime([...base, '--max-memory', '64m', 'run', '--entrypoint', 'big']);
    assert.equal(big.status, 1);
    assert.match(big.stderr, /WASI_MEMORY_LIMIT/);
  });

  it('stops a module whose output passes the limit, and reports traps', () => {
    const { workdir, pkg } = deployed();
    const base = ['--workdir', workdir, '--task-package', pkg];
    const spam = runtime([...base, '--max-output', '1m', 'run', '--entrypoint', 'spam']);
    assert.equal(spam.status, 125);
    assert.ok(spam.stdout.length <= 1024 * 1024);
    assert.match(spam.stderr, /output passed the limit/);
    const trap = runtime([...base, 'run', '--entrypoint', 'trap']);
    assert.equal(trap.status, 134);
    assert.match(trap.stderr, /wasm trap: unreachable/);
    const missing = runtime([...base, 'run', '--entrypoint', 'nothing']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /WASI_NO_ENTRY_POINT/);
  });

  it('refuses bad packages with a coded error and creates nothing', () => {
    const dir = tempDir('wasi-');
    const module = { 'm.wasm': compile(MODULES.loop!) };
    const entry = [{ id: 'main', 'wasm-path': 'm.wasm' }];
    const cases: [string, string][] = [
      [
        buildPackage(dir, { 'entry-points': entry, 'mount-points': [{ rw: '../escape' }] }, module),
        'WASI_BAD_MANIFEST',
      ],
      [
        buildPackage(dir, { 'entry-points': entry, 'mount-points': [{ rw: '/etc' }] }, module),
        'WASI_BAD_MANIFEST',
      ],
      [
        buildPackage(dir, { 'entry-points': entry, 'mount-points': [{ rw: 'a', ro: 'b' }] }, module),
        'WASI_BAD_MANIFEST',
      ],
      [
        buildPackage(dir, { 'entry-points': [{ id: 'main', 'wasm-path': '../m.wasm' }] }, module),
        'WASI_BAD_MANIFEST',
      ],
      [
        buildPackage(dir, { 'entry-points': [{ id: 'main', 'wasm-path': 'missing.wasm' }] }, module),
        'WASI_BAD_MANIFEST',
      ],
      // One volume inside another, and two volumes at one place.
      [
        buildPackage(
          dir,
          { 'entry-points': entry, 'mount-points': [{ rw: 'data' }, { ro: 'data/sub' }] },
          module,
        ),
        'WASI_BAD_MANIFEST',
      ],
      [
        buildPackage(
          dir,
          { 'entry-points': entry, 'mount-points': [{ rw: 'data' }, { ro: 'data/' }] },
          module,
        ),
        'WASI_BAD_MANIFEST',
      ],
      [buildPackage(dir, { 'entry-points': [] }, module), 'WASI_BAD_MANIFEST'],
      [buildPackage(dir, { 'entry-points': entry, runtime: 'emscripten' }, module), 'WASI_BAD_MANIFEST'],
    ];
    const malformed = join(dir, 'malformed.zip');
    writeFileSync(malformed, zipSync({ 'manifest.json': strToU8('{"entry-points": [') }));
    cases.push([malformed, 'WASI_BAD_MANIFEST']);
    const notZip = join(dir, 'not.zip');
    writeFileSync(notZip, 'not a zip');
    cases.push([notZip, 'WASI_BAD_PACKAGE']);
    const noManifest = join(dir, 'nomanifest.zip');
    writeFileSync(noManifest, zipSync(module));
    cases.push([noManifest, 'WASI_BAD_PACKAGE']);
    for (const [pkg, code] of cases) {
      const workdir = join(dir, `work-${Math.random().toString(36).slice(2)}`);
      const result = runtime(['--workdir', workdir, '--task-package', pkg, 'deploy']);
      assert.equal(result.status, 1, `${pkg}: ${result.stdout}`);
      assert.match(result.stderr, new RegExp(code));
      assert.equal(existsSync(workdir), false, 'nothing created');
    }
    assert.equal(existsSync(join(dir, 'escape')), false);
  });

  it('start fails on a module that does not compile; run needs a deploy first; bad usage exits 2', () => {
    const dir = tempDir('wasi-');
    const pkg = buildPackage(
      dir,
      { 'entry-points': [{ id: 'main', 'wasm-path': 'm.wasm' }] },
      {
        'm.wasm': strToU8('not wasm'),
      },
    );
    const workdir = join(dir, 'w');
    assert.equal(runtime(['--workdir', workdir, '--task-package', pkg, 'deploy']).status, 0);
    const start = runtime(['--workdir', workdir, '--task-package', pkg, 'start']);
    assert.equal(start.status, 1);
    assert.match(start.stderr, /WASI_BAD_MODULE/);
    const notDeployed = runtime(['--workdir', join(dir, 'empty'), 'run', '--entrypoint', 'main']);
    assert.equal(notDeployed.status, 1);
    assert.match(notDeployed.stderr, /WASI_NOT_DEPLOYED/);
    assert.equal(runtime(['--bogus']).status, 2);
    assert.equal(runtime([]).status, 2);
  });

  it('offer-template and test', () => {
    const template = runtime(['offer-template']);
    assert.equal(template.status, 0, template.stderr);
    assert.deepEqual(JSON.parse(template.stdout), {
      properties: {
        'golem.runtime.name': 'wasmtime',
        'golem.runtime.version': '0.2.1',
        'golem.runtime.capabilities': [],
      },
      constraints: '',
    });
    assert.equal(runtime(['test']).status, 0);
  });
});
