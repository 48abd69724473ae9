import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { ControlConnection, ControlServer, controlSocketPath } from '../../../../src/core/control/index.ts';
import { type ErrorCode, GolemError } from '../../../../src/core/errors/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';

describe('control socket', () => {
  let dataDir: string;
  let server: ControlServer;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'yagna-control-'));
    const bus = new LocalBus();
    bus.bind('/local/test/Echo', (message: unknown) => ({ echoed: message }));
    bus.bind('/local/test/Fail', () => {
      throw new GolemError('TEST_REFUSED' as ErrorCode, 'refused on purpose', {
        httpStatus: 409,
        details: { why: 'test' },
      });
    });
    bus.bind('/local/test/Slow', async (message: { ms: number }) => {
      await new Promise((resolve) => setTimeout(resolve, message.ms));
      return message.ms;
    });
    server = new ControlServer({ path: controlSocketPath(dataDir), bus, logger: silentLogger });
    await server.start();
  });
  after(async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is readable by the owner only', async () => {
    assert.equal((await stat(controlSocketPath(dataDir))).mode & 0o777, 0o600);
  });

  it('bridges calls to the bus and keeps error codes', async () => {
    const client = await ControlConnection.connect(controlSocketPath(dataDir));
    try {
      assert.deepEqual(await client.call('/local/test/Echo', { a: 1 }), { echoed: { a: 1 } });
      await assert.rejects(client.call('/local/test/Fail'), (error: unknown) => {
        assert.ok(error instanceof GolemError);
        assert.equal(error.code, 'TEST_REFUSED');
        assert.equal(error.httpStatus, 409);
        assert.deepEqual(error.details, { why: 'test' });
        return true;
      });
      await assert.rejects(
        client.call('/local/test/Nobody'),
        (error: unknown) => error instanceof GolemError,
      );
      // Replies are matched by id, so a slow call does not hold up a fast one.
      const order: number[] = [];
      await Promise.all([
        client.call<number>('/local/test/Slow', { ms: 200 }).then((ms) => order.push(ms)),
        client.call<number>('/local/test/Slow', { ms: 1 }).then((ms) => order.push(ms)),
      ]);
      assert.deepEqual(order, [1, 200]);
    } finally {
      await client.close();
    }
  });

  it('answers a malformed line with an error and keeps serving', async () => {
    const socket = createConnection(controlSocketPath(dataDir));
    const lines: string[] = [];
    let buffer = '';
    socket.setEncoding('utf8');
    const twoLines = new Promise<void>((resolve) => {
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        const parts = buffer.split('\n');
        buffer = parts.pop() ?? '';
        lines.push(...parts);
        if (lines.length >= 2) resolve();
      });
    });
    socket.write('not json\n{"id":7,"address":"/local/test/Echo","message":2}\n');
    await twoLines;
    socket.destroy();
    const [bad, good] = lines.map(
      (line) => JSON.parse(line) as { id: number; error?: { code: string; message: string } },
    );
    assert.equal(bad?.error?.code, 'CONTROL_BAD_REQUEST');
    assert.match(bad?.error?.message ?? '', /bad control request/);
    assert.deepEqual(good, { id: 7, ok: { echoed: 2 } });
  });

  it('refuses a second server on a live socket and reports no daemon when none listens', async () => {
    const second = new ControlServer({
      path: controlSocketPath(dataDir),
      bus: new LocalBus(),
      logger: silentLogger,
    });
    await assert.rejects(
      second.start(),
      (error: unknown) => (error as GolemError).code === 'DAEMON_ALREADY_RUNNING',
    );
    await assert.rejects(
      ControlConnection.connect(join(dataDir, 'absent.sock')),
      (error: unknown) => (error as GolemError).code === 'CONTROL_NO_DAEMON',
    );
  });
});
