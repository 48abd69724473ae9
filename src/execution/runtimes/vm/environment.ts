/**
 * Where the VM runtime finds QEMU, the kernel and the initramfs, and which accelerator boots here. KVM is used only
 * when a real probe boots a guest with it (on nested sandboxes `/dev/kvm` opens but the guest hangs); the answer is
 * cached beside the kernel.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VmErrorCode, vmError } from './errors.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

/** `$GOLEM_VM_DIR` (default `<repo>/.cache/vm`, what `scripts/setup-vm.sh` fills). */
export function vmDir(): string {
  return process.env.GOLEM_VM_DIR ? resolve(process.env.GOLEM_VM_DIR) : join(REPO, '.cache', 'vm');
}

export interface VmEnvironment {
  qemu: string;
  kernel: string;
  initramfs: string;
  runtimeDir: string;
}

export function qemuBinary(): string {
  return process.env.GOLEM_VM_QEMU ?? 'qemu-system-x86_64';
}

/** Finds everything a VM needs or throws `VM_MISSING_PREREQUISITE` naming what is missing and how to get it. */
export function findEnvironment(runtimeDir = join(vmDir(), 'runtime')): VmEnvironment {
  const qemu = qemuBinary();
  const probe = spawnSync(qemu, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw vmError(
      VmErrorCode.Missing,
      `QEMU (${qemu}) cannot run: install the Debian package qemu-system-x86`,
      {
        qemu,
      },
    );
  }
  const kernel = join(runtimeDir, 'vmlinuz');
  const initramfs = join(runtimeDir, 'initramfs.cpio.gz');
  for (const file of [kernel, initramfs]) {
    if (!existsSync(file)) {
      throw vmError(VmErrorCode.Missing, `${file} is missing: run scripts/setup-vm.sh (npm run setup:vm)`, {
        file,
      });
    }
  }
  return { qemu, kernel, initramfs, runtimeDir };
}

export type Accelerator = 'kvm' | 'tcg';

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Boots the kernel without a root filesystem under KVM: a working KVM reaches the "cannot mount root" panic and
 * QEMU exits (no-reboot) within a second or two; a hanging one never does.
 */
function probeKvm(env: VmEnvironment, timeoutMs: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const child = spawn(
      env.qemu,
      [
        '-accel',
        'kvm',
        '-cpu',
        'host',
        '-m',
        '128M',
        '-nographic',
        '-no-reboot',
        '-nodefaults',
        '-display',
        'none',
        '-kernel',
        env.kernel,
        '-append',
        'console=ttyS0 panic=-1 quiet',
        '-serial',
        'none',
      ],
      { stdio: 'ignore' },
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolvePromise(code === 0);
    });
    child.once('error', () => resolvePromise(false));
  });
}

/** `GOLEM_VM_ACCEL=kvm|tcg` decides; otherwise a cached probe. */
export async function chooseAccelerator(env: VmEnvironment): Promise<Accelerator> {
  const forced = process.env.GOLEM_VM_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  if (!kvmUsable()) return 'tcg';
  const cacheFile = join(env.runtimeDir, 'accel.json');
  const key = `${readFileSync(env.kernel).length}:${spawnSync(env.qemu, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}`;
  try {
    const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { key: string; accel: Accelerator };
    if (cached.key === key) return cached.accel;
  } catch {
    // no cache yet
  }
  const accel: Accelerator = (await probeKvm(env, 8000)) ? 'kvm' : 'tcg';
  try {
    writeFileSync(cacheFile, JSON.stringify({ key, accel, probedAt: new Date().toISOString() }));
  } catch {
    // a read-only runtime dir: probe again next time
  }
  return accel;
}
