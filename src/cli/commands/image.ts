import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  buildImage,
  type ContainerConfig,
  REGISTRY_INDEX,
  type RegistryIndex,
  serveRegistry,
} from '../../execution/image/index.ts';
import { type Command, UsageError } from '../command.ts';

const asList = (value: unknown): string[] =>
  Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];

/** Adds `tag` (and aliases) → `file` to a registry folder's index.json. */
async function register(
  folder: string,
  file: string,
  tags: string[],
  note: string | undefined,
): Promise<void> {
  const path = join(folder, REGISTRY_INDEX);
  const index: RegistryIndex = await readFile(path, 'utf8')
    .then((text) => JSON.parse(text) as RegistryIndex)
    .catch(() => ({ tags: {} }));
  tags.forEach((tag, i) => {
    index.tags[tag] = i === 0 || note === undefined ? { file } : { file, note };
  });
  await writeFile(path, `${JSON.stringify(index, null, 2)}\n`);
}

export const commands: Command[] = [
  {
    name: 'image build',
    summary: 'Build a GVMI image (VM runtime) from a rootfs folder, an OCI layout or a `docker save` tarball',
    positionals: ['<source>'],
    options: [
      { name: 'output', short: 'o', type: 'string', description: 'the .gvmi file to write', required: true },
      { name: 'env', type: 'list', description: 'KEY=VALUE of the image environment' },
      { name: 'cmd', type: 'list', description: 'default command words' },
      { name: 'entrypoint', type: 'list', description: 'entrypoint words' },
      { name: 'workdir', type: 'string', description: 'working directory of commands' },
      { name: 'volume', type: 'list', description: 'a guest path given to the requestor as a volume' },
      {
        name: 'compression',
        type: 'string',
        description: 'squashfs compression: lzo (default), gzip, xz, zstd, lz4',
      },
      {
        name: 'tag',
        type: 'list',
        description: 'register in the output folder’s registry index under this name:tag',
      },
      {
        name: 'note',
        type: 'string',
        description: 'registry note for the second and further tags (what they stand for)',
      },
    ],
    run: async (context) => {
      const source = context.args[0];
      if (!source) throw new UsageError('give the source folder or tarball');
      const output = context.options.output as string;
      const compression = (context.options.compression as string | undefined) ?? 'lzo';
      if (!['lzo', 'gzip', 'xz', 'zstd', 'lz4'].includes(compression))
        throw new UsageError(`bad --compression ${compression}`);
      const config: ContainerConfig = {};
      const env = asList(context.options.env);
      if (env.length) config.Env = env;
      const cmd = asList(context.options.cmd);
      if (cmd.length) config.Cmd = cmd;
      const entrypoint = asList(context.options.entrypoint);
      if (entrypoint.length) config.Entrypoint = entrypoint;
      if (typeof context.options.workdir === 'string') config.WorkingDir = context.options.workdir;
      const volumes = asList(context.options.volume);
      if (volumes.length) config.Volumes = Object.fromEntries(volumes.map((v) => [v, {}]));
      const result = await buildImage({
        source,
        output,
        config,
        compression: compression as 'lzo',
      });
      const tags = asList(context.options.tag);
      if (tags.length)
        await register(
          join(output, '..'),
          basename(output),
          tags,
          context.options.note as string | undefined,
        );
      if (context.json) context.printJson({ ...result, tags });
      else {
        context.print(`image: ${result.output} (${result.bytes} bytes, from ${result.source})`);
        context.print(`sha3-224: ${result.hash}`);
        context.print(`image link: hash:sha3:${result.hash}:<url of the file>`);
      }
      return 0;
    },
  },
  {
    name: 'image serve',
    summary:
      'Serve a folder of GVMI images with the registry endpoints golem-js resolves imageTag/imageHash with',
    positionals: ['<folder>'],
    options: [
      {
        name: 'listen',
        type: 'string',
        description: 'host:port to listen on (default 127.0.0.1:0, any free port)',
      },
      {
        name: 'public-url',
        type: 'string',
        description: 'base URL put into download links (default: the listen URL)',
      },
    ],
    run: async (context) => {
      const folder = context.args[0];
      if (!folder) throw new UsageError('give the folder of .gvmi files');
      const listen = (context.options.listen as string | undefined) ?? '127.0.0.1:0';
      const match = /^(.*):(\d+)$/.exec(listen);
      if (!match) throw new UsageError('--listen is host:port');
      const registry = await serveRegistry(folder, {
        host: match[1]!.replace(/^\[|\]$/g, ''),
        port: Number(match[2]),
        publicUrl: context.options['public-url'] as string | undefined,
      });
      if (context.json) context.printJson({ url: registry.url, images: registry.images });
      else {
        context.print(`registry on ${registry.url} (GOLEM_REGISTRY_URL=${registry.url})`);
        for (const image of registry.images) {
          context.print(`${image.sha3}  ${image.file}`);
          for (const t of image.tags) context.print(`    ${t.tag}${t.note ? `  (${t.note})` : ''}`);
        }
      }
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await registry.close();
      return 0;
    },
  },
];
