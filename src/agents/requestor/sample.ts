/**
 * The requestor agent's sample WASI package: `echo` prints its arguments separated by spaces, with a newline
 * (what `golem run --runtime wasi -- echo …` and the demo run when no image is given). The module is
 * `ECHO_WAT` compiled by wabt; test/unit/agents/requestor/sample.test.ts recompiles it and fails on drift.
 */
import { createHash } from 'node:crypto';
import { strToU8, zipSync } from 'fflate';

export const ECHO_WAT = `
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 0: argc, 4: size of the arguments, 16: one iovec, 24: bytes written, 1024: argv, 4096: the arguments
  (func (export "_start") (local $argc i32) (local $i i32) (local $p i32) (local $len i32)
    (drop (call $args_sizes_get (i32.const 0) (i32.const 4)))
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (local.set $argc (i32.load (i32.const 0)))
    (local.set $i (i32.const 1))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $argc)))
      (local.set $p (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
      (local.set $len (i32.const 0))
      (block $end (loop $count
        (br_if $end (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $len)))))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
      (i32.store8 (i32.add (local.get $p) (local.get $len))
        (select (i32.const 10) (i32.const 32) (i32.eq (i32.add (local.get $i) (i32.const 1)) (local.get $argc))))
      (i32.store (i32.const 16) (local.get $p))
      (i32.store (i32.const 20) (i32.add (local.get $len) (i32.const 1)))
      (drop (call $fd_write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))
`;

const ECHO_WASM_BASE64 =
  'AGFzbQEAAAABEgNgAn9/AX9gBH9/f38Bf2AAAAJtAxZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxDmFyZ3Nfc2l6ZXNfZ2V0AAAWd2FzaV9zbmFwc2hvdF9wcmV2aWV3MQhhcmdzX2dldAAAFndhc2lfc25hcHNob3RfcHJldmlldzEIZmRfd3JpdGUAAQMCAQIFAwEAAQcTAgZtZW1vcnkCAAZfc3RhcnQAAwqVAQGSAQEEf0EAQQQQABpBgAhBgCAQARpBACgCACEAQQEhAQJAA0AgASAATw0BQYAIIAFBBGxqKAIAIQJBACEDAkADQCACIANqLQAARQ0BIANBAWohAwwACwsgAiADakEKQSAgAUEBaiAARhs6AABBECACNgIAQRQgA0EBajYCAEEBQRBBAUEYEAIaIAFBAWohAQwACwsL';

export const ECHO_WASM = Buffer.from(ECHO_WASM_BASE64, 'base64');

/** The package as a zip (`manifest.json` + `echo.wasm`, one rw volume) and its sha3-224. */
export function samplePackage(): { bytes: Buffer; sha3: string } {
  const manifest = {
    id: 'golem-ts-echo',
    name: 'golem-ts echo',
    'entry-points': [{ id: 'echo', 'wasm-path': 'echo.wasm' }],
    'mount-points': [{ rw: 'golem/work' }],
  };
  // A fixed date keeps the zip (and so its hash) the same on every run.
  const mtime = new Date('2026-01-01T00:00:00Z');
  const bytes = Buffer.from(
    zipSync(
      {
        'manifest.json': [strToU8(JSON.stringify(manifest)), { mtime }],
        'echo.wasm': [ECHO_WASM, { mtime }],
      },
      { level: 0 },
    ),
  );
  return { bytes, sha3: createHash('sha3-224').update(bytes).digest('hex') };
}
