/**
 * Whether this machine can run VM providers: QEMU on the PATH and the kernel and sample images that
 * `npm run setup:vm` prepares (in `$GOLEM_VM_DIR`, default `.cache/vm`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './processes.ts';

export interface VmAvailability {
  ok: boolean;
  reason?: string;
  vmDir: string;
  imagesDir: string;
}

export function vmAvailability(env: NodeJS.ProcessEnv = process.env): VmAvailability {
  const vmDir = env.GOLEM_VM_DIR ? resolve(env.GOLEM_VM_DIR) : join(REPO_ROOT, '.cache', 'vm');
  const imagesDir = join(vmDir, 'images');
  const qemu = env.GOLEM_VM_QEMU ?? 'qemu-system-x86_64';
  if (spawnSync(qemu, ['--version'], { stdio: 'ignore' }).status !== 0)
    return { ok: false, reason: `${qemu} is not installed (Debian: qemu-system-x86)`, vmDir, imagesDir };
  if (!existsSync(join(vmDir, 'runtime', 'vmlinuz')) || !existsSync(join(imagesDir, 'busybox.gvmi')))
    return {
      ok: false,
      reason: `no kernel or images in ${vmDir} (run \`npm run setup:vm\`)`,
      vmDir,
      imagesDir,
    };
  return { ok: true, vmDir, imagesDir };
}
