/**
 * What `--image` names, turned into the `hash:sha3:<hex>:<url>` task package a provider fetches: a tag or a
 * sha3-224 hash looked up in the image registry (`GOLEM_REGISTRY_URL`, the devnet's serves the sample images), or a
 * local file served over HTTP by this process while the run lasts (reachable by providers on this machine or
 * network; without `--image` on WASI, the sample echo package).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { GolemError } from '../../core/errors/index.ts';
import { RequestorErrorCode } from './errors.ts';
import { samplePackage } from './sample.ts';

export interface ResolvedImage {
  taskPackage: string;
  describe: string;
  close(): Promise<void>;
}

export async function resolveImage(
  image: string | undefined,
  runtime: 'wasi' | 'vm',
  registryUrl: string | undefined,
): Promise<ResolvedImage> {
  if (image === undefined && runtime === 'wasi') {
    const sample = samplePackage();
    return serveBytes(sample.bytes, 'echo.zip', 'the sample WASI package (echo)');
  }
  if (image === undefined)
    throw new GolemError(RequestorErrorCode.BadOption, 'give --image (a tag, a sha3-224 hash or a file)');
  if (existsSync(image)) return serveBytes(readFileSync(image), basename(image), image);
  if (registryUrl === undefined || registryUrl === '')
    throw new GolemError(RequestorErrorCode.BadOption, `no file ${image}, and GOLEM_REGISTRY_URL is not set`);
  const query = /^[0-9a-f]{56}$/i.test(image) ? `hash=${image.toLowerCase()}` : `tag=${image}`;
  let response: Response;
  try {
    response = await fetch(`${registryUrl.replace(/\/+$/, '')}/v1/image/info?count=true&${query}`);
  } catch (cause) {
    throw new GolemError(RequestorErrorCode.BadOption, `the image registry ${registryUrl} is unreachable`, {
      cause,
    });
  }
  if (!response.ok)
    throw new GolemError(RequestorErrorCode.BadOption, `the registry knows no image ${image}`, {
      details: { status: response.status },
    });
  const info = (await response.json()) as { sha3: string; http: string };
  return {
    taskPackage: `hash:sha3:${info.sha3}:${info.http}`,
    describe: `${image} (${info.sha3.slice(0, 12)}…)`,
    close: async () => {},
  };
}

async function serveBytes(bytes: Buffer, name: string, describe: string): Promise<ResolvedImage> {
  const sha3 = createHash('sha3-224').update(bytes).digest('hex');
  const server: Server = createServer((request, response) => {
    if (request.url !== `/${sha3}/${name}`) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-length': bytes.length, 'content-type': 'application/octet-stream' });
    response.end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    taskPackage: `hash:sha3:${sha3}:http://127.0.0.1:${port}/${sha3}/${name}`,
    describe,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
