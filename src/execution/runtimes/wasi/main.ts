#!/usr/bin/env node
import { randomUUID } from 'node:crypto';
/**
 * The WASI runtime program (Golem's `ya-runtime-wasi`, descriptor name `wasmtime`), driven by the ExeUnit
 * supervisor through Golem's runtime CLI contract in process mode (provider.md §2.6):
 *
 *   main.ts --workdir <wd> --task-package <pkg> [limits] deploy [--]
 *   main.ts --workdir <wd> --task-package <pkg> [limits] start [-- <args>]
 *   main.ts --workdir <wd> --task-package <pkg> [limits] run --entrypoint <id> [--] <args…>
 *   main.ts offer-template | test
 *
 * Limits: `--max-memory <size>` (or `--mem-gib`, or `YA_RUNTIME_WASI_INIT_MEM` as in Golem, e.g. `250m`),
 * `--time-limit <seconds>` (`YA_RUNTIME_WASI_TIME_LIMIT`), `--max-output <size>` (`YA_RUNTIME_WASI_MAX_OUTPUT`).
 * Errors go to stderr with their code; the exit code is the module's own, or one of `WasiExitCode`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GolemError, isGolemError } from '../../../core/errors/index.ts';
import { WasiErrorCode, WasiExitCode } from './errors.ts';
import { capMemory, MAX_WASM32_PAGES, WASM_PAGE_BYTES } from './memory.ts';
import { loadPackage } from './package.ts';
import { type RunLimits, runInSandbox } from './run.ts';
import { selfTestPackage } from './self-test.ts';

export const RUNTIME_NAME = 'wasmtime';
export const RUNTIME_VERSION = '0.2.1';
const DEPLOY_FILE = 'deploy.json';
const USAGE_FILE = 'usage.json';
const DEFAULT_MEMORY_BYTES = 1024 ** 3;
const DEFAULT_TIME_LIMIT_S = 3600;
const DEFAULT_OUTPUT_BYTES = 256 * 1024 ** 2;

export interface Volume {
  name: string;
  /** Absolute path in the guest (`/golem/input`). */
  path: string;
}

/** What `deploy` leaves in the workdir for `start` and `run` (Golem's layout: `[isPrivate, volume]` pairs). */
interface Deployment {
  image_path: string;
  vols: [boolean, Volume][];
}

interface Options {
  workdir?: string;
  taskPackage?: string;
  memGib?: number;
  maxMemory?: number;
  timeLimitS?: number;
  maxOutput?: number;
  entrypoint?: string;
  command?: string;
  args: string[];
}

function usage(message: string): GolemError {
  return new GolemError(WasiErrorCode.Usage, message);
}

/** `250m`, `1g`, `65536`, `1.5GiB` → bytes. */
export function parseSize(value: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (match === null) throw usage(`${what}: not a size: ${value}`);
  const power = ' kmgt'.indexOf((match[2] || ' ').toLowerCase());
  return Math.floor(Number(match[1]) * 1024 ** power);
}

function parsePositive(value: string | undefined, what: string): number {
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number) || number <= 0)
    throw usage(`${what} needs a positive number`);
  return number;
}

export function parseArgs(argv: string[]): Options {
  const options: Options = { args: [] };
  let index = 0;
  const value = (flag: string) => {
    const next = argv[++index];
    if (next === undefined) throw usage(`${flag} needs a value`);
    return next;
  };
  for (; index < argv.length; index++) {
    const arg = argv[index]!;
    if (options.command !== undefined) {
      if (arg === '--') {
        options.args.push(...argv.slice(index + 1));
        break;
      }
      if (arg === '--entrypoint' && options.command === 'run' && options.entrypoint === undefined) {
        options.entrypoint = value(arg);
        continue;
      }
      options.args.push(arg);
      continue;
    }
    switch (arg) {
      case '--workdir':
        options.workdir = value(arg);
        break;
      case '--task-package':
        options.taskPackage = value(arg);
        break;
      case '--mem-gib':
        options.memGib = parsePositive(value(arg), arg);
        break;
      case '--max-memory':
        options.maxMemory = parseSize(value(arg), arg);
        break;
      case '--time-limit':
        options.timeLimitS = parsePositive(value(arg), arg);
        break;
      case '--max-output':
        options.maxOutput = parseSize(value(arg), arg);
        break;
      // Given by the supervisor; nothing here depends on them.
      case '--cpu-cores':
      case '--storage-gib':
      case '--volume-override':
      case '--hostname':
        value(arg);
        break;
      case '--debug':
        break;
      default:
        if (arg.startsWith('-')) throw usage(`unknown option ${arg}`);
        options.command = arg;
    }
  }
  if (options.command === undefined)
    throw usage('give a command: deploy, start, run, offer-template or test');
  return options;
}

