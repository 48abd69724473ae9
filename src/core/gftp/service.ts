/**
 * The GFTP module (after Golem's gftp): serves published files in chunks at `/public/gftp/<id>/…` and accepts
 * uploads to receive targets. What is published lives as long as the daemon or until it is closed (Golem's
 * gftp keeps it for the life of its process, too).
 *
 * Bounds for callers from the network: chunk calls in flight per peer, a chunk size cap (GetChunk requests are
 * clamped, UploadChunks refused above it), an upload size cap per target, and a receive target belongs to the
 * first peer that writes to it (nobody else may write to it or finish it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import { GolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  GFTP_EVENTS_TOPIC,
  GFTP_MAX_CHUNK_SIZE,
  GFTP_MAX_STREAM_BYTES,
  GFTP_PUBLIC,
  type GftpChunk,
  type GftpClose,
  GftpComponent,
  type GftpDownload,
  type GftpEntry,
  GftpErrorCode,
  type GftpEvent,
  type GftpGetChunk,
  type GftpGetChunks,
  GftpLocalAddress,
  type GftpMetadata,
  type GftpPublish,
  type GftpPublished,
  type GftpReceive,
  type GftpTransferDone,
  type GftpUpload,
  type GftpUploadChunk,
  type GftpUploadFinished,
  gftpPublicAddress,
  gftpUrl,
} from '../model/gftp.ts';
import { type BusCall, type BusStream, gftpDownload, gftpUpload } from '../model/gftp-client.ts';
import type { CoreComponents, Service } from '../service/index.ts';

export interface GftpLimits {
  /** Chunk calls one caller may have in flight. */
  maxCallsPerPeer: number;
  /** GetChunks streams one caller may have open. */
  maxStreamsPerPeer: number;
  /** Largest file one receive target accepts. */
  maxUploadBytes: number;
  /** Published files and receive targets at once. */
  maxEntries: number;
}

export const DEFAULT_GFTP_LIMITS: GftpLimits = {
  maxCallsPerPeer: 64,
  maxStreamsPerPeer: 4,
  maxUploadBytes: 64 * 1024 ** 3,
  maxEntries: 10_000,
};

/** Golem's upload token: 65 random alphanumerics. */
const TOKEN_LENGTH = 65;
const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

interface Entry {
  info: GftpEntry;
  file: FileHandle;
  unbind?: Unbind;
  /** Receive targets: the peer that wrote first; only it may go on. */
  owner?: string;
  finished?: boolean;
}

export interface GftpServiceOptions extends Pick<CoreComponents, 'bus' | 'logger'> {
  limits?: Partial<GftpLimits>;
}

export class GftpService implements Service {
  readonly name = 'gftp';
  #bus: Bus;
  #log: Logger;
  #limits: GftpLimits;
  #entries = new Map<string, Entry>();
  #inFlight = new Map<string, number>();
  #streams = new Map<string, number>();
  #unbinds: Unbind[] = [];

  constructor(options: GftpServiceOptions) {
    this.#bus = options.bus;
    this.#log = options.logger.child('gftp');
    this.#limits = { ...DEFAULT_GFTP_LIMITS, ...options.limits };
  }

