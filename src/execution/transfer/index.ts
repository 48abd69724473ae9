/**
 * Transfers of the ExeUnit (Golem's `transfer` command): between `container:` paths inside the activity's
 * volumes, `http(s)://` URLs and `gftp://<nodeId>/<id>` files on other nodes. Every byte goes through a local
 * file first, so the size limit and the hash are checked before anything lands in a volume.
 *
 * Safety: a container path is resolved against the deployed volumes (longest volume path that is a prefix at a
 * `/` boundary, as Golem), `..` may not climb out of it, and the real path of what is read or written must
 * stay inside the volume's host directory (a symlink pointing out is refused).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, lstat, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, posix, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { GolemError } from '../../core/errors/index.ts';
import { GftpErrorCode } from '../../core/model/gftp.ts';
import { type BusCall, gftpDownload, gftpUpload } from '../../core/model/gftp-client.ts';

export const TransferErrorCode = {
  BadUrl: 'TRANSFER_BAD_URL',
  /** A container path outside every volume, or climbing out of one. */
  OutsideVolume: 'TRANSFER_OUTSIDE_VOLUME',
  /** The real path (after symlinks) leaves the volume. */
  SymlinkEscape: 'TRANSFER_SYMLINK_ESCAPE',
  TooLarge: 'TRANSFER_TOO_LARGE',
  HashMismatch: 'TRANSFER_HASH_MISMATCH',
  NotFound: 'TRANSFER_NOT_FOUND',
  Http: 'TRANSFER_HTTP',
  Io: 'TRANSFER_IO',
} as const;

export type TransferErrorCode = (typeof TransferErrorCode)[keyof typeof TransferErrorCode];

declare module '../../core/errors/index.ts' {
  interface ErrorCodes {
    transfer: TransferErrorCode;
  }
}

export const DEFAULT_MAX_TRANSFER_BYTES = 4 * 1024 ** 3;

export interface VolumeMount {
  /** Path inside the container, e.g. `/golem/input`. */
  path: string;
  /** Directory name under the workdir, e.g. `vol-1a2b`. */
  name: string;
}

export interface TransferContext {
  workdir: string;
  vols: readonly VolumeMount[];
  /** Reaches other nodes (`/net/<nodeId>/gftp/…`). */
  call?: BusCall;
  maxBytes?: number;
  signal?: AbortSignal;
}

function fail(
  code: TransferErrorCode,
  message: string,
  details: Record<string, unknown> = {},
  cause?: unknown,
): never {
  throw new GolemError(code, message, { details, cause });
}

const HASH_PREFIX = /^hash:(?:\/\/)?sha3:(?:0x)?([0-9a-f]+):(.+)$/i;
const SHA3_BY_HEX_LENGTH: Record<number, string> = {
  56: 'sha3-224',
  64: 'sha3-256',
  96: 'sha3-384',
  128: 'sha3-512',
};

export interface ParsedUrl {
  scheme: 'container' | 'http' | 'https' | 'gftp' | 'file';
  /** The URL without a hash prefix. */
  url: string;
  /** `container:`/`file:` path. */
  path: string;
  hash: { algorithm: string; hex: string } | undefined;
}

