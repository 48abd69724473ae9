/**
 * GFTP client (after Golem's gftp downloader/uploader): pulls a `gftp://<nodeId>/<id>` file in chunks through
 * any bus call function and pushes a local file to an upload target. The ExeUnit supervisor passes its own
 * call function (it reaches the network through the daemon's bus); the CLI passes the control socket's.
 *
 * Download: `GetMetadata`, then `GetChunk`s with several in flight, written in order to a partial file next to
 * the destination. A failed chunk is retried (Golem: 2 retries, with back-off); when retries run out the
 * partial file stays, and the next download of the same URL to the same destination continues from its end.
 * The whole content is hashed while it is written; a mismatch with the expected hash (given, or the id itself
 * when it is a SHA3-256 content address) deletes the partial file and fails with `GFTP_INTEGRITY_ERROR`.
 *
 * Upload: `UploadChunk`s in offset order (golem-js's receiver appends in arrival order, so one at a time by
 * default), then `UploadFinished {hash}` with the SHA3-256 of the whole file, which the receiver checks.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusErrorCode } from '../bus/index.ts';
import { GolemError, isGolemError } from '../errors/index.ts';
import {
  GFTP_DEFAULT_CHUNK_SIZE,
  GFTP_MAX_CHUNK_SIZE,
  GftpComponent,
  GftpErrorCode,
  type GftpGetChunk,
  type GftpGetChunks,
  type GftpMetadata,
  type GftpUploadChunk,
  type GftpUploadFinished,
  gftpNetAddress,
} from './gftp.ts';

/** Any bus call: `bus.call`, the control socket client's call, the ExeUnit's call. */
export type BusCall = (
  address: string,
  message: unknown,
  options?: { timeoutMs?: number; signal?: AbortSignal },
) => Promise<unknown>;

/** Any bus stream call (`bus.stream`): enables the one-stream download (`GetChunks`) where the server has it. */
export type BusStream = (
  address: string,
  message: unknown,
  options?: { timeoutMs?: number; signal?: AbortSignal },
) => AsyncIterable<unknown>;