  async start(): Promise<void> {
    const bus = this.#bus;
    this.#unbinds.push(
      bus.bind<GftpPublish, GftpPublished>(GftpLocalAddress.Publish, (message) => this.publish(message)),
      bus.bind<GftpReceive, GftpPublished>(GftpLocalAddress.Receive, (message) => this.receive(message)),
      bus.bind<GftpClose, { closed: number }>(GftpLocalAddress.Close, (message) => this.close(message)),
      bus.bind(GftpLocalAddress.List, () => [...this.#entries.values()].map((entry) => ({ ...entry.info }))),
      bus.bind<GftpDownload, GftpTransferDone>(GftpLocalAddress.Download, (message, context) =>
        this.#download(message, context),
      ),
      bus.bind<GftpUpload, GftpTransferDone>(GftpLocalAddress.Upload, (message, context) =>
        this.#upload(message, context),
      ),
      bus.bind(GFTP_PUBLIC, (message, context) => this.#serve(message, context)),
    );
  }

  async stop(): Promise<void> {
    for (const unbind of this.#unbinds.splice(0)) unbind();
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) entry.unbind?.();
    await Promise.all(entries.map((entry) => entry.file.close().catch(() => {})));
  }

  async publish(message: GftpPublish): Promise<GftpPublished> {
    const paths = message?.paths;
    if (!Array.isArray(paths) || paths.length === 0 || !paths.every((path) => typeof path === 'string')) {
      throw badRequest('Publish needs paths: a non-empty list of file paths');
    }
    const published: GftpEntry[] = [];
    for (const given of paths) {
      const path = resolve(given);
      const { hash, size } = await hashFile(path);
      const existing = this.#entries.get(hash);
      if (existing !== undefined) {
        published.push({ ...existing.info });
        continue;
      }
      this.#assertRoom();
      const file = await open(path, 'r').catch((cause) => {
        throw readError(path, cause);
      });
      const info: GftpEntry = { id: hash, url: this.#url(hash), path, kind: 'publish', hash, size };
      const entry: Entry = { info, file };
      entry.unbind = this.#bus.bindStream<GftpGetChunks, GftpChunk>(
        gftpPublicAddress(hash, GftpComponent.GetChunks),
        (message, context) => this.#getChunks(entry, message, context),
      );
      this.#entries.set(hash, entry);
      this.#log.info('published', { url: info.url, path, size });
      published.push({ ...info });
    }
    return published;
  }

  async receive(message: GftpReceive): Promise<GftpPublished> {
    if (typeof message?.path !== 'string' || message.path === '') {
      throw badRequest('Receive needs path: the file to write the upload to');
    }
    this.#assertRoom();
    const path = resolve(message.path);
    const file = await open(path, 'w').catch((cause) => {
      throw new GolemError(GftpErrorCode.WriteError, `cannot create ${path}`, { cause, details: { path } });
    });
    const id = randomToken();
    const info: GftpEntry = { id, url: this.#url(id), path, kind: 'receive', hash: null, size: 0 };
    this.#entries.set(id, { info, file });
    this.#log.info('receiving', { url: info.url, path });
    return [{ ...info }];
  }

  async close(message: GftpClose): Promise<{ closed: number }> {
    const urls = message?.urls;
    if (!Array.isArray(urls)) throw badRequest('Close needs urls: a list of gftp URLs or ids');
    let closed = 0;
    for (const url of urls) {
      const id = typeof url === 'string' ? (url.split('/').pop() ?? '') : '';
      const entry = this.#entries.get(id);
      if (entry === undefined) continue;
      this.#entries.delete(id);
      entry.unbind?.();
      await entry.file.close().catch(() => {});
      closed++;
    }
    return { closed };
  }

  #url(id: string): string {
    const nodeId = this.#bus.nodeId;
    if (nodeId === undefined) throw new GolemError(GftpErrorCode.BadRequest, 'this node has no identity yet');
    return gftpUrl(nodeId, id);
  }

  #assertRoom(): void {
    if (this.#entries.size >= this.#limits.maxEntries) {
      throw new GolemError(GftpErrorCode.Busy, `already ${this.#entries.size} files published or received`, {
        details: { limit: this.#limits.maxEntries },
      });
    }
  }

  /** Takes one of `caller`'s in-flight slots (refused past the per-peer bound); returns its release. */
  #acquire(caller: string, counts = this.#inFlight, limit = this.#limits.maxCallsPerPeer): () => void {
    const count = counts.get(caller) ?? 0;
    if (count >= limit) {
      throw new GolemError(GftpErrorCode.Busy, `too many GFTP calls in flight from ${caller}`, {
        details: { limit },
      });
    }
    counts.set(caller, count + 1);
    return () => {
      const left = (counts.get(caller) ?? 1) - 1;
      if (left === 0) counts.delete(caller);
      else counts.set(caller, left);
    };
  }

  async *#getChunks(entry: Entry, request: GftpGetChunks, context: CallContext): AsyncIterable<GftpChunk> {
    const offset = request?.offset;
    const chunkSize = request?.chunkSize;
    if (!isCount(offset) || !isCount(chunkSize) || chunkSize === 0 || offset > entry.info.size) {
      throw badRequest('GetChunks needs offset (0..fileSize) and chunkSize (1..)', { offset, chunkSize });
    }
    const size = Math.min(chunkSize, GFTP_MAX_CHUNK_SIZE);
    const release = this.#acquire(context.caller, this.#streams, this.#limits.maxStreamsPerPeer);
    const end = Math.min(entry.info.size, offset + GFTP_MAX_STREAM_BYTES);
    try {
      // One chunk read ahead while the previous one travels.
      const read = (at: number) => {
        const chunk = this.#getChunk(entry, { offset: at, size: Math.min(size, end - at) });
        chunk.catch(() => {});
        return chunk;
      };
      let next = offset < end ? read(offset) : undefined;
      for (let at = offset; next !== undefined && !context.signal.aborted; at += size) {
        const chunk = await next;
        next = at + size < end ? read(at + size) : undefined;
        yield chunk;
      }
    } finally {
      release();
    }
  }

