import { resolve } from 'node:path';
import {
  type GftpEntry,
  GftpLocalAddress,
  type GftpPublished,
  type GftpTransferDone,
} from '../../core/model/gftp.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';

/** A transfer may take long; the daemon's own chunk calls carry the real deadlines. */
const TRANSFER_TIMEOUT_MS = 24 * 60 * 60 * 1000;

function positionals(context: CommandContext, count: number, usage: string): string[] {
  if (context.args.length !== count) throw new UsageError(`usage: ${usage}`);
  return context.args;
}

function printTransfer(context: CommandContext, done: GftpTransferDone, what: string): void {
  if (context.json) context.printJson(done);
  else
    context.print(
      `${what} ${done.bytes} bytes, sha3-256 ${done.sha3_256}${done.resumedFrom > 0 ? ` (resumed at ${done.resumedFrom})` : ''}`,
    );
}

export const commands: Command[] = [
  {
    name: 'gftp publish',
    summary: 'Publish files over GFTP from the daemon; prints their gftp:// URLs and serves until Ctrl-C',
    positionals: ['<file>…'],
    run: async (context) => {
      if (context.args.length === 0) throw new UsageError('give the files to publish');
      const control = await context.control();
      let published: GftpEntry[] = [];
      try {
        published = await control.call<GftpPublished>(GftpLocalAddress.Publish, {
          paths: context.args.map((path) => resolve(path)),
        });
        if (context.json) context.printJson(published);
        else for (const entry of published) context.print(`${entry.url} ${entry.path}`);
        await new Promise<void>((done) => {
          process.once('SIGINT', () => done());
          process.once('SIGTERM', () => done());
        });
      } finally {
        if (published.length > 0) {
          await control
            .call(GftpLocalAddress.Close, { urls: published.map((entry) => entry.url) })
            .catch(() => {});
        }
        await control.close();
      }
      return 0;
    },
  },
  {
    name: 'gftp receive',
    summary: 'Download a gftp:// URL into a file (resumes an interrupted download of the same URL)',
    positionals: ['<url>', '<dest>'],
    options: [
      { name: 'hash', type: 'string', description: 'SHA3 hex the content must have (224/256/384/512)' },
    ],
    run: async (context) => {
      const [url, dest] = positionals(context, 2, 'yagna gftp receive <url> <dest>');
      const control = await context.control();
      try {
        const done = await control.call<GftpTransferDone>(
          GftpLocalAddress.Download,
          { url, path: resolve(dest!), expectedHash: context.options.hash as string | undefined },
          { timeoutMs: TRANSFER_TIMEOUT_MS },
        );
        printTransfer(context, done, 'received');
      } finally {
        await control.close();
      }
      return 0;
    },
  },
  {
    name: 'gftp upload',
    summary: 'Upload a file to a gftp:// upload target',
    positionals: ['<file>', '<url>'],
    run: async (context) => {
      const [file, url] = positionals(context, 2, 'yagna gftp upload <file> <url>');
      const control = await context.control();
      try {
        const done = await control.call<GftpTransferDone>(
          GftpLocalAddress.Upload,
          { path: resolve(file!), url },
          { timeoutMs: TRANSFER_TIMEOUT_MS },
        );
        printTransfer(context, done, 'uploaded');
      } finally {
        await control.close();
      }
      return 0;
    },
  },
];
