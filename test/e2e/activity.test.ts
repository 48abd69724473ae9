/**
 * Activities across real daemons (a relay, a requestor, a provider, a stranger), driven by the official typed
 * ya-ts-client: a real agreement from the market, an ExeUnit supervisor process per activity on the provider
 * running the test runtime (Golem's process-mode CLI contract), deploy, start, run, streamed output, transfers
 * (http, container, gftp), usage and state, destroy; then bad input, a stranger, and a supervisor killed by
 * SIGKILL. Written against any process-mode runtime: with the WASI runtime merged, the same flow runs on it.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { YagnaApi } from '@golem-sdk/golem-js';
import { ControlConnection } from '../../src/core/control/index.ts';
import { ActivityPublicAddress, remoteActivityAddress } from '../../src/core/model/activity.ts';
import { GftpLocalAddress, type GftpPublished } from '../../src/core/model/gftp.ts';
import {
  activityClient,
  execute,
  exeUnitPids,
  processesWith,
  type Result,
  readyActivity,
  streamEvents,
} from '../support/activity.ts';
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

const client = activityClient;

const run = (
  shell: string,
  capture: Record<string, unknown> = { stdout: { atEnd: {} }, stderr: { atEnd: {} } },
) => ({
  run: { entry_point: '/bin/sh', args: ['-c', shell], capture },
});

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

    const volumes = { '/golem/work': { storage: { size: '1g', errors: 'panic' } } };
    const setup = await execute(api, activityId, [
      { deploy: { hostname: 'golem-test', volumes } },
      { start: {} },
    ]);
    assert.deepEqual(
      setup.map((r) => [r.index, r.result, r.isBatchFinished]),
      [
        [0, 'Ok', false],
        [1, 'Ok', true],
      ],
    );
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Ready', null]);

    // deploy's hostname and volume mounts reach the runtime as Golem passes them
    const [deployArgs] = await execute(api, activityId, [run('cat ../deploy-args.json')]);
    assert.deepEqual(JSON.parse(deployArgs!.stdout as string), {
      hostname: 'golem-test',
      'volume-override': JSON.stringify(volumes),
    });

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

    // The same stream through golem-js 3.6.0's own reader (eventsource, as runAndStream uses it).
    const golem = new YagnaApi({ apiKey: requestor.appKey, basePath: requestor.apiUrl });
    const sdkBatch = (await api.requestorControl.exec(activityId, {
      text: JSON.stringify([
        run('echo sdk; echo warn >&2', { stdout: { stream: {} }, stderr: { stream: {} } }),
      ]),
    })) as string;
    const sdkEvents = await new Promise<{ kind: Record<string, unknown> }[]>((resolve, reject) => {
      const seen: { kind: Record<string, unknown> }[] = [];
      const subscription = golem.activity.exec.observeBatchExecResults(activityId, sdkBatch).subscribe({
        next: (event) => {
          seen.push(event as never);
          if (event.kind.finished !== undefined) {
            subscription.unsubscribe();
            resolve(seen);
          }
        },
        error: reject,
      });
    });
    const kinds = sdkEvents.map((e) => Object.keys(e.kind)[0]);
    assert.deepEqual(
      [kinds[0], kinds.at(-1), kinds.slice(1, -1).sort()],
      ['started', 'finished', ['stderr', 'stdout']],
    );
    assert.equal(sdkEvents.find((e) => 'stdout' in e.kind)!.kind.stdout, 'sdk\n');

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
    // The provider's event feed (yagna's, object-tagged) saw it come and go.
    const feed = (await client(provider).provider.collectActivityEvents(
      undefined,
      new Date(Date.now() - 3_600_000).toISOString(),
      1,
      100,
    )) as unknown as { activityId: string; eventType: Record<string, unknown> }[];
    assert.deepEqual(
      feed.filter((e) => e.activityId === activityId).map((e) => Object.keys(e.eventType)[0]),
      ['CreateActivity', 'DestroyActivity'],
    );
    await assert.rejects(
      client(provider).provider.collectActivityEvents(
        undefined,
        new Date(Date.now() + 60_000).toISOString(),
        0.2,
        10,
      ),
      (e: { status?: number }) => e.status === 408,
    );
    await assert.rejects(
      api.requestorControl.exec(activityId, { text: JSON.stringify([run('true')]) }),
      (e: { status?: number }) => e.status === 410,
    );
  });

  it('drives a service-mode runtime through the Runtime API: runs, output, exit codes, custom counters', async () => {
    const serviceAgreement = await approvedAgreement(requestor, provider, {
      runtime: 'test-service',
      offer: {
        'golem.com.usage.vector': ['golem.usage.duration_sec', 'golem.usage.custom.runs'],
        'golem.inf.cpu.threads': 2,
        'golem.inf.mem.gib': 0.5,
      },
    });
    const api = client(requestor);
    const activityId = await readyActivity(api, serviceAgreement);
    const results = await execute(api, activityId, [
      run('echo svc; pwd'),
      run('echo err >&2; exit 4'),
      run('echo never'),
    ]);
    assert.equal(results.length, 2);
    assert.equal(results[0]!.result, 'Ok');
    assert.match(results[0]!.stdout as string, /^svc\n.*\/vol-data\n$/);
    assert.equal(results[1]!.result, 'Error');
    assert.equal(results[1]!.stderr, 'err\n');
    assert.equal(results[1]!.isBatchFinished, true);
    const batchId = (await api.requestorControl.exec(activityId, {
      text: JSON.stringify([run('echo a; sleep 0.1; echo b', { stdout: { stream: {} } })]),
    })) as string;
    const events = await streamEvents(requestor, activityId, batchId, 1);
    assert.equal(
      events
        .filter((e) => 'stdout' in e.kind)
        .map((e) => e.kind.stdout)
        .join(''),
      'a\nb\n',
    );
    await eventually(
      async () => (await api.requestorState.getActivityUsage(activityId)).currentUsage?.[1] === 3,
      "the runtime's custom counter in the usage",
    );
    await api.requestorControl.destroyActivity(activityId, 30);
    await eventually(() => exeUnitPids(activityId).length === 0, 'the ExeUnit process to end');
    assert.deepEqual(processesWith('service-runtime.ts', provider.dataDir), [], 'the runtime service ended');
  });

  it('refuses bad input with clear errors and keeps serving; kills what never ends; ends with its agreement', async () => {
    const api = client(requestor);
    const { activityId } = (await api.requestorControl.createActivity({ agreementId })) as {
      activityId: string;
    };
    const status = async (promise: Promise<unknown>) =>
      promise.then(
        () => ({ status: 200, message: '' }),
        (e: { status: number; body: { message: string } }) => ({
          status: e.status,
          message: e.body?.message,
        }),
      );

    // Malformed scripts never reach the provider.
    const bad = (text: string) => status(api.requestorControl.exec(activityId, { text }));
    assert.equal((await bad('[{"run": ')).status, 400);
    assert.match((await bad('[{"run": ')).message, /not JSON/);
    assert.match((await bad('[{"frobnicate": {}}]')).message, /unknown variant `frobnicate`/);
    assert.match((await bad('[{"run": {"args": []}}]')).message, /missing field `entry_point`/);
    assert.match((await bad('{"run": {}}')).message, /list of commands/);
    assert.match((await bad(JSON.stringify(Array(101).fill({ sign: {} })))).message, /at most 100 commands/);

    // yagna's state machine and its messages.
    const first = async (script: unknown[]) => (await execute(api, activityId, script))[0]!;
    assert.equal(
      (await first([run('true')])).message,
      'Activity is initialized - deploy() command is expected now',
    );
    assert.equal(
      (await first([{ start: {} }])).message,
      'Activity is initialized - deploy() command is expected now',
    );
    assert.equal((await first([{ deploy: {} }])).result, 'Ok');
    assert.equal(
      (await first([run('true')])).message,
      'Activity is deployed - start() command is expected now',
    );
    assert.equal((await first([{ start: {} }])).result, 'Ok');
    assert.equal((await first([{ deploy: {} }])).message, 'Cannot send command after a successful start()');

    // Paths: traversal, outside the volumes, symlinks pointing out, size limit.
    const transferError = async (from: string, to: string) =>
      (await first([{ transfer: { from, to } }])).message;
    assert.match(
      (await transferError(
        'container:/golem/input/../../../../etc/passwd',
        'container:/golem/output/p',
      )) as string,
      /may not contain '\.\.'/,
    );
    assert.match(
      (await transferError('container:/etc/passwd', 'container:/golem/output/p')) as string,
      /not inside any volume/,
    );
    assert.equal(
      (await first([run('ln -s /etc/passwd $GOLEM_VOL_INPUT/link; ln -s /tmp $GOLEM_VOL_OUTPUT/dir')]))
        .result,
      'Ok',
    );
    assert.match(
      (await transferError('container:/golem/input/link', 'container:/golem/output/p')) as string,
      /points outside its volume/,
    );
    served.set('/small.txt', Buffer.from('small'));
    assert.match(
      (await transferError(`${httpUrl}/small.txt`, 'container:/golem/output/dir/x')) as string,
      /points outside its volume/,
    );
    assert.match(
      (await transferError(`${httpUrl}/small.txt`, 'container:/golem/input/link')) as string,
      /symlink/,
    );
    served.set('/big.bin', Buffer.alloc(MAX_TRANSFER + 1));
    assert.match(
      (await transferError(`${httpUrl}/big.bin`, 'container:/golem/input/big.bin')) as string,
      /larger than the transfer limit/,
    );
    assert.match(
      (await transferError('ftp://host/x', 'container:/golem/input/x')) as string,
      /unsupported transfer URL scheme/,
    );
    const hashed = `hash:sha3:${'0'.repeat(64)}:${httpUrl}/small.txt`;
    assert.match(
      (await transferError(hashed, 'container:/golem/input/s')) as string,
      /does not match its hash/,
    );
    const leftovers = await first([run('ls $GOLEM_VOL_INPUT')]);
    assert.equal(leftovers.stdout, 'link\n', 'nothing of the refused transfers landed');

    // Huge output is cut to the capture limit; head/tail/headTail keep what they say.
    const huge = await first([run("head -c 3000000 /dev/zero | tr '\\0' a; echo -n END")]);
    assert.equal(huge.result, 'Ok');
    assert.equal((huge.stdout as string).length, MAX_CAPTURE);
    const parts = await first([
      run('printf 0123456789', { stdout: { atEnd: { headTail: 5 } }, stderr: { atEnd: { format: 'bin' } } }),
    ]);
    assert.equal(parts.stdout, '01289');
    assert.deepEqual(parts.stderr, []);
    assert.equal((await first([run('printf 0123456789', { stdout: { atEnd: { tail: 3 } } })])).stdout, '789');

    // A command that never ends: Busy for others, killed by terminate, then by destroy.
    const forever = (await api.requestorControl.exec(activityId, {
      text: JSON.stringify([run('sleep 1001')]),
    })) as string;
    await eventually(
      async () => (await api.requestorState.getActivityState(activityId)).state[1] === 'Ready',
      'the run',
    );
    assert.match((await first([run('true')])).message as string, /^Busy: StatePair\(Ready, Some\(Ready\)\)$/);
    assert.equal((await first([{ terminate: {} }])).result, 'Ok');
    const [killed] = (await api.requestorControl.getExecBatchResults(activityId, forever, 0, 10)) as Result[];
    assert.equal(killed!.result, 'Error');
    assert.match(killed!.message as string, /killed/);
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Initialized', null]);

    // An event stream of an unknown batch answers 404 before any stream starts.
    const unknownStream = await fetch(
      `${requestor.apiUrl}/activity-api/v1/activity/${activityId}/exec/nope`,
      {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${requestor.appKey}` },
      },
    );
    assert.equal(unknownStream.status, 404);
    assert.match(((await unknownStream.json()) as { message: string }).message, /batch nope not found/);

    // A node that is not the requestor reaches the provider's activity module directly: refused.
    const strangerControl = await ControlConnection.connect(join(stranger.dataDir, 'yagna.sock'));
    const refused = (address: string, message: unknown) =>
      strangerControl.call(remoteActivityAddress(provider.nodeId, address), message).then(
        () => 'accepted',
        (e: { code: string }) => e.code,
      );
    assert.equal(await refused(ActivityPublicAddress.Create, { agreementId }), 'ACTIVITY_FORBIDDEN');
    const script = [run('touch $GOLEM_VOL_OUTPUT/pwned')];
    assert.equal(
      await refused(ActivityPublicAddress.Exec, { activityId, batchId: 'x1', exeScript: script }),
      'ACTIVITY_FORBIDDEN',
    );
    assert.equal(await refused(ActivityPublicAddress.Destroy, { activityId }), 'ACTIVITY_FORBIDDEN');
    assert.equal(await refused(ActivityPublicAddress.GetState, { activityId }), 'ACTIVITY_FORBIDDEN');
    await strangerControl.close();
    // Through its own REST the stranger does not even see the agreement.
    assert.equal(
      (await status(client(stranger).requestorControl.createActivity({ agreementId }))).status,
      404,
    );
    assert.equal((await status(client(stranger).requestorState.getActivityState(activityId))).status, 404);

    // A supervisor killed with SIGKILL: the activity ends (Unresponsive, then Terminated), nothing hangs.
    const { activityId: doomed } = (await api.requestorControl.createActivity({ agreementId })) as {
      activityId: string;
    };
    await execute(api, doomed, [{ deploy: {} }, { start: {} }]);
    const waiting = api.requestorControl.getExecBatchResults(
      doomed,
      (await api.requestorControl.exec(doomed, { text: JSON.stringify([run('sleep 1002')]) })) as string,
      0,
      60,
    );
    const [supervisor] = exeUnitPids(doomed);
    assert.ok(supervisor !== undefined);
    process.kill(supervisor, 'SIGKILL');
    assert.ok(
      [500, 410, 404].includes((await status(waiting)).status),
      'the waiting poll ends with an error',
    );
    // The daemon learns of the death from the process's exit, a moment after the socket closed.
    await eventually(
      async () => (await client(provider).provider.getActivityState(doomed)).state[0] === 'Terminated',
      'the killed activity to end',
    );
    const ended = await client(provider).provider.getActivityState(doomed);
    assert.deepEqual(ended.state, ['Terminated', null]);
    assert.equal(ended.reason, 'execution error');
    assert.match(ended.errorMessage as string, /SIGKILL/);
    assert.deepEqual((await api.requestorState.getActivityState(doomed)).state, ['Terminated', null]);
    await eventually(() => processesWith('sleep 1002').length === 0, 'its runtime processes gone');

    // The daemon keeps serving: the first activity still runs commands.
    assert.equal((await first([{ deploy: {} }])).result, 'Ok');

    // The agreement's end destroys its activities, and what runs in them.
    assert.equal((await first([{ start: {} }])).result, 'Ok');
    await api.requestorControl.exec(activityId, { text: JSON.stringify([run('sleep 1004')]) });
    await eventually(() => processesWith('sleep 1004').length === 1, 'the endless command to run');
    await terminateAgreement(requestor, agreementId);
    await eventually(() => processesWith('sleep 1004').length === 0, 'the endless command to be killed');
    await eventually(
      async () => (await client(provider).provider.getActivityState(activityId)).state[0] === 'Terminated',
      'the activity to end with its agreement',
    );
    await eventually(() => exeUnitPids(activityId).length === 0, 'the ExeUnit process to end');
    await eventually(
      async () => (await api.requestorState.getActivityState(activityId)).state[0] === 'Terminated',
      'the requestor to see it',
    );
  });

  it('leaves no ExeUnit behind when the provider daemon is killed, and ends its activities on restart', async () => {
    const api = client(requestor);
    const agreement = await approvedAgreement(requestor, provider, { runtime: 'test-runtime' });
    const activityId = await readyActivity(api, agreement);
    await api.requestorControl.exec(activityId, { text: JSON.stringify([run('sleep 1003')]) });
    await eventually(() => processesWith('sleep 1003').length === 1, 'the command to run');
    await provider.kill();
    // The supervisor sees its control socket close and takes its runtime's processes with it.
    await eventually(
      () => exeUnitPids(activityId).length === 0 && processesWith('sleep 1003').length === 0,
      'the ExeUnit and its command to end with the daemon',
    );
    provider = await provider.restart();
    const after = await client(provider).provider.getActivityState(activityId);
    assert.deepEqual(after.state, ['Terminated', null]);
    assert.equal(after.reason, 'the provider daemon restarted');
    await eventually(
      async () => {
        try {
          return (await api.requestorState.getActivityState(activityId)).state[0] === 'Terminated';
        } catch {
          return false; // the requestor may need a moment to find the restarted node
        }
      },
      'the requestor to see it',
      30_000,
    );
  });
});