  async #serve(message: unknown, context: CallContext): Promise<unknown> {
    // `/public/gftp/<id>/<Component>`
    const [id, component, ...rest] = context.address.slice(GFTP_PUBLIC.length + 1).split('/');
    const entry = id === undefined ? undefined : this.#entries.get(id);
    if (entry === undefined || component === undefined || rest.length > 0) {
      throw new GolemError(GftpErrorCode.NotFound, `no such file: ${context.address}`, {
        details: { address: context.address },
        httpStatus: 404,
      });
    }
    const release = this.#acquire(context.caller);
    try {
      return await this.#component(entry, component, message, context.caller);
    } finally {
      release();
    }
  }

  async #component(entry: Entry, component: string, message: unknown, caller: string): Promise<unknown> {
    const kind = entry.info.kind;
    if (kind === 'publish' && component === GftpComponent.GetMetadata) {
      return { fileSize: entry.info.size } satisfies GftpMetadata;
    }
    if (kind === 'publish' && component === GftpComponent.GetChunk) {
      return this.#getChunk(entry, message as GftpGetChunk);
    }
    if (kind === 'receive' && component === GftpComponent.UploadChunk) {
      return this.#uploadChunk(entry, message as GftpUploadChunk, caller);
    }
    if (kind === 'receive' && component === GftpComponent.UploadFinished) {
      return this.#uploadFinished(entry, message as GftpUploadFinished, caller);
    }
    throw new GolemError(GftpErrorCode.NotFound, `${entry.info.url} has no ${component}`, {
      details: { kind, component },
      httpStatus: 404,
    });
  }

  async #getChunk(entry: Entry, request: GftpGetChunk): Promise<{ offset: number; content: Uint8Array }> {
    const offset = request?.offset;
    const size = request?.size;
    if (!isCount(offset) || !isCount(size) || offset > entry.info.size) {
      throw badRequest('GetChunk needs offset (0..fileSize) and size (whole numbers)', {
        offset,
        size,
        fileSize: entry.info.size,
      });
    }
    const length = Math.min(size, GFTP_MAX_CHUNK_SIZE, entry.info.size - offset);
    const content = new Uint8Array(length);
    const { bytesRead } = await entry.file.read(content, 0, length, offset).catch((cause) => {
      throw readError(entry.info.path, cause);
    });
    return { offset, content: bytesRead === length ? content : content.subarray(0, bytesRead) };
  }

  async #uploadChunk(entry: Entry, request: GftpUploadChunk, caller: string): Promise<null> {
    this.#claim(entry, caller);
    const offset = request?.chunk?.offset;
    const content = request?.chunk?.content;
    if (!isCount(offset) || !(content instanceof Uint8Array)) {
      throw badRequest('UploadChunk needs chunk: {offset, content (bytes)}');
    }
    if (content.byteLength > GFTP_MAX_CHUNK_SIZE) {
      throw new GolemError(GftpErrorCode.TooLarge, `chunk of ${content.byteLength} bytes`, {
        details: { limit: GFTP_MAX_CHUNK_SIZE },
      });
    }
    const end = offset + content.byteLength;
    if (end > this.#limits.maxUploadBytes) {
      throw new GolemError(GftpErrorCode.TooLarge, `upload past ${this.#limits.maxUploadBytes} bytes`, {
        details: { limit: this.#limits.maxUploadBytes, end },
      });
    }
    await entry.file.write(content, 0, content.byteLength, offset).catch((cause) => {
      throw new GolemError(GftpErrorCode.WriteError, `cannot write ${entry.info.path}`, { cause });
    });
    if (end > entry.info.size) entry.info.size = end;
    return null;
  }

  async #uploadFinished(entry: Entry, request: GftpUploadFinished, caller: string): Promise<null> {
    this.#claim(entry, caller);
    const expected = request?.hash;
    if (expected !== undefined && expected !== null && typeof expected !== 'string') {
      throw badRequest('UploadFinished hash must be a hex string or null');
    }
    await entry.file.sync().catch(() => {});
    const { hash, size } = await hashFile(entry.info.path);
    if (typeof expected === 'string' && expected.toLowerCase() !== hash) {
      throw new GolemError(GftpErrorCode.Integrity, 'uploaded content does not match its hash', {
        details: { expected, actual: hash },
      });
    }
    entry.finished = true;
    entry.info.hash = hash;
    entry.info.size = size;
    this.#log.info('received', { url: entry.info.url, path: entry.info.path, size });
    const event: GftpEvent = {
      type: 'received',
      id: entry.info.id,
      url: entry.info.url,
      path: entry.info.path,
      hash,
      size,
    };
    await this.#bus.publish(GFTP_EVENTS_TOPIC, event);
    return null;
  }

  /** A receive target belongs to the first caller that writes to it; a finished one takes nothing more. */
  #claim(entry: Entry, caller: string): void {
    entry.owner ??= caller;
    if (entry.owner !== caller) {
      throw new GolemError(GftpErrorCode.Forbidden, 'another node is uploading to this target', {
        details: { url: entry.info.url },
        httpStatus: 403,
      });
    }
    if (entry.finished === true) {
      throw new GolemError(GftpErrorCode.Forbidden, 'this upload is already finished', {
        details: { url: entry.info.url },
        httpStatus: 403,
      });
    }
  }

  /** Bus call and stream functions for the transfer client, cancelled with the local call that asked. */
  #transport(context: CallContext): { call: BusCall; stream: BusStream } {
    const withSignal = (options?: { timeoutMs?: number; signal?: AbortSignal }) => ({
      ...options,
      signal: options?.signal ?? context.signal,
    });
    return {
      call: (address, body, options) => this.#bus.call(address, body, withSignal(options)),
      stream: (address, body, options) => this.#bus.stream(address, body, withSignal(options)),
    };
  }

  async #download(message: GftpDownload, context: CallContext): Promise<GftpTransferDone> {
    if (typeof message?.url !== 'string' || typeof message.path !== 'string') {
      throw badRequest('Download needs url and path');
    }
    const { call, stream } = this.#transport(context);
    return gftpDownload(call, message.url, resolve(message.path), {
      expectedHash: message.expectedHash,
      signal: context.signal,
      stream,
    });
  }

  async #upload(message: GftpUpload, context: CallContext): Promise<GftpTransferDone> {
    if (typeof message?.url !== 'string' || typeof message.path !== 'string') {
      throw badRequest('Upload needs path and url');
    }
    const { call } = this.#transport(context);
    return gftpUpload(call, resolve(message.path), message.url, { signal: context.signal });
  }
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function badRequest(message: string, details?: Record<string, unknown>): GolemError {
  return new GolemError(GftpErrorCode.BadRequest, message, { details, httpStatus: 400 });
}

function readError(path: string, cause: unknown): GolemError {
  return new GolemError(GftpErrorCode.ReadError, `cannot read ${path}`, { cause, details: { path } });
}

function randomToken(): string {
  const bytes = randomBytes(TOKEN_LENGTH);
  let token = '';
  for (const byte of bytes) token += TOKEN_ALPHABET[byte % TOKEN_ALPHABET.length];
  return token;
}

/** SHA3-256 hex and size of a file, streamed. */
export async function hashFile(path: string): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha3-256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
    }
  } catch (cause) {
    throw readError(path, cause);
  }
  return { hash: hash.digest('hex'), size };
}
