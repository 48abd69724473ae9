/**
 * An offline image registry: serves GVMI files with the endpoints golem-js resolves `imageTag` and `imageHash`
 * with (`GET /v1/image/info?tag=…|hash=…` → `{sha3, http, https}`, Golem's registry), and the files themselves
 * (`GET|HEAD /download/<sha3>`, with `Range`, as a provider's HTTP transfer resumes). Run golem-js with
 * `GOLEM_REGISTRY_URL=<this server's URL>`.
 *
 * The folder holds `*.gvmi` files and `index.json`: `{"tags": {"<name:tag>": {"file": "<x.gvmi>", "note"?: "…"}}}`.
 * A tag may stand in for one of Golem's (e.g. `golem/alpine:latest` → a busybox image); its note says so.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ImageErrorCode } from './errors.ts';
import { sha3File } from './gvmi.ts';

export interface RegistryIndex {
  tags: Record<string, { file: string; note?: string }>;
}

export interface RegistryImage {
  file: string;
  path: string;
  sha3: string;
  bytes: number;
  tags: Array<{ tag: string; note?: string }>;
}

export const REGISTRY_INDEX = 'index.json';

/** Reads the folder: every GVMI file with its hash and the tags that name it. */
export async function loadRegistry(folder: string): Promise<RegistryImage[]> {
  const index: RegistryIndex = existsSync(join(folder, REGISTRY_INDEX))
    ? (JSON.parse(await readFile(join(folder, REGISTRY_INDEX), 'utf8')) as RegistryIndex)
    : { tags: {} };
  const images: RegistryImage[] = [];
  for (const file of (await readdir(folder)).filter((f) => f.endsWith('.gvmi')).sort()) {
    const path = join(folder, file);
    const tags = Object.entries(index.tags)
      .filter(([, entry]) => entry.file === file)
      .map(([tag, entry]) => (entry.note ? { tag, note: entry.note } : { tag }));
    images.push({ file, path, sha3: await sha3File(path), bytes: (await stat(path)).size, tags });
  }
  return images;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export interface RegistryServer {
  url: string;
  server: Server;
  images: RegistryImage[];
  close(): Promise<void>;
}

export async function serveRegistry(
  folder: string,
  options: { host?: string; port?: number; publicUrl?: string } = {},
): Promise<RegistryServer> {
  const images = await loadRegistry(folder);
  let base = options.publicUrl ?? '';
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://registry');
    if (url.pathname === '/v1/image/info' && req.method === 'GET') {
      const tag = url.searchParams.get('tag');
      const hash = url.searchParams.get('hash')?.toLowerCase();
      if (!tag && !hash) {
        json(res, 400, { code: ImageErrorCode.BadRequest, message: 'give tag or hash' });
        return;
      }
      const image = images.find((i) => (tag ? i.tags.some((t) => t.tag === tag) : i.sha3 === hash));
      if (!image) {
        json(res, 404, { code: ImageErrorCode.NotFound, message: `no image ${tag ?? hash}`, tag, hash });
        return;
      }
      const link = `${base}/download/${image.sha3}`;
      json(res, 200, {
        sha3: image.sha3,
        http: link,
        https: link,
        size: image.bytes,
        tags: image.tags.map((t) => t.tag),
      });
      return;
    }
    if (url.pathname === '/v1/image/list' && req.method === 'GET') {
      json(
        res,
        200,
        images.map(({ file, sha3, bytes, tags }) => ({ file, sha3, size: bytes, tags })),
      );
      return;
    }
    const download = /^\/download\/([0-9a-f]{56})$/.exec(url.pathname);
    if (download && (req.method === 'GET' || req.method === 'HEAD')) {
      const image = images.find((i) => i.sha3 === download[1]);
      if (!image) {
        json(res, 404, { code: ImageErrorCode.NotFound, message: `no image ${download[1]}` });
        return;
      }
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Math.min(Number(range[2]), image.bytes - 1) : image.bytes - 1;
      if (range && (start > end || start >= image.bytes)) {
        res.writeHead(416, { 'content-range': `bytes */${image.bytes}` });
        res.end();
        return;
      }
      res.writeHead(range ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start + 1),
        'accept-ranges': 'bytes',
        ...(range ? { 'content-range': `bytes ${start}-${end}/${image.bytes}` } : {}),
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(image.path, { start, end }).pipe(res);
      return;
    }
    json(res, 404, { code: ImageErrorCode.NotFound, message: `no route ${req.method} ${url.pathname}` });
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => json(res, 500, { message: error.message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`;
  if (!base) base = url;
  return {
    url,
    server,
    images,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