function memoryLimitPages(options: Options): number {
  const env = process.env.YA_RUNTIME_WASI_INIT_MEM;
  const bytes =
    options.maxMemory ??
    (options.memGib !== undefined ? Math.floor(options.memGib * 1024 ** 3) : undefined) ??
    (env !== undefined && env !== '' ? parseSize(env, 'YA_RUNTIME_WASI_INIT_MEM') : DEFAULT_MEMORY_BYTES);
  return Math.max(1, Math.min(MAX_WASM32_PAGES, Math.floor(bytes / WASM_PAGE_BYTES)));
}

function runLimits(options: Options): RunLimits {
  const envTime = process.env.YA_RUNTIME_WASI_TIME_LIMIT;
  const envOutput = process.env.YA_RUNTIME_WASI_MAX_OUTPUT;
  const timeLimitS =
    options.timeLimitS ??
    (envTime !== undefined && envTime !== ''
      ? parsePositive(envTime, 'YA_RUNTIME_WASI_TIME_LIMIT')
      : DEFAULT_TIME_LIMIT_S);
  const outputBytes =
    options.maxOutput ??
    (envOutput !== undefined && envOutput !== ''
      ? parseSize(envOutput, 'YA_RUNTIME_WASI_MAX_OUTPUT')
      : DEFAULT_OUTPUT_BYTES);
  return { timeLimitMs: Math.round(timeLimitS * 1000), outputBytes };
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw usage(`${flag} is required for this command`);
  return resolve(value);
}

export function deploy(
  workdir: string,
  taskPackage: string,
): { valid: { Ok: string }; vols: Volume[]; startMode: 'empty' } {
  const { manifest } = loadPackage(taskPackage);
  mkdirSync(workdir, { recursive: true });
  const vols: [boolean, Volume][] = manifest.mountPoints.map((mount) => [
    mount.access === 'private',
    { name: `vol-${randomUUID()}`, path: `/${mount.path}` },
  ]);
  for (const [, volume] of vols) mkdirSync(join(workdir, volume.name), { recursive: true });
  const deployment: Deployment = { image_path: taskPackage, vols };
  writeFileSync(join(workdir, DEPLOY_FILE), `${JSON.stringify(deployment)}\n`);
  return {
    valid: { Ok: '' },
    vols: vols.filter(([isPrivate]) => !isPrivate).map(([, volume]) => volume),
    startMode: 'empty',
  };
}

function readDeployment(workdir: string): Deployment {
  const path = join(workdir, DEPLOY_FILE);
  if (!existsSync(path))
    throw new GolemError(WasiErrorCode.NotDeployed, `nothing deployed in ${workdir} (run deploy first)`);
  return JSON.parse(readFileSync(path, 'utf8')) as Deployment;
}

