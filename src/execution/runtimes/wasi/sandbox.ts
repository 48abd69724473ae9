/**
 * The process one WASI command runs in (spawned by `run.ts` under Node's permission model: no file system access
 * of its own, no child processes, no workers). It receives the module, its arguments and the preopened volumes
 * over IPC, runs `_start` through `node:wasi` (the module sees only the volumes), reports how it ended and its
 * CPU time, and exits with the module's exit code. It imports only Node built-ins and `path-guard.ts`; those two files and the volumes are all it may read.
 */
import { WASI } from 'node:wasi';
import { guardPaths } from './path-guard.ts';

export interface SandboxJob {
  wasm: Uint8Array;
  args: string[];
  env: Record<string, string>;
  /** Guest path → host directory. */
  preopens: Record<string, string>;
}

export type SandboxReport =
  | { type: 'exit'; code: number; cpuMicros: number }
  | { type: 'trap'; message: string; cpuMicros: number }
  | { type: 'error'; message: string; cpuMicros: number };

/** `wasi_unstable` is WASI snapshot 0 (older toolchains); everything else links against preview1. */
function wasiVersion(module: WebAssembly.Module): 'preview1' | 'unstable' {
  const imports = WebAssembly.Module.imports(module);
  return imports.some((entry) => entry.module === 'wasi_unstable') ? 'unstable' : 'preview1';
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

async function run(job: SandboxJob): Promise<SandboxReport> {
  let module: WebAssembly.Module;
  let instance: WebAssembly.Instance;
  let wasi: WASI;
  try {
    module = await WebAssembly.compile(job.wasm);
    wasi = new WASI({
      version: wasiVersion(module),
      args: job.args,
      env: job.env,
      preopens: job.preopens,
      returnOnExit: true,
    });
    const imports = wasi.getImportObject() as WebAssembly.Imports;
    let memory: WebAssembly.Memory | undefined;
    guardPaths(imports, Object.values(job.preopens), () => memory);
    instance = await WebAssembly.instantiate(module, imports);
    memory = instance.exports.memory as WebAssembly.Memory;
  } catch (error) {
    return { type: 'error', message: (error as Error).message, cpuMicros: cpuMicros() };
  }
  try {
    const code = wasi.start(instance);
    return { type: 'exit', code, cpuMicros: cpuMicros() };
  } catch (error) {
    const message =
      error instanceof WebAssembly.RuntimeError || error instanceof RangeError
        ? (error as Error).message
        : String((error as Error)?.message ?? error);
    return { type: 'trap', message, cpuMicros: cpuMicros() };
  }
}

if (process.send !== undefined) {
  process.once('message', (job: SandboxJob) => {
    void run(job).then((report) => {
      process.send!(report, () => process.exit(report.type === 'exit' ? report.code : 1));
    });
  });
}
