/**
 * Activities across real daemons (a relay, a requestor, a provider, a stranger), driven by the official typed
 * ya-ts-client: a real agreement from the market, an ExeUnit supervisor process per activity on the provider
 * running the test runtime (Golem's process-mode CLI contract), deploy, start, run, streamed output, transfers
 * (http, container, gftp), usage and state, destroy; then bad input, a stranger, and a supervisor killed by
 * SIGKILL. Written against any process-mode runtime: with the WASI runtime merged, the same flow runs on it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ActivityApi } from 'ya-ts-client';
import { ControlConnection } from '../../src/core/control/index.ts';
import type { GolemError } from '../../src/core/errors/index.ts';
import { ActivityPublicAddress, remoteActivityAddress } from '../../src/core/model/activity.ts';
import { GftpLocalAddress, type GftpPublished } from '../../src/core/model/gftp.ts';
import { approvedAgreement, terminateAgreement } from '../support/agreement.ts';
import {
  type DaemonHandle,
  type RelayHandle,
  startDaemon,
  startRelayProcess,
  tempDir,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';

const TEST_RUNTIME = fileURLToPath(new URL('../support/exeunit-runtime/descriptor.json', import.meta.url));
const MAX_CAPTURE = 64 * 1024;
const MAX_TRANSFER = 1024 * 1024;

type Client = InstanceType<typeof ActivityApi.Client>;
type Result = {
  index: number;
  result: string;
  stdout?: unknown;
  stderr?: unknown;
  message?: unknown;
  isBatchFinished: boolean;
};

const client = (daemon: DaemonHandle): Client =>
  new ActivityApi.Client({ BASE: `${daemon.apiUrl}/activity-api/v1`, TOKEN: daemon.appKey });

const run = (
  shell: string,
  capture: Record<string, unknown> = { stdout: { atEnd: {} }, stderr: { atEnd: {} } },
) => ({
  run: { entry_point: '/bin/sh', args: ['-c', shell], capture },
});

/** Sends a script and long-polls its results until the batch is finished (golem-js's loop). */
async function execute(api: Client, activityId: string, script: unknown[]): Promise<Result[]> {
  const batchId = (await api.requestorControl.exec(activityId, { text: JSON.stringify(script) })) as string;
  assert.match(batchId, /^[0-9a-f]{32}$/);
  for (let i = 0; i < 60; i++) {
    const results = (await api.requestorControl.getExecBatchResults(
      activityId,
      batchId,
      undefined,
      5,
    )) as Result[];
    if (results.some((r) => r.isBatchFinished)) return results;
  }
  throw new Error('batch did not finish');
}