/** Compiles every entry point (as Golem's start does): a bad module fails here, before any run. */
export async function start(workdir: string, limitPages: number): Promise<void> {
  const deployment = readDeployment(workdir);
  const { modules } = loadPackage(deployment.image_path);
  for (const [id, module] of modules) {
    try {
      await WebAssembly.compile(capMemory(module, limitPages));
    } catch (cause) {
      if (isGolemError(cause)) throw cause;
      throw new GolemError(
        WasiErrorCode.BadModule,
        `entry point ${id} does not compile: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
  }
}

export async function run(
  workdir: string,
  entrypoint: string,
  args: string[],
  options: Options,
): Promise<number> {
  const deployment = readDeployment(workdir);
  const { manifest, modules } = loadPackage(deployment.image_path, [entrypoint]);
  const entry = manifest.entryPoints.find((candidate) => candidate.id === entrypoint);
  const module = modules.get(entrypoint);
  if (entry === undefined || module === undefined) {
    throw new GolemError(WasiErrorCode.NoEntryPoint, `no entry point ${entrypoint} in the package`, {
      details: { entryPoints: manifest.entryPoints.map((candidate) => candidate.id) },
    });
  }
  const wasm = capMemory(module, memoryLimitPages(options));
  const preopens: Record<string, string> = {};
  for (const [, volume] of deployment.vols) preopens[volume.path] = join(workdir, volume.name);
  const outcome = await runInSandbox(
    { wasm, args: [entry.wasmPath, ...args], env: {}, preopens },
    runLimits(options),
    {
      stdout: (chunk) => process.stdout.write(chunk),
      stderr: (chunk) => process.stderr.write(chunk),
      onDrain: (listener) => {
        process.stdout.once('drain', listener);
      },
    },
  );
  addUsage(workdir, outcome.cpuSec);
  if (outcome.reason !== undefined) {
    process.stderr.write(`ya-runtime-wasi: ${outcome.code ?? WasiErrorCode.Internal}: ${outcome.reason}\n`);
  }
  return outcome.exitCode;
}

/** CPU seconds of every run so far, for the supervisor's `golem.usage.cpu_sec`. */
function addUsage(workdir: string, cpuSec: number): void {
  const path = join(workdir, USAGE_FILE);
  let total = 0;
  try {
    total = Number((JSON.parse(readFileSync(path, 'utf8')) as { cpuSec?: number }).cpuSec) || 0;
  } catch {}
  writeFileSync(path, `${JSON.stringify({ cpuSec: total + cpuSec })}\n`);
}

export function offerTemplate(): { properties: Record<string, unknown>; constraints: string } {
  return {
    properties: {
      'golem.runtime.name': RUNTIME_NAME,
      'golem.runtime.version': RUNTIME_VERSION,
      'golem.runtime.capabilities': [],
    },
    constraints: '',
  };
}

/** Deploys and runs a built-in module in a temp workdir: the sandbox, WASI and a volume work on this machine. */
export async function selfTest(): Promise<void> {
  const workdir = mkdtempSync(join(tmpdir(), 'ya-runtime-wasi-self-test-'));
  try {
    const pkg = join(workdir, 'self-test.zip');
    writeFileSync(pkg, selfTestPackage());
    const deployed = deploy(join(workdir, 'work'), pkg);
    const chunks: Buffer[] = [];
    const outcome = await runInSandbox(
      {
        wasm: capMemory(loadPackage(pkg).modules.get('main')!, 16),
        args: ['main.wasm'],
        env: {},
        preopens: { [deployed.vols[0]!.path]: join(workdir, 'work', deployed.vols[0]!.name) },
      },
      { timeLimitMs: 10_000, outputBytes: 4096 },
      {
        stdout: (chunk) => chunks.push(chunk) > 0,
        stderr: (chunk) => chunks.push(chunk) > 0,
        onDrain: () => {},
      },
    );
    const output = Buffer.concat(chunks).toString('utf8');
    if (outcome.exitCode !== 0 || output !== 'self-test ok\n') {
      throw new GolemError(WasiErrorCode.BadModule, 'self-test failed', { details: { ...outcome, output } });
    }
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    const options = parseArgs(argv);
    switch (options.command) {
      case 'deploy':
        process.stdout.write(
          `${JSON.stringify(deploy(required(options.workdir, '--workdir'), required(options.taskPackage, '--task-package')))}\n`,
        );
        return 0;
      case 'start':
        await start(required(options.workdir, '--workdir'), memoryLimitPages(options));
        return 0;
      case 'run':
        if (options.entrypoint === undefined) throw usage('run needs --entrypoint <id>');
        return await run(required(options.workdir, '--workdir'), options.entrypoint, options.args, options);
      case 'offer-template':
        await selfTest();
        process.stdout.write(`${JSON.stringify(offerTemplate())}\n`);
        return 0;
      case 'test':
        await selfTest();
        return 0;
      default:
        throw usage(`unknown command ${options.command}`);
    }
  } catch (error) {
    const golem = isGolemError(error) ? error : undefined;
    process.stderr.write(
      `ya-runtime-wasi: ${golem?.code ?? WasiErrorCode.Internal}: ${(error as Error).message ?? String(error)}\n`,
    );
    return golem?.code === WasiErrorCode.Usage ? WasiExitCode.Usage : WasiExitCode.Error;
  }
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
