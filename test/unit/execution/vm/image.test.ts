import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkloadDemandDirector } from '@golem-sdk/golem-js';
import {
  buildImage,
  gvmiTrailer,
  readGvmi,
  serveRegistry,
  sha3File,
} from '../../../../src/execution/image/index.ts';

const hasSquashfs = spawnSync('mksquashfs', ['-version']).status === 0;
const skip = hasSquashfs ? false : 'needs mksquashfs (Debian package squashfs-tools)';

describe('GVMI images', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'gvmi-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('trailer: crc32 LE, the JSON, its length in 8 ASCII digits (as ya-runtime-vm reads it)', () => {
    const trailer = gvmiTrailer({ Env: ['A=1'] });
    const json = '{"Env":["A=1"]}';
    assert.equal(trailer.subarray(4, 4 + json.length).toString(), json);
    assert.equal(trailer.subarray(-8).toString(), String(json.length).padStart(8, '0'));
    // crc32 of '{"Env":["A=1"]}' (IEEE), little-endian
    assert.equal(
      trailer.readUInt32LE(0),
      Number.parseInt(
        execFileSync('python3', ['-c', `import zlib;print(zlib.crc32(b'${json}'))`]).toString(),
        10,
      ),
    );
  });

  it('reading refuses a file without a trailer, a bad length and a CRC mismatch, with IMAGE_BAD_GVMI', async () => {
    const path = join(dir, 'bad.gvmi');
    writeFileSync(path, 'not an image at all');
    await assert.rejects(readGvmi(path), { code: 'IMAGE_BAD_GVMI' });
    const good = Buffer.concat([Buffer.alloc(100), gvmiTrailer({ Cmd: ['sh'] })]);
    writeFileSync(path, good);
    assert.deepEqual((await readGvmi(path)).config, { Cmd: ['sh'] });
    good.writeUInt8(good.readUInt8(good.length - 12) ^ 1, good.length - 12); // flip a bit of the JSON
    writeFileSync(path, good);
    await assert.rejects(readGvmi(path), /CRC mismatch/);
    truncateSync(path, 6);
    await assert.rejects(readGvmi(path), { code: 'IMAGE_BAD_GVMI' });
  });

  it('builds from a docker-save tarball: layers in order, whiteouts applied, config kept, hash = sha3-224 of the file', {
    skip,
  }, async () => {
    const work = join(dir, 'docker');
    const l1 = join(work, 'l1');
    const l2 = join(work, 'l2');
    mkdirSync(join(l1, 'etc'), { recursive: true });
    mkdirSync(join(l2, 'etc'), { recursive: true });
    writeFileSync(join(l1, 'etc', 'greeting'), 'hello\n');
    writeFileSync(join(l1, 'etc', 'removed'), 'gone in layer 2\n');
    writeFileSync(join(l2, 'etc', '.wh.removed'), '');
    writeFileSync(join(l2, 'etc', 'added'), 'layer 2\n');
    const save = join(work, 'save');
    mkdirSync(join(save, 'a'), { recursive: true });
    mkdirSync(join(save, 'b'), { recursive: true });
    execFileSync('tar', ['-cf', join(save, 'a', 'layer.tar'), '-C', l1, '.']);
    execFileSync('tar', ['-cf', join(save, 'b', 'layer.tar'), '-C', l2, '.']);
    const config = {
      Env: ['PATH=/bin'],
      Cmd: ['/bin/sh'],
      WorkingDir: '/golem/work',
      Volumes: { '/golem/work': {} },
      User: '1000',
    };
    writeFileSync(join(save, 'config.json'), JSON.stringify({ architecture: 'amd64', config }));
    writeFileSync(
      join(save, 'manifest.json'),
      JSON.stringify([{ Config: 'config.json', RepoTags: ['x:1'], Layers: ['a/layer.tar', 'b/layer.tar'] }]),
    );
    const tarball = join(work, 'image.tar');
    execFileSync('tar', ['-cf', tarball, '-C', save, '.']);

    const output = join(dir, 'from-docker.gvmi');
    const result = await buildImage({ source: tarball, output });
    assert.equal(result.source, 'docker');
    assert.equal(result.hash, await sha3File(output));
    const python = execFileSync('python3', [
      '-c',
      `import hashlib;print(hashlib.sha3_224(open('${output}','rb').read()).hexdigest())`,
    ]);
    assert.equal(result.hash, python.toString().trim());
    // gvmkit-build forces User to null and Domainname to ""
    assert.deepEqual((await readGvmi(output)).config, { ...config, User: null, Domainname: '' });
    const listing = execFileSync('unsquashfs', ['-l', '-d', '', output]).toString();
    assert.match(listing, /\/etc\/greeting/);
    assert.match(listing, /\/etc\/added/);
    assert.doesNotMatch(listing, /removed/);
  });

  it('builds from an OCI layout (index → manifest list → amd64 manifest, gzip layer)', { skip }, async () => {
    const layout = join(dir, 'oci');
    const blobs = join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    const put = (content: Buffer | string) => {
      const digest = createHash('sha256').update(content).digest('hex');
      writeFileSync(join(blobs, digest), content);
      return { digest: `sha256:${digest}`, size: Buffer.byteLength(content) };
    };
    const rootfs = join(dir, 'oci-root');
    mkdirSync(join(rootfs, 'srv'), { recursive: true });
    writeFileSync(join(rootfs, 'srv', 'app.txt'), 'from an OCI layer\n');
    const layer = put(execFileSync('tar', ['-czf', '-', '-C', rootfs, '.']));
    const config = put(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/srv/app'], WorkingDir: '/srv' },
      }),
    );
    const manifest = put(
      JSON.stringify({
        schemaVersion: 2,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
    const arm = put(JSON.stringify({ schemaVersion: 2, config, layers: [] }));
    const list = put(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { ...arm, platform: { architecture: 'arm64', os: 'linux' } },
          { ...manifest, platform: { architecture: 'amd64', os: 'linux' } },
        ],
      }),
    );
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [list] }));
    const output = join(dir, 'from-oci.gvmi');
    const result = await buildImage({ source: layout, output });
    assert.equal(result.source, 'oci');
    assert.deepEqual((await readGvmi(output)).config, {
      Cmd: ['/srv/app'],
      WorkingDir: '/srv',
      User: null,
      Domainname: '',
    });
    assert.match(execFileSync('unsquashfs', ['-l', '-d', '', output]).toString(), /\/srv\/app.txt/);
  });

  it('rejects a tarball that is no image with IMAGE_BAD_SOURCE', { skip }, async () => {
    const plain = join(dir, 'plain');
    mkdirSync(plain, { recursive: true });
    writeFileSync(join(plain, 'readme.txt'), 'no manifest here');
    const tarball = join(dir, 'plain.tar');
    execFileSync('tar', ['-cf', tarball, '-C', plain, '.']);
    await assert.rejects(buildImage({ source: tarball, output: join(dir, 'x.gvmi') }), {
      code: 'IMAGE_BAD_SOURCE',
    });
  });

  it("the registry answers golem-js's own imageTag and imageHash resolution, and serves the file with ranges", {
    skip,
  }, async () => {
    const folder = join(dir, 'registry');
    mkdirSync(join(folder, 'root', 'etc'), { recursive: true });
    writeFileSync(join(folder, 'root', 'etc', 'greeting'), 'hi\n');
    const { hash } = await buildImage({ source: join(folder, 'root'), output: join(folder, 'sample.gvmi') });
    writeFileSync(
      join(folder, 'index.json'),
      JSON.stringify({
        tags: {
          'golem-ts/sample:latest': { file: 'sample.gvmi' },
          'golem/alpine:latest': { file: 'sample.gvmi', note: 'stand-in' },
        },
      }),
    );
    const registry = await serveRegistry(folder);
    const previous = process.env.GOLEM_REGISTRY_URL;
    process.env.GOLEM_REGISTRY_URL = registry.url;
    try {
      type Resolver = { resolveTaskPackageUrl(): Promise<string> };
      const resolve = (config: object) =>
        (new WorkloadDemandDirector(config as never) as unknown as Resolver).resolveTaskPackageUrl();
      const byTag = await resolve({ imageTag: 'golem/alpine:latest' });
      assert.equal(byTag, `hash:sha3:${hash}:${registry.url}/download/${hash}`);
      assert.equal(await resolve({ imageHash: hash }), byTag);
      await assert.rejects(resolve({ imageTag: 'nobody/nothing:1' }), /Unable to get image/);

      const file = readFileSync(join(folder, 'sample.gvmi'));
      const whole = await fetch(`${registry.url}/download/${hash}`);
      assert.deepEqual(Buffer.from(await whole.arrayBuffer()), file);
      const part = await fetch(`${registry.url}/download/${hash}`, { headers: { range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), file.subarray(10, 20));
      const listing = (await (await fetch(`${registry.url}/v1/image/list`)).json()) as Array<{
        tags: Array<{ tag: string; note?: string }>;
      }>;
      assert.deepEqual(listing[0]?.tags, [
        { tag: 'golem-ts/sample:latest' },
        { tag: 'golem/alpine:latest', note: 'stand-in' },
      ]);
    } finally {
      if (previous === undefined) delete process.env.GOLEM_REGISTRY_URL;
      else process.env.GOLEM_REGISTRY_URL = previous;
      await registry.close();
    }
  });
});
