import { GolemError } from '../../../core/errors/index.ts';

export const WasiErrorCode = {
  Usage: 'WASI_USAGE',
  BadPackage: 'WASI_BAD_PACKAGE',
  BadManifest: 'WASI_BAD_MANIFEST',
  NotDeployed: 'WASI_NOT_DEPLOYED',
  NoEntryPoint: 'WASI_NO_ENTRY_POINT',
  BadModule: 'WASI_BAD_MODULE',
  MemoryLimit: 'WASI_MEMORY_LIMIT',
  TimeLimit: 'WASI_TIME_LIMIT',
  OutputLimit: 'WASI_OUTPUT_LIMIT',
  Trap: 'WASI_TRAP',
  /** Anything else that went wrong in the runtime itself. */
  Internal: 'WASI_INTERNAL',
} as const;
export type WasiErrorCode = (typeof WasiErrorCode)[keyof typeof WasiErrorCode];

declare module '../../../core/errors/index.ts' {
  interface ErrorCodes {
    wasi: WasiErrorCode;
  }
}

export function badManifest(message: string, details?: Record<string, unknown>): GolemError {
  return new GolemError(WasiErrorCode.BadManifest, `manifest.json: ${message}`, { details });
}

/** Exit codes of `run` when the runtime, not the module, ends the command (a module's own code is its exit code). */
export const WasiExitCode = {
  /** Bad arguments, a bad package, a module that does not compile or link. */
  Error: 1,
  Usage: 2,
  /** The module trapped (unreachable, out-of-bounds access, stack overflow …). */
  Trap: 134,
  /** Killed at the time limit (as timeout(1)). */
  TimeLimit: 124,
  /** Killed when its output passed the limit. */
  OutputLimit: 125,
} as const;
