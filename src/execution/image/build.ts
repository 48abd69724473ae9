/**
 * Builds GVMI images offline (the job of Golem's gvmkit-build, without Docker): from a root filesystem folder, an
 * OCI image layout (folder or tarball) or a `docker save` tarball. Layers are applied in order with their whiteouts,
 * the result is packed by `mksquashfs` (lzo, as gvmkit-build) and the container config is appended as the trailer.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { GolemError } from '../../core/errors/index.ts';
import { ImageErrorCode } from './errors.ts';
import { appendGvmiTrailer, type ContainerConfig, sha3File } from './gvmi.ts';

export interface BuildOptions {
  /** Folder (rootfs or OCI layout) or tarball (`docker save` or OCI). */
  source: string;
  output: string;
  /** Config overrides; for a rootfs folder they are the whole config. */
  config?: ContainerConfig;
  /** squashfs compression (gvmkit-build's default is lzo). */
  compression?: 'lzo' | 'gzip' | 'xz' | 'zstd' | 'lz4';
}

export interface BuildResult {
  output: string;
  hash: string;
  bytes: number;
  config: ContainerConfig;
  source: 'rootfs' | 'oci' | 'docker';
}

export function run(tool: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(tool, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('error', (cause) =>
      reject(
        new GolemError(ImageErrorCode.ToolFailed, `${tool} cannot run: ${cause.message}`, {
          cause,
          details: { tool },
        }),
      ),
    );
    child.once('close', (code) => {
      if (code === 0) resolvePromise(out);
      else
        reject(
          new GolemError(ImageErrorCode.ToolFailed, `${tool} failed (exit ${code})`, {
            details: { tool, args, stderr: err.slice(-2000) },
          }),
        );
    });
  });
}

const badSource = (source: string, reason: string) =>
  new GolemError(ImageErrorCode.BadSource, `cannot build an image from ${source}: ${reason}`, {
    details: { source },
  });

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** Applies one layer tarball onto `rootfs`: whiteouts first (OCI image spec), then the files. */
async function applyLayer(rootfs: string, layer: string): Promise<void> {
  const entries = (await run('tar', ['-tf', layer])).split('\n').filter(Boolean);
  for (const entry of entries) {
    const path = entry.replace(/^\.\//, '').replace(/\/$/, '');
    const base = path.split('/').pop() ?? '';
    if (!base.startsWith('.wh.')) continue;
    const dir = join(rootfs, dirname(path));
    if (!resolve(dir).startsWith(resolve(rootfs))) continue;
    if (base === '.wh..wh..opq') {
      for (const child of existsSync(dir) ? await readdir(dir) : [])
        await rm(join(dir, child), { recursive: true, force: true });
    } else await rm(join(dir, base.slice(4)), { recursive: true, force: true });
  }
  await run('tar', [
    '-xf',
    layer,
    '-C',
    rootfs,
    '--exclude=.wh.*',
    '--no-same-owner',
    '--delay-directory-restore',
  ]);
}

interface DockerManifest {
  Config: string;
  Layers: string[];
}
interface ImageConfigFile {
  config?: ContainerConfig;
}
interface OciDescriptor {
  digest: string;
  mediaType?: string;
  platform?: { architecture?: string; os?: string };
}
interface OciManifest {
  config?: OciDescriptor;
  layers?: OciDescriptor[];
  manifests?: OciDescriptor[];
}

const blob = (layout: string, digest: string) => join(layout, 'blobs', ...digest.split(':'));

/** Reads a layout or docker-save folder: its layer files in order and the image's container config. */
async function readImageFolder(
  folder: string,
): Promise<{ layers: string[]; config: ContainerConfig; kind: 'oci' | 'docker' }> {
  if (existsSync(join(folder, 'manifest.json'))) {
    const [manifest] = await readJson<DockerManifest[]>(join(folder, 'manifest.json'));
    if (!manifest) throw badSource(folder, 'empty manifest.json');
    const config = (await readJson<ImageConfigFile>(join(folder, manifest.Config))).config ?? {};
    return { layers: manifest.Layers.map((l) => join(folder, l)), config, kind: 'docker' };
  }
  let manifest = await readJson<OciManifest>(join(folder, 'index.json'));
  for (let depth = 0; manifest.manifests && depth < 4; depth++) {
    const pick =
      manifest.manifests.find((m) => m.platform?.architecture === 'amd64' && m.platform.os === 'linux') ??
      manifest.manifests[0];
    if (!pick) throw badSource(folder, 'OCI index lists no manifest');
    manifest = await readJson<OciManifest>(blob(folder, pick.digest));
  }
  if (!manifest.config || !manifest.layers) throw badSource(folder, 'OCI manifest without config or layers');
  const config = (await readJson<ImageConfigFile>(blob(folder, manifest.config.digest))).config ?? {};
  return { layers: manifest.layers.map((l) => blob(folder, l.digest)), config, kind: 'oci' };
}

export async function buildImage(options: BuildOptions): Promise<BuildResult> {
  const info = await stat(options.source).catch(() => undefined);
  if (!info) throw badSource(options.source, 'no such file or folder');
  const work = await mkdtemp(join(tmpdir(), 'golem-image-'));
  try {
    let rootfs = options.source;
    let config: ContainerConfig = {};
    let kind: BuildResult['source'] = 'rootfs';
    let folder = options.source;
    if (info.isFile()) {
      folder = join(work, 'archive');
      await run('mkdir', ['-p', folder]);
      await run('tar', ['-xf', options.source, '-C', folder]);
    }
    const isImageFolder = existsSync(join(folder, 'manifest.json')) || existsSync(join(folder, 'index.json'));
    if (info.isFile() && !isImageFolder)
      throw badSource(options.source, 'tarball has neither manifest.json nor index.json');
    if (isImageFolder) {
      const image = await readImageFolder(folder);
      kind = image.kind;
      config = image.config;
      rootfs = join(work, 'rootfs');
      await run('mkdir', ['-p', rootfs]);
      for (const layer of image.layers) await applyLayer(rootfs, layer);
    }
    // As gvmkit-build: the user is decided by the runtime, the domain name is empty.
    config = { ...config, ...options.config, User: null, Domainname: '' };
    await rm(options.output, { force: true });
    await run('mksquashfs', [
      rootfs,
      options.output,
      '-comp',
      options.compression ?? 'lzo',
      '-noappend',
      '-quiet',
      '-no-progress',
    ]);
    await appendGvmiTrailer(options.output, config);
    const hash = await sha3File(options.output);
    return { output: options.output, hash, bytes: (await stat(options.output)).size, config, source: kind };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