export interface GftpTransferOptions {
  /** Bytes per chunk (default 40 KiB, Golem's, for chunk calls; 256 KiB for a GetChunks stream). */
  chunkSize?: number;
  /** Chunk calls in flight (default: 8 for downloads, 1 for uploads). */
  concurrency?: number;
  /** Retries of one failed chunk call before the transfer fails (default 2, as Golem). */
  retries?: number;
  /** Pause before the first retry, doubled for each next one (default 2000 ms, as Golem). */
  retryDelayMs?: number;
  /** Deadline of one chunk call (default 60 s). */
  callTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface GftpDownloadOptions extends GftpTransferOptions {
  /**
   * SHA3 hex of the whole file; the variant follows the length (56: sha3-224, 64: sha3-256, 96: sha3-384,
   * 128: sha3-512), as in Golem's `hash:sha3:<hex>:<url>`. Default: the URL's id when it is 64 hex digits.
   */
  expectedHash?: string;
  /** Keep a partial file and continue from it (default true). */
  resume?: boolean;
  /**
   * Largest file taken: a server announcing more is refused before anything is fetched (the size it announces is
   * what the download is held to). Default: no limit.
   */
  maxBytes?: number;
  /**
   * With a stream function, the file comes as one bus stream of chunks (`GetChunks`, our extension) instead of a
   * call per chunk; a server without it (golem-js through /gsb-api) gets GetChunk calls as before.
   */
  stream?: BusStream;
}

export interface GftpUploadOptions extends GftpTransferOptions {
  /** Send only from this offset on (the receiver already has what came before); default 0. */
  fromOffset?: number;
}

export interface GftpTransferResult {
  bytes: number;
  /** SHA3-256 hex of the whole file. */
  sha3_256: string;
  /** Bytes that were already there from an earlier, interrupted download (0 for a fresh one). */
  resumedFrom: number;
}

export interface GftpUrl {
  nodeId: string;
  id: string;
}

const GFTP_URL = /^gftp:\/\/(0x[0-9a-fA-F]{40})\/([A-Za-z0-9_-]{1,128})$/;
const SHA3_BY_HEX_LENGTH: Record<number, string> = {
  56: 'sha3-224',
  64: 'sha3-256',
  96: 'sha3-384',
  128: 'sha3-512',
};
const DEFAULT_DOWNLOAD_CONCURRENCY = 8;
/**
 * Chunk size of a GetChunks stream unless one is given: measured fastest between two nodes (128–256 KiB beat
 * both 40 KiB and 1 MiB, whose frames span many Noise messages and stall on Yamux's window).
 */
const STREAM_CHUNK_SIZE = 256 * 1024;
/** Bytes received but not yet on disk before the download waits for the disk. */
const WRITE_BEHIND_BYTES = 8 * 1024 * 1024;
const DEFAULT_RETRIES = 2;
const DEFAULT_RETRY_DELAY_MS = 2000;
const DEFAULT_CALL_TIMEOUT_MS = 60_000;
/** Errors a retry cannot fix: the file is not there, the request was wrong, or the content is bad. */
const FINAL_CODES = new Set<string>([
  GftpErrorCode.NotFound,
  GftpErrorCode.BadRequest,
  GftpErrorCode.Integrity,
  GftpErrorCode.TooLarge,
  GftpErrorCode.Forbidden,
  BusErrorCode.NoHandler,
  BusErrorCode.Cancelled,
]);

export function parseGftpUrl(url: string): GftpUrl {
  const match = GFTP_URL.exec(url);
  if (match === null) {
    throw new GolemError(GftpErrorCode.BadUrl, `not a gftp URL: ${url}`, {
      details: { url, expected: 'gftp://0x<40 hex>/<id>' },
      httpStatus: 400,
    });
  }
  return { nodeId: match[1]!.toLowerCase(), id: match[2]! };
}

/** Downloads `url` to `destPath` (replaced only once the whole content arrived and its hash checked). */
export async function gftpDownload(
  call: BusCall,
  url: string,
  destPath: string,
  options: GftpDownloadOptions = {},
): Promise<GftpTransferResult> {
  const { nodeId, id } = parseGftpUrl(url);
  const expected = expectedHashOf(options.expectedHash ?? (/^[0-9a-f]{64}$/.test(id) ? id : undefined));
  const chunkSize = chunkSizeOf(options.chunkSize);
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_DOWNLOAD_CONCURRENCY);
  const address = (component: string) => gftpNetAddress(nodeId, id, component);
  const metadata = (await withRetries(options, () =>
    call(address(GftpComponent.GetMetadata), {}, callOptions(options)),
  )) as GftpMetadata;
  const fileSize = metadata?.fileSize;
  if (!Number.isSafeInteger(fileSize) || fileSize < 0) {
    throw new GolemError(GftpErrorCode.ReadError, 'the server sent no valid file size', {
      details: { url, metadata },
    });
  }
  if (options.maxBytes !== undefined && fileSize > options.maxBytes) {
    throw new GolemError(
      GftpErrorCode.TooLarge,
      `${url} is ${fileSize} bytes, more than ${options.maxBytes}`,
      {
        details: { url, fileSize, maxBytes: options.maxBytes },
      },
    );
  }

