/**
 * `deploy`: reads the image's container config, assigns the volumes (a folder per volume in the workdir, shared
 * with the guest over 9p) and writes `deployment.json` for `start` (Golem's ya-runtime-vm does the same).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isGolemError } from '../../../core/errors/index.ts';
import { type ContainerConfig, readGvmi } from '../../image/index.ts';
import { VmErrorCode, vmError } from './errors.ts';

export interface Volume {
  name: string;
  path: string;
}

export interface Deployment {
  cpuCores: number;
  memMib: number;
  taskPackages: string[];
  user: [number, number];
  volumes: Volume[];
  hostname: string;
  config: ContainerConfig;
}

export const DEPLOYMENT_FILE = 'deployment.json';

export interface DeployOptions {
  workdir: string;
  taskPackages: string[];
  cpuCores: number;
  memGib: number;
  hostname: string;
  /** Golem's `--volume-override`: map guest path → `{"host":{}}` | `{"ram":{size}}` | `{"storage":{…}}`. */
  volumeOverride?: Record<string, unknown>;
}

function parseUser(user: string | null | undefined): [number, number] {
  const match = /^(\d+)(?::(\d+))?$/.exec(user ?? '');
  return match ? [Number(match[1]), Number(match[2] ?? 0)] : [0, 0];
}

export async function deploy(options: DeployOptions): Promise<Deployment> {
  const [first] = options.taskPackages;
  if (!first) throw vmError(VmErrorCode.Deploy, 'no task package (--task-package) to deploy');
  const config = await readGvmi(resolve(first))
    .then((i) => i.config)
    .catch((cause) => {
      throw vmError(
        VmErrorCode.Deploy,
        isGolemError(cause) ? cause.message : `cannot read ${first}`,
        { first },
        cause,
      );
    });
  const paths = Object.keys(config.Volumes ?? {});
  for (const [path, mount] of Object.entries(options.volumeOverride ?? {})) {
    const kind = mount && typeof mount === 'object' ? Object.keys(mount)[0] : undefined;
    if (/^\/*$/.test(path)) throw vmError(VmErrorCode.Deploy, 'a volume cannot be mounted at /', { path });
    if (kind === 'host') {
      if (!paths.includes(path)) paths.push(path);
    } else {
      throw vmError(
        VmErrorCode.Deploy,
        `volume override ${kind ?? JSON.stringify(mount)} at ${path} is not supported`,
        {
          path,
          mount,
        },
      );
    }
  }
  const volumes = paths.map((path) => ({ name: `vol-${randomUUID()}`, path }));
  for (const v of volumes) await mkdir(join(options.workdir, v.name), { recursive: true });
  const deployment: Deployment = {
    cpuCores: Math.max(1, Math.floor(options.cpuCores)),
    memMib: Math.max(64, Math.floor(options.memGib * 1024)),
    taskPackages: options.taskPackages.map((p) => resolve(p)),
    user: parseUser(config.User),
    volumes,
    hostname: options.hostname,
    config,
  };
  await writeFile(join(options.workdir, DEPLOYMENT_FILE), JSON.stringify(deployment, null, 2));
  return deployment;
}

export async function readDeployment(workdir: string): Promise<Deployment> {
  try {
    return JSON.parse(await readFile(join(workdir, DEPLOYMENT_FILE), 'utf8')) as Deployment;
  } catch (cause) {
    throw vmError(
      VmErrorCode.NotDeployed,
      `no deployment in ${workdir}: run deploy first`,
      { workdir },
      cause,
    );
  }
}
