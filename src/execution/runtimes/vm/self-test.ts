/** `test` (boots a tiny VM and runs a command in it) and `offer-template` (the self-test, then the offer properties). */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RuntimeArgs } from './args.ts';
import { deploy } from './deploy.ts';
import { type Accelerator, chooseAccelerator, findEnvironment, vmDir } from './environment.ts';
import { VmErrorCode, vmError } from './errors.ts';
import { VirtualMachine } from './vm.ts';

export function selfTestImage(): string {
  return process.env.GOLEM_VM_SELF_TEST_IMAGE ?? join(vmDir(), 'images', 'busybox.gvmi');
}

/** What a self-test runs with, and the key its pass is recorded under. */
interface SelfTestSetup {
  env: ReturnType<typeof findEnvironment>;
  image: string;
  accel: Accelerator;
  key: string;
}

async function selfTestSetup(): Promise<SelfTestSetup> {
  const env = findEnvironment();
  const image = selfTestImage();
  if (!existsSync(image))
    throw vmError(VmErrorCode.Missing, `self-test image ${image} is missing: run scripts/setup-vm.sh`);
  const accel = await chooseAccelerator(env);
  return { env, image, accel, key: passKey(env, image, accel) };
}

export async function selfTest(
  args: RuntimeArgs,
  setup?: SelfTestSetup,
): Promise<{ ok: true; accel: string; bootMs: number; runMs: number }> {
  const { env, image, accel, key } = setup ?? (await selfTestSetup());
  const workdir = await mkdtemp(join(tmpdir(), 'golem-vm-self-test-'));
  try {
    const deployment = await deploy({
      workdir,
      taskPackages: [image],
      cpuCores: 1,
      memGib: 0.25,
      hostname: 'self-test',
      volumeOverride: { '/golem/self-test': { host: {} } },
    });
    const volume = deployment.volumes.find((v) => v.path === '/golem/self-test')!;
    const started = Date.now();
    let exitCode: number | undefined;
    let onExit!: () => void;
    const exited = new Promise<void>((r) => {
      onExit = r;
    });
    const vm = await VirtualMachine.start({
      env,
      accel,
      deployment,
      workdir,
      bootTimeoutMs: args.testTimeoutSec * 1000,
      onStatus: (s) => {
        if (!s.running) {
          exitCode = s.returnCode;
          onExit();
        }
      },
    });
    const bootMs = Date.now() - started;
    try {
      await vm.run({
        bin: '/bin/sh',
        args: ['sh', '-c', 'echo "{\\"ok\\":true}" > /golem/self-test/out.json'],
        workDir: '/',
      });
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(vmError(VmErrorCode.Boot, 'self-test command did not finish')),
          10_000,
        ).unref(),
      );
      await Promise.race([exited, timeout]);
      const out = JSON.parse(await readFile(join(workdir, volume.name, 'out.json'), 'utf8')) as {
        ok?: boolean;
      };
      if (exitCode !== 0 || out.ok !== true)
        throw vmError(VmErrorCode.Boot, 'self-test command failed', { exitCode });
    } finally {
      await vm.stop();
    }
    recordPass(env.runtimeDir, key);
    return { ok: true, accel, bootMs, runMs: Date.now() - started - bootMs };
  } finally {
    await rm(workdir, { recursive: true, force: true });
  }
}

function cpuInfo(): Record<string, unknown> {
  const text = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return {
    'golem.inf.cpu.vendor': field('vendor_id'),
    'golem.inf.cpu.brand': field('model name'),
    'golem.inf.cpu.model': `Stepping ${field('stepping')} Family ${field('cpu family')} Model ${field('model')}`,
    'golem.inf.cpu.capabilities': field('flags').split(/\s+/).filter(Boolean),
  };
}

/**
 * How long a passed self-test stands in for the one `offer-template` runs first. A provider agent runs `test` and
 * then `offer-template` (as ya-provider does); without this, every start boots the same VM twice (about 6 s each
 * under TCG). Anything the test depends on changing (kernel, initramfs, image, QEMU, accelerator) voids it.
 */
const PASS_VALID_MS = 60_000;

/** One file per key, so self-tests of other set-ups (another QEMU, image or accelerator) do not overwrite it. */
const passFile = (runtimeDir: string, key: string) =>
  join(runtimeDir, `self-test-${createHash('sha256').update(key).digest('hex').slice(0, 16)}.json`);

function passKey(
  env: { qemu: string; kernel: string; initramfs: string },
  image: string,
  accel: string,
): string {
  const stamp = (path: string) => {
    try {
      const s = statSync(path);
      return `${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  };
  return [env.qemu, env.kernel, env.initramfs, image].map(stamp).concat(accel).join('|');
}

function recordPass(runtimeDir: string, key: string): void {
  try {
    writeFileSync(passFile(runtimeDir, key), JSON.stringify({ key, passedAt: Date.now() }));
  } catch {
    // a read-only runtime dir: offer-template tests again
  }
}

/** True when a self-test passed under the same key within `PASS_VALID_MS` (a clock that went back voids it). */
export function recentPass(record: unknown, key: string, now: number): boolean {
  if (typeof record !== 'object' || record === null) return false;
  const { key: recorded, passedAt } = record as { key?: unknown; passedAt?: unknown };
  return (
    recorded === key && typeof passedAt === 'number' && passedAt <= now && now - passedAt < PASS_VALID_MS
  );
}

async function selfTestUnlessRecent(args: RuntimeArgs): Promise<void> {
  const setup = await selfTestSetup();
  try {
    const record = JSON.parse(readFileSync(passFile(setup.env.runtimeDir, setup.key), 'utf8'));
    if (recentPass(record, setup.key, Date.now())) return;
  } catch {
    // no pass recorded
  }
  await selfTest(args, setup);
}

export async function offerTemplate(
  args: RuntimeArgs,
): Promise<{ properties: Record<string, unknown>; constraints: string }> {
  await selfTestUnlessRecent(args);
  return {
    properties: {
      'golem.runtime.name': 'vm',
      ...cpuInfo(),
      'golem.inf.cpu.architecture': 'x86_64',
      'golem.inf.cpu.cores': Math.floor(args.cpuCores),
      'golem.inf.cpu.threads': Math.floor(args.cpuCores),
      'golem.inf.mem.gib': args.memGib,
      'golem.inf.storage.gib': args.storageGib,
      'golem.runtime.capabilities': ['vpn'],
    },
    constraints: '',
  };
}