  const partialPath = `${destPath}.${createHash('sha3-256').update(url).digest('hex').slice(0, 12)}.gftp-part`;
  const hashes = [
    createHash('sha3-256'),
    ...(expected && expected.algorithm !== 'sha3-256' ? [createHash(expected.algorithm)] : []),
  ];
  let resumedFrom = 0;
  if (options.resume !== false) resumedFrom = await rehashPartial(partialPath, fileSize, hashes);
  const file = await open(partialPath, resumedFrom > 0 ? 'r+' : 'w');
  let written = resumedFrom;
  // Writes run one after another in the background while the next chunks arrive; `unwritten` bounds them.
  let writing: Promise<void> = Promise.resolve();
  try {
    // Chunks arrive in any order; each is written when all before it are (the partial file stays a prefix).
    const pending = new Map<number, Uint8Array>();
    let failed = false;
    // Out-of-order chunks wait in memory; no worker runs further ahead than this of the written prefix.
    const window = concurrency * chunkSize * 4;
    let advanced = Promise.withResolvers<void>();
    let unwritten = 0;
    const append = (bytes: Uint8Array): Promise<void> => {
      const at = written;
      written += bytes.byteLength;
      for (const hash of hashes) hash.update(bytes);
      advanced.resolve();
      advanced = Promise.withResolvers<void>();
      unwritten += bytes.byteLength;
      writing = writing.then(async () => {
        await file.write(bytes, 0, bytes.byteLength, at);
        unwritten -= bytes.byteLength;
        options.onProgress?.(at + bytes.byteLength, fileSize);
      });
      // Handled here so a failed write is no unhandled rejection; whoever awaits `writing` still sees it.
      writing.catch(() => {});
      return unwritten > WRITE_BEHIND_BYTES ? writing : Promise.resolve();
    };
    if (options.stream !== undefined && written < fileSize) {
      const stream = options.stream;
      const streamChunkSize = chunkSizeOf(options.chunkSize ?? STREAM_CHUNK_SIZE);
      // Each stream carries at most GFTP_MAX_STREAM_BYTES; ask again from where it ended. A server without
      // GetChunks leaves it all to the chunk calls below.
      let supported = true;
      while (supported && written < fileSize) {
        supported = await withRetries(options, async () => {
          const before = written;
          const request: GftpGetChunks = { offset: written, chunkSize: streamChunkSize };
          // The deadline covers the whole stream: at least the call timeout, or 1 MB/s for what is left.
          const timeoutMs = Math.max(
            options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
            (fileSize - written) / 1000,
          );
          try {
            for await (const item of stream(address(GftpComponent.GetChunks), request, {
              timeoutMs,
              signal: options.signal,
            })) {
              const chunk = item as { offset?: unknown; content?: unknown };
              const content = chunk?.content;
              if (
                !(content instanceof Uint8Array) ||
                chunk.offset !== written ||
                content.byteLength === 0 ||
                content.byteLength > streamChunkSize ||
                written + content.byteLength > fileSize
              ) {
                throw new GolemError(
                  GftpErrorCode.Integrity,
                  `chunk at ${written} is not the chunk expected`,
                  {
                    details: { url, offset: written, gotOffset: chunk?.offset },
                  },
                );
              }
              await append(content);
            }
          } catch (error) {
            if (isGolemError(error, BusErrorCode.NoHandler)) return false;
            throw error;
          }
          if (written === before) {
            throw new GolemError(
              GftpErrorCode.ReadError,
              `the stream ended at ${written} of ${fileSize} bytes`,
              {
                details: { url },
              },
            );
          }
          return true;
        });
      }
    }
    const fetchChunk = async (offset: number): Promise<void> => {
      const size = Math.min(chunkSize, fileSize - offset);
      const request: GftpGetChunk = { offset, size };
      const chunk = (await withRetries(options, () =>
        call(address(GftpComponent.GetChunk), request, callOptions(options)),
      )) as { offset?: unknown; content?: unknown };
      const content = chunk?.content;
      if (!(content instanceof Uint8Array) || chunk.offset !== offset || content.byteLength !== size) {
        throw new GolemError(GftpErrorCode.Integrity, `chunk at ${offset} is not the chunk asked for`, {
          details: {
            url,
            offset,
            size,
            gotOffset: chunk?.offset,
            gotSize: content instanceof Uint8Array ? content.byteLength : null,
          },
        });
      }
      pending.set(offset, content);
      while (pending.has(written)) {
        const bytes = pending.get(written)!;
        pending.delete(written);
        await append(bytes);
      }
    };
    let nextOffset = written;
    const workers = Array.from({ length: concurrency }, async () => {
      while (nextOffset < fileSize && !failed) {
        options.signal?.throwIfAborted();
        if (nextOffset - written >= window) {
          await advanced.promise;
          continue;
        }
        const offset = nextOffset;
        nextOffset += chunkSize;
        await fetchChunk(offset).catch((error: unknown) => {
          failed = true;
          advanced.resolve();
          throw error;
        });
      }
    });
    const outcomes = await Promise.allSettled(workers);
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    await writing;
  } catch (error) {
    // What was received is on disk before the partial file is left for the next try.
    await writing.catch(() => {});
    await file.close();
    // A bad chunk poisons the partial file; anything else leaves what arrived for the next try.
    if (isGolemError(error, GftpErrorCode.Integrity)) await rm(partialPath, { force: true });
    throw error;
  }
  await file.close();

  const sha3_256 = hashes[0]!.digest('hex');
  const actual = expected?.algorithm === 'sha3-256' ? sha3_256 : hashes[1]?.digest('hex');
  if (expected !== undefined && actual !== expected.hex) {
    await rm(partialPath, { force: true });
    throw new GolemError(
      GftpErrorCode.Integrity,
      `downloaded content does not match its ${expected.algorithm} hash`,
      {
        details: { url, expected: expected.hex, actual },
      },
    );
  }
  await rename(partialPath, destPath);
  return { bytes: fileSize, sha3_256, resumedFrom };
}