/** Golem's URL grammar: optional `hash:sha3:<hex>:` prefix; no scheme means `container:` (`file:` for images). */
export function parseTransferUrl(raw: string, defaultScheme: 'container' | 'file' = 'container'): ParsedUrl {
  let url = raw;
  let hash: ParsedUrl['hash'];
  const hashed = HASH_PREFIX.exec(raw);
  if (hashed !== null) {
    const hex = hashed[1]!.toLowerCase();
    const algorithm = SHA3_BY_HEX_LENGTH[hex.length];
    if (algorithm === undefined)
      fail(TransferErrorCode.BadUrl, `unsupported hash length in ${raw}`, { url: raw });
    hash = { algorithm, hex };
    url = hashed[2]!;
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { scheme: defaultScheme, url: `${defaultScheme}:${url}`, path: url, hash };
  if (scheme === 'container' || scheme === 'file') {
    const path = url.slice(scheme.length + 1).replace(/^\/\/(?=\/)/, '');
    return { scheme, url, path, hash };
  }
  if (scheme === 'http' || scheme === 'https' || scheme === 'gftp') return { scheme, url, path: '', hash };
  return fail(
    TransferErrorCode.BadUrl,
    `unsupported transfer URL scheme ${scheme}: (gftp, http, https, container)`,
    {
      url: raw,
    },
  );
}

function inside(base: string, target: string): boolean {
  const rel = relative(base, target);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/**
 * The host path of a container path: the longest volume whose path is a prefix at a `/` boundary; `..` may not
 * climb out of the volume.
 */
export function containerToHost(
  containerPath: string,
  context: Pick<TransferContext, 'workdir' | 'vols'>,
): {
  hostPath: string;
  volumeDir: string;
} {
  if (!containerPath.startsWith('/'))
    fail(TransferErrorCode.OutsideVolume, `container path must be absolute: ${containerPath}`, {
      path: containerPath,
    });
  if (containerPath.split('/').includes('..'))
    fail(TransferErrorCode.OutsideVolume, `container path may not contain '..': ${containerPath}`, {
      path: containerPath,
    });
  const normalized = posix.normalize(containerPath);
  let best: VolumeMount | undefined;
  for (const vol of context.vols) {
    const volPath = vol.path.endsWith('/') && vol.path !== '/' ? vol.path.slice(0, -1) : vol.path;
    const matches = normalized === volPath || normalized.startsWith(volPath === '/' ? '/' : `${volPath}/`);
    if (matches && (best === undefined || volPath.length > best.path.length))
      best = { ...vol, path: volPath };
  }
  if (best === undefined)
    fail(TransferErrorCode.OutsideVolume, `${containerPath} is not inside any volume of this activity`, {
      path: containerPath,
      volumes: context.vols.map((v) => v.path),
    });
  if (best.name.includes('/') || best.name === '..' || best.name === '.')
    fail(TransferErrorCode.OutsideVolume, `bad volume name ${best.name}`);
  const volumeDir = join(context.workdir, best.name);
  const rest = normalized.slice(best.path.length).replace(/^\/+/, '');
  const hostPath = join(volumeDir, ...rest.split('/').filter((part) => part !== ''));
  if (!inside(volumeDir, hostPath))
    fail(TransferErrorCode.OutsideVolume, `${containerPath} leaves its volume`);
  return { hostPath, volumeDir };
}

/** A file to read inside a volume: it must exist and its real path must stay in the volume. */
async function readablePath(containerPath: string, context: TransferContext): Promise<string> {
  const { hostPath, volumeDir } = containerToHost(containerPath, context);
  let real: string;
  try {
    real = await realpath(hostPath);
  } catch (cause) {
    return fail(TransferErrorCode.NotFound, `no such file: ${containerPath}`, { path: containerPath }, cause);
  }
  if (!inside(await realpath(volumeDir), real))
    fail(TransferErrorCode.SymlinkEscape, `${containerPath} points outside its volume`, {
      path: containerPath,
    });
  return real;
}

/** A file to write inside a volume: its directory's real path must stay in the volume; no symlink in place. */
async function writablePath(containerPath: string, context: TransferContext): Promise<string> {
  const { hostPath, volumeDir } = containerToHost(containerPath, context);
  await mkdir(volumeDir, { recursive: true });
  const realVolume = await realpath(volumeDir);
  // Create missing directories one at a time, checking each existing one's real path.
  const parent = dirname(hostPath);
  const parts = relative(volumeDir, parent)
    .split(sep)
    .filter((part) => part !== '');
  let current = volumeDir;
  for (const part of parts) {
    current = join(current, part);
    await mkdir(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    if (!inside(realVolume, await realpath(current)))
      fail(TransferErrorCode.SymlinkEscape, `${containerPath} points outside its volume`, {
        path: containerPath,
      });
  }
  const existing = await lstat(hostPath).catch(() => undefined);
  if (existing?.isSymbolicLink())
    fail(TransferErrorCode.SymlinkEscape, `${containerPath} is a symlink; it is not written through`, {
      path: containerPath,
    });
  if (existing?.isDirectory())
    fail(TransferErrorCode.Io, `${containerPath} is a directory`, { path: containerPath });
  return hostPath;
}

async function hashFile(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function tooLarge(url: string, maxBytes: number): never {
  return fail(TransferErrorCode.TooLarge, `${url} is larger than the transfer limit of ${maxBytes} bytes`, {
    url,
    maxBytes,
  });
}

async function httpDownload(
  url: string,
  dest: string,
  maxBytes: number,
  signal?: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (cause) {
    return fail(TransferErrorCode.Http, `cannot fetch ${url}: ${(cause as Error).message}`, { url }, cause);
  }
  if (!response.ok || response.body === null)
    fail(TransferErrorCode.Http, `GET ${url} answered ${response.status}`, { url, status: response.status });
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    await response.body.cancel();
    tooLarge(url, maxBytes);
  }
  const file = await open(dest, 'w');
  let bytes = 0;
  try {
    for await (const chunk of Readable.fromWeb(response.body as never) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > maxBytes) tooLarge(url, maxBytes);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
}

async function httpUpload(src: string, url: string, signal?: AbortSignal): Promise<void> {
  const size = (await stat(src)).size;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'PUT',
      body: Readable.toWeb(createReadStream(src)) as never,
      headers: { 'content-length': String(size) },
      duplex: 'half',
      signal,
    } as RequestInit);
  } catch (cause) {
    return fail(TransferErrorCode.Http, `cannot PUT ${url}: ${(cause as Error).message}`, { url }, cause);
  }
  if (!response.ok)
    fail(TransferErrorCode.Http, `PUT ${url} answered ${response.status}`, { url, status: response.status });
}

function requireCall(context: TransferContext): BusCall {
  if (context.call === undefined)
    fail(TransferErrorCode.BadUrl, 'gftp transfers need a connection to the daemon');
  return context.call;
}

/** Fetches `from` into the local file `dest` (a temp file), checking size and hash. */
async function fetchTo(
  from: ParsedUrl,
  dest: string,
  context: TransferContext,
  maxBytes: number,
): Promise<void> {
  if (from.scheme === 'http' || from.scheme === 'https')
    await httpDownload(from.url, dest, maxBytes, context.signal);
  else if (from.scheme === 'gftp') {
    // The limit goes into the download itself: a size asked for separately could differ from the one it gets.
    await gftpDownload(requireCall(context), from.url, dest, {
      signal: context.signal,
      expectedHash: from.hash?.hex,
      resume: false,
      maxBytes,
    }).catch((error: unknown) => {
      if (error instanceof GolemError && error.code === GftpErrorCode.TooLarge) tooLarge(from.url, maxBytes);
      throw error;
    });
  } else {
    const src = await readablePath(from.path, context);
    if ((await stat(src)).size > maxBytes) tooLarge(from.url, maxBytes);
    await copyFile(src, dest);
  }
  if ((await stat(dest)).size > maxBytes) tooLarge(from.url, maxBytes);
  if (from.hash !== undefined) {
    const actual = await hashFile(dest, from.hash.algorithm);
    if (actual !== from.hash.hex)
      fail(TransferErrorCode.HashMismatch, `${from.url} does not match its hash`, {
        expected: from.hash.hex,
        actual,
      });
  }
}

/** Runs one `transfer` command. */
export async function transfer(fromUrl: string, toUrl: string, context: TransferContext): Promise<void> {
  const from = parseTransferUrl(fromUrl);
  const to = parseTransferUrl(toUrl);
  const maxBytes = context.maxBytes ?? DEFAULT_MAX_TRANSFER_BYTES;
  if (from.scheme === 'file' || to.scheme === 'file')
    fail(TransferErrorCode.BadUrl, 'file: URLs are not allowed in transfers (use container:)', {
      from: fromUrl,
      to: toUrl,
    });
  if (from.scheme !== 'container' && to.scheme !== 'container')
    fail(TransferErrorCode.BadUrl, 'one side of a transfer must be a container: path', {
      from: fromUrl,
      to: toUrl,
    });
  const tmpDir = join(context.workdir, '.transfer');
  await mkdir(tmpDir, { recursive: true });
  const tmp = join(tmpDir, `${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  try {
    // Container → remote: read in place (no copy needed), after the same checks.
    if (to.scheme !== 'container') {
      const src = await readablePath(from.path, context);
      if ((await stat(src)).size > maxBytes) tooLarge(from.url, maxBytes);
      if (to.scheme === 'gftp')
        await gftpUpload(requireCall(context), src, to.url, { signal: context.signal });
      else await httpUpload(src, to.url, context.signal);
      return;
    }
    await fetchTo(from, tmp, context, maxBytes);
    const dest = await writablePath(to.path, context);
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
}
