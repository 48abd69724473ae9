/**
 * The self-test package: one module that writes "self-test ok\n" to stdout, and one volume. Its source
 * (compiled with wabt's wat2wasm; the bytes below are that output, base64):
 *
 *   (module
 *     (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
 *     (memory (export "memory") 1)
 *     (data (i32.const 16) "self-test ok\n")
 *     (func (export "_start")
 *       (i32.store (i32.const 0) (i32.const 16))
 *       (i32.store (i32.const 4) (i32.const 13))
 *       (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
 */
import { strToU8, zipSync } from 'fflate';

const SELF_TEST_WASM =
  'AGFzbQEAAAABDAJgBH9/f38Bf2AAAAIjARZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCGZkX3dyaXRlAAADAgEBBQMBAAEHEwIGbWVtb3J5AgAGX3N0YXJ0AAEKHQEbAEEAQRA2AgBBBEENNgIAQQFBAEEBQQgQABoLCxMBAEEQCw1zZWxmLXRlc3Qgb2sK';

export function selfTestPackage(): Uint8Array {
  const manifest = {
    id: 'self-test',
    name: 'self-test',
    'entry-points': [{ id: 'main', 'wasm-path': 'main.wasm' }],
    'mount-points': [{ rw: 'output' }],
  };
  return zipSync({
    'manifest.json': strToU8(JSON.stringify(manifest)),
    'main.wasm': new Uint8Array(Buffer.from(SELF_TEST_WASM, 'base64')),
  });
}
