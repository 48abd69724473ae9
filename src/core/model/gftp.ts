/**
 * Bus contract of the GFTP module (after Golem's gftp): files published by a node are served in chunks at
 * `/public/gftp/<id>/<Component>`, where `<id>` is the SHA3-256 hex of the content for published files and a
 * random token for upload targets. Other nodes reach them as `/net/<nodeId>/gftp/<id>/<Component>`; the URL
 * handed around is `gftp://<nodeId>/<id>`.
 *
 * The same components are what golem-js binds through `/gsb-api/v1` (its WebSocket storage provider), so a
 * client of this contract works against either.
 */

export const GFTP_LOCAL = '/local/gftp';
export const GFTP_PUBLIC = '/public/gftp';

/** Golem's chunk size (yagna's `DEFAULT_CHUNK_SIZE`). */
export const GFTP_DEFAULT_CHUNK_SIZE = 40 * 1024;
/** The largest chunk a node serves or accepts in one call; larger requests are clamped (GetChunk) or refused. */
export const GFTP_MAX_CHUNK_SIZE = 1024 * 1024;
/**
 * Bytes one `GetChunks` stream carries at most; the client asks again from where it ended. Bounds what a plain
 * call to it (which the bus answers with the whole stream collected) can make a node hold.
 */
export const GFTP_MAX_STREAM_BYTES = 32 * 1024 * 1024;

export const GftpLocalAddress = {
  /** `GftpPublish` → `GftpPublished` (one entry per path). */
  Publish: `${GFTP_LOCAL}/Publish`,
  /** `GftpReceive` → `GftpPublished`: an upload target that writes to `path`. */
  Receive: `${GFTP_LOCAL}/Receive`,
  /** `GftpClose` → `{closed: number}`. */
  Close: `${GFTP_LOCAL}/Close`,
  /** `{}` → `GftpEntry[]`. */
  List: `${GFTP_LOCAL}/List`,
  /** `GftpDownload` → `GftpTransferDone`: the daemon pulls a `gftp://` URL into a local file. */
  Download: `${GFTP_LOCAL}/Download`,
  /** `GftpUpload` → `GftpTransferDone`: the daemon pushes a local file to an upload target. */
  Upload: `${GFTP_LOCAL}/Upload`,
} as const;

/** Message names under `/public/gftp/<id>/` (the GSB message types of Golem's gftp). */
export const GftpComponent = {
  GetMetadata: 'GetMetadata',
  GetChunk: 'GetChunk',
  UploadChunk: 'UploadChunk',
  UploadFinished: 'UploadFinished',
  /**
   * Our extension (not in Golem's gftp): a bus stream of `GftpChunk`s from `offset` to the end, `chunkSize` each
   * (`GftpGetChunks`). One stream instead of a call per chunk; clients fall back to GetChunk where it is missing
   * (a golem-js file served through /gsb-api). One stream ends after `GFTP_MAX_STREAM_BYTES`.
   */
  GetChunks: 'GetChunks',
} as const;

export const GFTP_PUBLISH_COMPONENTS = [GftpComponent.GetMetadata, GftpComponent.GetChunk] as const;
export const GFTP_RECEIVE_COMPONENTS = [GftpComponent.UploadChunk, GftpComponent.UploadFinished] as const;

/** Local address of one component of a file served on this node. */
export function gftpPublicAddress(id: string, component: string): string {
  return `${GFTP_PUBLIC}/${id}/${component}`;
}

/** Address to call a component of `gftp://<nodeId>/<id>` from any node (this one included). */
export function gftpNetAddress(nodeId: string, id: string, component: string): string {
  return `/net/${nodeId}/gftp/${id}/${component}`;
}

export function gftpUrl(nodeId: string, id: string): string {
  return `gftp://${nodeId}/${id}`;
}

export interface GftpPublish {
  /** Files to publish (absolute, or relative to the daemon's working directory). */
  paths: string[];
}

export interface GftpReceive {
  /** File the uploaded content is written to (created or truncated). */
  path: string;
}

export interface GftpEntry {
  id: string;
  url: string;
  path: string;
  kind: 'publish' | 'receive';
  /** Publish: the content's SHA3-256 hex; receive: the hash of the finished upload, or null before. */
  hash: string | null;
  size: number;
}

export type GftpPublished = GftpEntry[];

export interface GftpClose {
  /** `gftp://…` URLs or bare ids. */
  urls: string[];
}

export interface GftpDownload {
  url: string;
  path: string;
  /** SHA3 hex the content must have (variant by length). */
  expectedHash?: string;
}

export interface GftpUpload {
  path: string;
  url: string;
}

export interface GftpTransferDone {
  bytes: number;
  sha3_256: string;
  resumedFrom: number;
}

/** Local topic: an upload target received a whole file (`GftpEvent`). */
export const GFTP_EVENTS_TOPIC = 'local:gftp-events';

export type GftpEvent = {
  type: 'received';
  id: string;
  url: string;
  path: string;
  hash: string;
  size: number;
};

/** `GetMetadata {}` → `GftpMetadata`. */
export interface GftpMetadata {
  fileSize: number;
}

export interface GftpGetChunk {
  offset: number;
  size: number;
}

export interface GftpGetChunks {
  offset: number;
  chunkSize: number;
}

/** A chunk: short (possibly empty) at the end of the file. */
export interface GftpChunk {
  offset: number;
  content: Uint8Array;
}

export interface GftpUploadChunk {
  chunk: GftpChunk;
}

/** `hash`: SHA3-256 hex of the whole upload; the receiver recomputes it and refuses a mismatch. */
export interface GftpUploadFinished {
  hash?: string | null;
}

/**
 * Error codes of GFTP, shared by the serving module and the transfer client (they cross the net as codes).
 * Golem's variants: ReadError, WriteError, IntegrityError, InternalError; ours add the bounds.
 */
export const GftpErrorCode = {
  NotFound: 'GFTP_NOT_FOUND',
  BadUrl: 'GFTP_BAD_URL',
  BadRequest: 'GFTP_BAD_REQUEST',
  ReadError: 'GFTP_READ_ERROR',
  WriteError: 'GFTP_WRITE_ERROR',
  Integrity: 'GFTP_INTEGRITY_ERROR',
  TooLarge: 'GFTP_TOO_LARGE',
  Busy: 'GFTP_BUSY',
  Forbidden: 'GFTP_FORBIDDEN',
} as const;
export type GftpErrorCode = (typeof GftpErrorCode)[keyof typeof GftpErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    gftp: GftpErrorCode;
  }
}
