import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  decodeResponse,
  ErrorCode,
  encodeResponse,
  FrameReader,
  frame,
  type ProcessStatus,
  type Response,
  RuntimeClient,
  RuntimeServiceError,
  serveRuntime,
  spawnServiceRuntime,
} from '../../../src/execution/runtime-api/index.ts';

const fixture = fileURLToPath(new URL('./fixtures/host-runtime.ts', import.meta.url));

function collect(client: RuntimeClient, pid: () => number) {
  let stdout = '';
  let exit: number | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => {
    resolveExit = r;
  });
  const seen: ProcessStatus[] = [];
  client.onProcessStatus((s) => seen.push(s));
  const drain = () => {
    // Events of a process can arrive before the RunProcess answer that names its pid: keep them until it is known.
    if (pid() === 0) return;
    for (const s of seen.splice(0)) {
      if (s.pid !== pid()) continue;
      stdout += Buffer.from(s.stdout).toString();
      if (!s.running) {
        exit = s.returnCode;
        resolveExit(exit);
      }
    }
  };
  client.onProcessStatus(() => queueMicrotask(drain));
  return { exited, stdout: () => stdout, drain };
}

describe('Runtime API client and server', () => {
  it('drives a runtime program as a process: hello, run with output and exit code, kill, shutdown', async () => {
    const { client, exited } = spawnServiceRuntime(process.execPath, [fixture]);
    assert.equal(await client.hello(), '0.1.0');

    let pid = 0;
    const run = collect(client, () => pid);
    pid = await client.runProcess({ bin: '/bin/sh', args: ['sh', '-c', 'echo hello; exit 3'], workDir: '' });
    run.drain();
    assert.equal(await run.exited, 3);
    assert.equal(run.stdout(), 'hello\n');

    let sleeper = 0;
    const sleep = collect(client, () => sleeper);
    sleeper = await client.runProcess({ bin: '/bin/sleep', args: ['sleep', '60'], workDir: '' });
    await client.killProcess({ pid: sleeper, signal: 9 });
    sleep.drain();
    assert.equal(await sleep.exited, -1);

    await assert.rejects(
      client.killProcess({ pid: 999999, signal: 9 }),
      (e: { code: string; details: unknown }) => {
        assert.equal(e.code, 'RUNTIME_API_REMOTE_ERROR');
        assert.deepEqual(e.details, { id: 5, code: ErrorCode.NotFound, context: { pid: '999999' } });
        return true;
      },
    );
    await client.shutdown();
    assert.equal(await exited, 0);
    await assert.rejects(client.hello(), { code: 'RUNTIME_API_CLOSED' });
  });

  it('matches overlapping answers by id even when the runtime answers out of order', async () => {
    const toRuntime = new PassThrough();
    const fromRuntime = new PassThrough();
    const client = new RuntimeClient(toRuntime, fromRuntime);
    const first = client.runProcess({ bin: 'a', args: [], workDir: '' });
    const second = client.runProcess({ bin: 'b', args: [], workDir: '' });
    fromRuntime.write(frame(encodeResponse({ event: false, id: 2, command: { kind: 'run', pid: 20 } })));
    fromRuntime.write(frame(encodeResponse({ event: false, id: 1, command: { kind: 'run', pid: 10 } })));
    assert.deepEqual(await Promise.all([first, second]), [10, 20]);
    // an answer of the wrong kind is an error, not a silent success
    const hello = client.hello();
    fromRuntime.write(frame(encodeResponse({ event: false, id: 3, command: { kind: 'kill' } })));
    await assert.rejects(hello, { code: 'RUNTIME_API_UNEXPECTED_RESPONSE' });
  });

  it('a runtime that dies mid-request fails the pending call instead of hanging', async () => {
    const fromRuntime = new PassThrough();
    const client = new RuntimeClient(new PassThrough(), fromRuntime);
    const pending = client.hello();
    fromRuntime.end(Uint8Array.of(0x05, 0x10)); // half a frame, then EOF
    await assert.rejects(pending, (e: { code: string; details: { unfinishedFrameBytes: number } }) => {
      assert.equal(e.code, 'RUNTIME_API_CLOSED');
      assert.equal(e.details.unfinishedFrameBytes, 2);
      return true;
    });
  });

  it('an aborted call is rejected with its own code', async () => {
    const client = new RuntimeClient(new PassThrough(), new PassThrough());
    const controller = new AbortController();
    const pending = client.shutdown(controller.signal);
    controller.abort();
    await assert.rejects(pending, { code: 'RUNTIME_API_ABORTED' });
  });

  it('server: handler errors become Response.Error with their code; unknown commands get "unknown command"', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    serveRuntime(
      {
        hello: async (v) => v,
        runProcess: async () => {
          throw new RuntimeServiceError(ErrorCode.BadRequest, 'no bin');
        },
        killProcess: async () => {
          throw new Error('boom');
        },
        createNetwork: async () => undefined,
        shutdown: async () => {},
      },
      input,
      output,
    );
    const client = new RuntimeClient(input, output);
    await assert.rejects(
      client.runProcess({ bin: '', args: [], workDir: '' }),
      (e: { details: { code: number } }) => {
        assert.equal(e.details.code, ErrorCode.BadRequest);
        return true;
      },
    );
    await assert.rejects(client.killProcess({ pid: 1, signal: 9 }), { message: 'boom' });
    assert.equal(await client.createNetwork({ networks: [], hosts: {}, interface: 0 }), undefined);
    // a request with an unknown oneof member (field 40) → Error "unknown command" with the request's id (99)
    const reader = new FrameReader();
    const answered = new Promise<Response>((resolve) => {
      output.on('data', (b: Buffer) => {
        for (const f of reader.push(b)) {
          const r = decodeResponse(f);
          if (r.id === 99) resolve(r);
        }
      });
    });
    input.write(frame(Uint8Array.of(0x08, 0x63, 0xc2, 0x02, 0x00)));
    assert.deepEqual(await answered, {
      event: false,
      id: 99,
      command: { kind: 'error', code: ErrorCode.Internal, message: 'unknown command', context: {} },
    });
  });
});
