/**
 * The task-package (image) cache of Golem's ExeUnit: `hash:sha3:<hex>:<url>` packages are fetched once into
 * `<cache>/<stem>_<hex>.<ext>`, through a temp file whose hash is checked before it is renamed into place; a
 * cached file is reused without re-hashing. The cache is bounded: the least recently used files go first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readdirSync, statSync, utimesSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { type BusCall, gftpDownload } from '../../core/model/gftp-client.ts';
import { parseTransferUrl } from '../transfer/index.ts';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';

export const DEFAULT_CACHE_MAX_BYTES = 20 * 1024 ** 3;

export interface ImageCacheOptions {
  dir: string;
  maxBytes?: number;
  /** Size limit of one package. */
  maxPackageBytes?: number;
  /**
   * The bus, for `gftp://` packages: golem-js's `imageUrl: file://…` publishes the file on the requestor node
   * and names it `hash:sha3:<hex>:gftp://<requestor>/<id>` (golemjs.md §3.1).
   */
  call?: BusCall;
}

function sha3_224(data: string | Buffer): string {
  return createHash('sha3-224').update(data).digest('hex');
}

export class ImageCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly maxPackageBytes: number;
  readonly #call: BusCall | undefined;

  constructor(options: ImageCacheOptions) {
    this.dir = options.dir;
    this.#call = options.call;
    this.maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
    this.maxPackageBytes = options.maxPackageBytes ?? this.maxBytes;
  }

  /** The local path of the package `url` names (downloaded and verified when not cached yet). */
  async fetch(url: string, signal?: AbortSignal): Promise<string> {
    const parsed = parseTransferUrl(url, 'file');
    if (parsed.hash === undefined)
      throw exeUnitError(
        ExeUnitErrorCode.Image,
        `the task package needs a hash (hash:sha3:<hex>:<url>): ${url}`,
      );
    const name = basename(parsed.scheme === 'file' ? parsed.path : new URL(parsed.url).pathname) || 'image';
    const ext = extname(name);
    const final = join(this.dir, `${basename(name, ext)}_${parsed.hash.hex}${ext}`);
    try {
      const now = new Date();
      utimesSync(final, now, now); // marks it recently used
      return final;
    } catch {
      // not cached yet
    }
    const tmpDir = join(this.dir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    this.#removeStaleTemps(tmpDir);
    // Golem's temp name, made unique per download: ExeUnits of two activities may fetch the same package at once
    // (the rename is atomic; the later one simply replaces the same verified content).
    const stem = sha3_224(
      Buffer.concat([Buffer.from(parsed.hash.hex, 'hex'), Buffer.from(sha3_224(parsed.url))]),
    );
    const tmp = join(tmpDir, `${stem}.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      await downloadVerified(parsed, tmp, this.maxPackageBytes, signal, this.#call);
      await rename(tmp, final);
    } catch (cause) {
      await rm(tmp, { force: true });
      throw exeUnitError(
        ExeUnitErrorCode.Image,
        `cannot fetch the task package: ${(cause as Error).message}`,
        {
          cause,
          details: { url },
        },
      );
    }
    this.evict(final);
    return final;
  }

  /** Temp files of downloads that died with their process (a day old) go. */
  #removeStaleTemps(tmpDir: string): void {
    const dayAgo = Date.now() - 24 * 3600_000;
    try {
      for (const name of readdirSync(tmpDir)) {
        const path = join(tmpDir, name);
        if (statSync(path).mtimeMs < dayAgo) void rm(path, { force: true });
      }
    } catch {
      // raced with another cleaner: fine
    }
  }

  /** Removes least recently used files until the cache fits (never `keep`). */
  evict(keep?: string): void {
    let entries: { path: string; size: number; used: number }[] = [];
    try {
      entries = readdirSync(this.dir, { withFileTypes: true })
        .filter((entry) => entry.isFile())
        .map((entry) => {
          const path = join(this.dir, entry.name);
          const stat = statSync(path);
          return { path, size: stat.size, used: stat.mtimeMs };
        });
    } catch {
      return;
    }
    let total = entries.reduce((sum, entry) => sum + entry.size, 0);
    for (const entry of entries.sort((a, b) => a.used - b.used)) {
      if (total <= this.maxBytes) break;
      if (entry.path === keep) continue;
      void rm(entry.path, { force: true });
      total -= entry.size;
    }
  }
}

async function downloadVerified(
  parsed: ReturnType<typeof parseTransferUrl>,
  dest: string,
  maxBytes: number,
  signal?: AbortSignal,
  call?: BusCall,
): Promise<void> {
  if (parsed.scheme === 'gftp') {
    if (call === undefined) throw new Error(`no bus to fetch ${parsed.url} with`);
    // gftpDownload checks the sha3 given (its variant follows the length) before the file appears at `dest`.
    const result = await gftpDownload(call, parsed.url, dest, {
      expectedHash: parsed.hash!.hex,
      resume: false,
      signal,
    });
    if (result.bytes > maxBytes) throw new Error(`the package is larger than ${maxBytes} bytes`);
    return;
  }
  const hash = createHash(parsed.hash!.algorithm);
  let source: AsyncIterable<Buffer>;
  if (parsed.scheme === 'file') source = createReadStream(parsed.path);
  else if (parsed.scheme === 'http' || parsed.scheme === 'https') {
    const response = await fetch(parsed.url, { signal });
    if (!response.ok || response.body === null)
      throw new Error(`GET ${parsed.url} answered ${response.status}`);
    source = Readable.fromWeb(response.body as never);
  } else throw new Error(`unsupported task package URL ${parsed.url}`);
  const file = await open(dest, 'w');
  let bytes = 0;
  try {
    for await (const chunk of source) {
      bytes += chunk.length;
      if (bytes > maxBytes) throw new Error(`the package is larger than ${maxBytes} bytes`);
      hash.update(chunk);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  const actual = hash.digest('hex');
  if (actual !== parsed.hash!.hex)
    throw new Error(`InvalidHashError: expected ${parsed.hash!.hex}, got ${actual}`);
}