/** Uploads `srcPath` to the upload target `url` and tells the receiver the hash to check. */
export async function gftpUpload(
  call: BusCall,
  srcPath: string,
  url: string,
  options: GftpUploadOptions = {},
): Promise<GftpTransferResult> {
  const { nodeId, id } = parseGftpUrl(url);
  const chunkSize = chunkSizeOf(options.chunkSize);
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const address = (component: string) => gftpNetAddress(nodeId, id, component);
  const file = await open(srcPath, 'r').catch((cause) => {
    throw new GolemError(GftpErrorCode.ReadError, `cannot read ${srcPath}`, {
      cause,
      details: { path: srcPath },
    });
  });
  const hash = createHash('sha3-256');
  let size = 0;
  try {
    size = (await file.stat()).size;
    const fromOffset = Math.min(Math.max(0, options.fromOffset ?? 0), size);
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    for (let offset = 0; offset < size && failure === undefined; offset += chunkSize) {
      options.signal?.throwIfAborted();
      const length = Math.min(chunkSize, size - offset);
      const content = new Uint8Array(length);
      const { bytesRead } = await file.read(content, 0, length, offset);
      if (bytesRead !== length) {
        throw new GolemError(GftpErrorCode.ReadError, `${srcPath} changed while it was sent`, {
          details: { path: srcPath, offset },
        });
      }
      hash.update(content);
      if (offset + length <= fromOffset) continue;
      const message: GftpUploadChunk = { chunk: { offset, content } };
      const sent = withRetries(options, () =>
        call(address(GftpComponent.UploadChunk), message, callOptions(options)),
      ).then(
        () => options.onProgress?.(offset + length, size),
        (error: unknown) => {
          failure ??= error;
        },
      );
      const tracked = sent.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
  } finally {
    await file.close();
  }
  const sha3_256 = hash.digest('hex');
  const finished: GftpUploadFinished = { hash: sha3_256 };
  await withRetries(options, () =>
    call(address(GftpComponent.UploadFinished), finished, callOptions(options)),
  );
  return { bytes: size, sha3_256, resumedFrom: 0 };
}

function callOptions(options: GftpTransferOptions): { timeoutMs: number; signal?: AbortSignal } {
  return { timeoutMs: options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, signal: options.signal };
}

function chunkSizeOf(chunkSize: number | undefined): number {
  const size = chunkSize ?? GFTP_DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(size) || size < 1 || size > GFTP_MAX_CHUNK_SIZE) {
    throw new GolemError(GftpErrorCode.BadRequest, `chunk size must be 1..${GFTP_MAX_CHUNK_SIZE} bytes`, {
      details: { chunkSize },
    });
  }
  return size;
}

function expectedHashOf(hex: string | undefined): { algorithm: string; hex: string } | undefined {
  if (hex === undefined) return undefined;
  const normalized = hex.toLowerCase().replace(/^0x/, '');
  const algorithm = SHA3_BY_HEX_LENGTH[normalized.length];
  if (algorithm === undefined || !/^[0-9a-f]+$/.test(normalized)) {
    throw new GolemError(GftpErrorCode.BadRequest, 'expected hash is not a SHA3 hex digest', {
      details: { expectedHash: hex },
    });
  }
  return { algorithm, hex: normalized };
}

/** Feeds the kept prefix of an interrupted download into the hashes; returns its length (0: start over). */
async function rehashPartial(path: string, fileSize: number, hashes: Hash[]): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile()) return 0;
  if (info.size > fileSize) {
    await rm(path, { force: true });
    return 0;
  }
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    let at = 0;
    while (at < info.size) {
      const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, info.size - at), at);
      if (bytesRead === 0) break;
      for (const hash of hashes) hash.update(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
    return at;
  } finally {
    await file.close();
  }
}

async function withRetries<T>(options: GftpTransferOptions, attempt: () => Promise<T>): Promise<T> {
  const retries = options.retries ?? DEFAULT_RETRIES;
  let delay = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  for (let tried = 0; ; tried++) {
    try {
      return await attempt();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (tried >= retries || (typeof code === 'string' && FINAL_CODES.has(code))) throw error;
      options.signal?.throwIfAborted();
      await sleep(delay, undefined, { signal: options.signal });
      delay *= 2;
    }
  }
}
