/**
 * Helpers for tests of the VM runtime: the prerequisite check (QEMU, then the setup script when its cache is missing),
 * a busybox image built in the test, and a way to run one command through the Runtime API and collect its result.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildImage, type ContainerConfig } from '../../src/execution/image/index.ts';
import {
  type ProcessStatus,
  type RunProcess,
  type RuntimeClient,
  type SpawnedRuntime,
  spawnServiceRuntime,
} from '../../src/execution/runtime-api/index.ts';
import { vmDir } from '../../src/execution/runtimes/vm/environment.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const VM_MAIN = join(REPO, 'src', 'execution', 'runtimes', 'vm', 'main.ts');

/** false when everything is there; else the reason to skip (only QEMU itself). A broken setup throws. */
export function vmPrerequisites(): false | string {
  if (spawnSync('qemu-system-x86_64', ['--version']).status !== 0) {
    return 'QEMU is not installed (Debian: apt-get install qemu-system-x86); the VM runtime cannot be tested';
  }
  if (
    !existsSync(join(vmDir(), 'runtime', 'initramfs.cpio.gz')) ||
    !existsSync(join(vmDir(), 'images', 'busybox.gvmi'))
  ) {
    execFileSync('bash', [join(REPO, 'scripts', 'setup-vm.sh')], { stdio: 'inherit' });
  }
  return false;
}

/** A busybox image built from the host's static busybox (busybox-static), with `files` added. */
export async function buildBusyboxImage(
  dir: string,
  output: string,
  files: Record<string, string>,
  config: ContainerConfig,
) {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'bin'), { recursive: true });
  execFileSync('cp', ['/bin/busybox', join(root, 'bin', 'busybox')]);
  for (const applet of execFileSync('/bin/busybox', ['--list']).toString().split('\n').filter(Boolean)) {
    if (applet !== 'busybox') symlinkSync('busybox', join(root, 'bin', applet));
  }
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  for (const volume of Object.keys(config.Volumes ?? {})) mkdirSync(join(root, volume), { recursive: true });
  return buildImage({ source: root, output, config });
}

export interface CommandResult {
  pid: number;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs one command and waits for its exit. Events may arrive before RunProcess's answer names the pid, so they are
 * kept until it does.
 */
export function runCommand(
  client: RuntimeClient,
  run: RunProcess,
  onStarted?: (pid: number) => void,
): Promise<CommandResult> {
  const seen: ProcessStatus[] = [];
  let pid: number | undefined;
  let stdout = '';
  let stderr = '';
  return new Promise((resolve, reject) => {
    const consume = () => {
      if (pid === undefined) return;
      for (const s of seen.splice(0)) {
        if (s.pid !== pid) continue;
        stdout += Buffer.from(s.stdout).toString();
        stderr += Buffer.from(s.stderr).toString();
        if (!s.running) {
          off();
          resolve({ pid, code: s.returnCode, stdout, stderr });
        }
      }
    };
    const off = client.onProcessStatus((s) => {
      seen.push(s);
      consume();
    });
    client.runProcess(run).then(
      (p) => {
        pid = p;
        onStarted?.(p);
        consume();
      },
      (error) => {
        off();
        reject(error);
      },
    );
  });
}

/** Pids of processes whose command line contains `needle` (to check that QEMU is gone; never to kill by name). */
export function pidsWith(needle: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(needle) && cmdline.includes('qemu')) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export interface DeployResult {
  valid: { Ok?: string; Err?: string };
  vols: Array<{ name: string; path: string }>;
  startMode: string;
}

/** The runtime program's argv for one workdir and image (limits as the supervisor passes them under --cap-handoff). */
export function runtimeArgs(workdir: string, image: string): string[] {
  return [
    VM_MAIN,
    '--workdir',
    workdir,
    '--task-package',
    image,
    '--cpu-cores',
    '1',
    '--mem-gib',
    '0.25',
    '--storage-gib',
    '1',
  ];
}

/** `deploy` as a process; its parsed stdout. */
export async function deployRuntime(workdir: string, image: string): Promise<DeployResult> {
  mkdirSync(workdir, { recursive: true });
  const { stdout } = await promisify(execFile)(process.execPath, [...runtimeArgs(workdir, image), 'deploy']);
  return JSON.parse(stdout.slice(stdout.indexOf('{'))) as DeployResult;
}

/** `start` as a process speaking the Runtime API. */
export function startRuntime(
  workdir: string,
  image: string,
  stderr: 'pipe' | 'ignore' = 'ignore',
): SpawnedRuntime {
  return spawnServiceRuntime(process.execPath, [...runtimeArgs(workdir, image), 'start'], { stderr });
}
