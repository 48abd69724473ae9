/**
 * The runtimes this machine can sell: ExeUnit descriptor files found through `EXE_UNIT_PATH` (Golem's format,
 * parsed by the shared reader), each runtime's self-test (`<supervisor> -b <runtime> <extra-args> test`) and
 * offer template (`… offer-template`). A runtime that fails its self-test is not offered; its reason (the last
 * line the test printed, e.g. the VM runtime when QEMU or its kernel is missing) is kept for `golemsp status`.
 */
import { spawn } from 'node:child_process';
import { loadDescriptors, type RuntimeDescriptor } from '../../core/model/exe-unit-descriptor.ts';
import { USAGE } from './settings.ts';

export interface RuntimeCounter {
  name: string;
  description: string;
  price: boolean;
}

export interface RuntimeInfo {
  name: string;
  version: string;
  description: string;
  descriptor: RuntimeDescriptor;
  /** Usage counters the runtime reports (descriptor `config.counters`, else Golem's defaults). */
  counters: Record<string, RuntimeCounter>;
  selfTest: { ok: boolean; reason: string | null };
  /** The runtime's offer template (properties and constraints), when it printed one. */
  template: { properties: Record<string, unknown>; constraints: string };
}

const DEFAULT_COUNTERS: Record<string, RuntimeCounter> = {
  [USAGE.duration]: { name: 'duration', description: 'Duration', price: true },
  [USAGE.cpu]: { name: 'cpu', description: 'CPU', price: true },
  'golem.usage.storage_gib': { name: 'storage_gib', description: 'Storage', price: false },
};

const SELF_TEST_TIMEOUT_MS = 120_000;

function commandOf(descriptor: RuntimeDescriptor, command: string): [string, string[]] {
  const args = ['-b', descriptor.runtimePath, ...descriptor.extraArgs, command];
  return /\.(ts|js|mjs)$/.test(descriptor.supervisorPath)
    ? [process.execPath, [descriptor.supervisorPath, ...args]]
    : [descriptor.supervisorPath, args];
}

function run(
  descriptor: RuntimeDescriptor,
  command: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [file, args] = commandOf(descriptor, command);
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: SELF_TEST_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      if (stdout.length < 1 << 20) stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      if (stderr.length < 1 << 20) stderr += chunk;
    });
    child.on('error', (error) => resolve({ code: null, stdout, stderr: `${stderr}${error.message}` }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function countersOf(descriptor: RuntimeDescriptor): Record<string, RuntimeCounter> {
  const raw = (descriptor.config?.counters ?? undefined) as
    | Record<string, Partial<RuntimeCounter>>
    | undefined;
  if (raw === undefined || typeof raw !== 'object') return DEFAULT_COUNTERS;
  return Object.fromEntries(
    Object.entries(raw).map(([key, value]) => [
      key,
      { name: value.name ?? key, description: value.description ?? '', price: value.price === true },
    ]),
  );
}

/** The reason a failed test gives: a JSON error's message, else its last non-empty line. */
function failureReason(output: { code: number | null; stdout: string; stderr: string }): string {
  const lines = `${output.stderr}\n${output.stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  for (const line of lines.toReversed()) {
    try {
      const parsed = JSON.parse(line) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON
    }
  }
  return lines.at(-1) ?? `the self-test exited with code ${output.code}`;
}

/** Every descriptor found, tested and asked for its template (in parallel). */
export async function discoverRuntimes(exeUnitPath: string[]): Promise<RuntimeInfo[]> {
  const descriptors = loadDescriptors(exeUnitPath);
  return Promise.all(
    descriptors.map(async (descriptor): Promise<RuntimeInfo> => {
      const test = await run(descriptor, 'test');
      const ok = test.code === 0;
      let template: RuntimeInfo['template'] = { properties: {}, constraints: '' };
      if (ok) {
        const offer = await run(descriptor, 'offer-template');
        try {
          const parsed = JSON.parse(offer.stdout.slice(offer.stdout.indexOf('{'))) as RuntimeInfo['template'];
          template = { properties: parsed.properties ?? {}, constraints: parsed.constraints ?? '' };
        } catch {
          // Golem's supervisor offers an empty template when the runtime prints none
        }
      }
      return {
        name: descriptor.name,
        version: descriptor.version,
        description: descriptor.description,
        descriptor,
        counters: countersOf(descriptor),
        selfTest: { ok, reason: ok ? null : failureReason(test) },
        template,
      };
    }),
  );
}