/** The exec results stream as golem-js reads it: `event: runtime` frames until the last command finished. */
async function streamEvents(daemon: DaemonHandle, activityId: string, batchId: string, commands: number) {
  const controller = new AbortController();
  const response = await fetch(`${daemon.apiUrl}/activity-api/v1/activity/${activityId}/exec/${batchId}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${daemon.appKey}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  const events: { index: number; kind: Record<string, unknown>; batch_id: string; timestamp: string }[] = [];
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk);
    let end = text.indexOf('\n\n');
    while (end >= 0) {
      const frame = text.slice(0, end);
      text = text.slice(end + 2);
      end = text.indexOf('\n\n');
      const lines = frame.split('\n');
      if (!lines.includes('event: runtime')) continue;
      events.push(JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)));
    }
    const last = events.at(-1);
    if (last !== undefined && last.index + 1 >= commands && 'finished' in last.kind) break;
  }
  controller.abort();
  return events;
}

function exeUnitPids(activityId: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('service-bus') && cmdline.includes(activityId)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

describe('activities across daemons, through ya-ts-client', () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let stranger: DaemonHandle;
  let http: Server;
  let httpUrl: string;
  const uploads = new Map<string, Buffer>();
  const served = new Map<string, Buffer>();
  let agreementId: string;

  before(async () => {
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, provider, stranger] = await Promise.all([
      startDaemon({ env }),
      startDaemon({
        env: {
          ...env,
          EXE_UNIT_PATH: TEST_RUNTIME,
          EXE_UNIT_MAX_CAPTURE_BYTES: String(MAX_CAPTURE),
          EXE_UNIT_MAX_TRANSFER_BYTES: String(MAX_TRANSFER),
          PROCESS_KILL_TIMEOUT_SECONDS: '1',
        },
      }),
      startDaemon({ env }),
    ]);
    http = createServer((request, response) => {
      if (request.method === 'PUT') {
        const parts: Buffer[] = [];
        request.on('data', (chunk: Buffer) => parts.push(chunk));
        request.on('end', () => {
          uploads.set(request.url!, Buffer.concat(parts));
          response.writeHead(201).end();
        });
        return;
      }
      const body = served.get(request.url!);
      if (body === undefined) response.writeHead(404).end();
      else response.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    agreementId = await approvedAgreement(requestor, provider, { runtime: 'test-runtime' });
  });
  after(async () => {
    http?.close();
    await Promise.all([requestor, provider, stranger].map((d) => d?.stop()));
    await relay?.stop();
  });

  it('creates, deploys, starts, runs, streams, transfers and destroys; usage and state are right', async () => {
    const api = client(requestor);
    const created = (await api.requestorControl.createActivity({ agreementId })) as { activityId: string };
    const activityId = created.activityId;
    assert.match(activityId, /^[0-9a-f]{32}$/);
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Initialized', null]);
    assert.equal(await api.requestorState.getActivityAgreement(activityId), agreementId);
    // The provider's own view (its REST, its identity).
    assert.deepEqual((await client(provider).provider.getActivityState(activityId)).state, [
      'Initialized',
      null,
    ]);

    const setup = await execute(api, activityId, [{ deploy: {} }, { start: {} }]);
    assert.deepEqual(
      setup.map((r) => [r.index, r.result, r.isBatchFinished]),
      [
        [0, 'Ok', false],
        [1, 'Ok', true],
      ],
    );
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Ready', null]);

    // run with output captured at the end
    const [hello] = await execute(api, activityId, [run('echo hello; echo oops >&2')]);
    assert.equal(hello!.result, 'Ok');
    assert.equal(hello!.stdout, 'hello\n');
    assert.equal(hello!.stderr, 'oops\n');
    const [failed] = await execute(api, activityId, [run('exit 3'), run('echo never')]);
    assert.equal(failed!.result, 'Error');
    assert.equal(failed!.isBatchFinished, true);

    // streamed output: server-sent events as golem-js parses them
    const streamScript = [run('echo one; sleep 0.2; echo two', { stdout: { stream: { format: 'str' } } })];
    const batchId = (await api.requestorControl.exec(activityId, {
      text: JSON.stringify(streamScript),
    })) as string;
    const events = await streamEvents(requestor, activityId, batchId, 1);
    assert.ok('started' in events[0]!.kind);
    assert.equal(events[0]!.batch_id, batchId);
    assert.match(events[0]!.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const out = events
      .filter((e) => 'stdout' in e.kind)
      .map((e) => e.kind.stdout)
      .join('');
    assert.equal(out, 'one\ntwo\n');
    assert.deepEqual(events.at(-1)!.kind, { finished: { return_code: 0, message: null } });

    // transfers: http (hash checked) → container → container → http upload, and gftp both ways
    const content = randomBytes(100_000);
    served.set('/in.bin', content);
    const sha3 = createHash('sha3-256').update(content).digest('hex');
    const control = await ControlConnection.connect(join(requestor.dataDir, 'yagna.sock'));
    const localFile = join(tempDir('gftp-'), 'up.txt');
    writeFileSync(localFile, 'through gftp\n');
    const [published] = await control.call<GftpPublished>(GftpLocalAddress.Publish, { paths: [localFile] });
    const receivePath = join(tempDir('gftp-'), 'down.bin');
    const [receiver] = await control.call<GftpPublished>(GftpLocalAddress.Receive, { path: receivePath });
    const moved = await execute(api, activityId, [
      { transfer: { from: `hash:sha3:${sha3}:${httpUrl}/in.bin`, to: 'container:/golem/input/in.bin' } },
      { transfer: { from: 'container:/golem/input/in.bin', to: 'container:/golem/output/copy.bin' } },
      { transfer: { from: 'container:/golem/output/copy.bin', to: `${httpUrl}/out.bin` } },
      { transfer: { from: published!.url, to: 'container:/golem/work/up.txt' } },
      run('cat up.txt; sha256sum $GOLEM_VOL_OUTPUT/copy.bin | cut -c1-64'),
      { transfer: { from: 'container:/golem/output/copy.bin', to: receiver!.url } },
    ]);
    assert.deepEqual(
      moved.map((r) => r.result),
      ['Ok', 'Ok', 'Ok', 'Ok', 'Ok', 'Ok'],
      JSON.stringify(moved),
    );
    assert.equal(moved[4]!.stdout, `through gftp\n${createHash('sha256').update(content).digest('hex')}\n`);
    assert.deepEqual(uploads.get('/out.bin'), content);
    await eventually(() => {
      try {
        return readFileSync(receivePath).equals(content);
      } catch {
        return false;
      }
    }, 'the gftp upload on the requestor');
    await control.close();

    // a running command is visible; usage counts wall time and the process tree's CPU
    const busy = (await api.requestorControl.exec(activityId, {
      text: JSON.stringify([run('i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; sleep 0.5')]),
    })) as string;
    await eventually(async () => {
      try {
        const running = await api.requestorState.getRunningCommand(activityId);
        return running[0]?.command === 'Run';
      } catch {
        return false;
      }
    }, 'the running command');
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Ready', 'Ready']);
    await api.requestorControl.getExecBatchResults(activityId, busy, 0, 30);
    const usage = await api.requestorState.getActivityUsage(activityId);
    assert.equal(usage.currentUsage?.length, 2);
    const [duration, cpu] = usage.currentUsage!;
    assert.ok(duration! > 0.5, `duration ${duration}`);
    assert.ok(cpu! > 0.1, `cpu ${cpu}`);
    assert.ok(Math.abs(usage.timestamp - Date.now() / 1000) < 30);

    await api.requestorControl.destroyActivity(activityId, 30);
    // Reads still answer after the end, as golem-js re-reads the activity after destroying it.
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Terminated', null]);
    assert.equal(await api.requestorState.getActivityAgreement(activityId), agreementId);
    assert.equal((await api.requestorState.getActivityUsage(activityId)).currentUsage?.length, 2);
    assert.deepEqual((await client(provider).provider.getActivityState(activityId)).state, [
      'Terminated',
      null,
    ]);
    await eventually(() => exeUnitPids(activityId).length === 0, 'the ExeUnit process to end');
    await assert.rejects(
      api.requestorControl.exec(activityId, { text: JSON.stringify([run('true')]) }),
      (e: { status?: number }) => e.status === 410,
    );
  });
});
