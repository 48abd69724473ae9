/**
 * A daemon (here a fake one on a real unix socket) that answers with lines that are not control messages: the
 * client fails its waiting calls with a coded error and closes the connection instead of throwing out of the
 * socket's data handler (which would crash the CLI or an ExeUnit).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlConnection, ControlErrorCode } from '../../../../src/core/control/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { tempDir } from '../../../support/daemon.ts';

/** A daemon that answers every request, once two have arrived, with `answer`. */
async function fakeDaemon(path: string, answer: string): Promise<Server> {
  const server = createServer((socket: Socket) => {
    let lines = 0;
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      lines += chunk.split('\n').length - 1;
      if (lines >= 2) socket.write(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

describe('control client reading a malformed line', () => {
  let dir: string;
  before(() => {
    dir = tempDir('control-malformed-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const garbage: [string, string][] = [
    ['not JSON', 'this is not json\n'],
    ['JSON that is not an object', '42\n'],
    ['null', 'null\n'],
    ['an answer whose error has no code', '{"id":1,"error":"boom"}\n'],
    ['an object that is neither call nor answer', '{"hello":"there"}\n'],
  ];
  for (const [index, [name, answer]] of garbage.entries()) {
    it(`${name}: both waiting calls fail with ${ControlErrorCode.MalformedLine} and the connection closes`, async () => {
      const path = join(dir, `${index}.sock`);
      const server = await fakeDaemon(path, answer);
      try {
        const client = await ControlConnection.connect(path);
        const results = await Promise.allSettled([
          client.call('/local/a/X', 1),
          client.call('/local/b/Y', 2),
        ]);
        for (const result of results) {
          assert.equal(result.status, 'rejected');
          assert.ok(isGolemError(result.reason, ControlErrorCode.MalformedLine), String(result.reason));
        }
        await client.closed;
        await assert.rejects(client.call('/local/a/X'), (error: unknown) =>
          isGolemError(error, ControlErrorCode.Disconnected),
        );
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  }
});
