/**
 * The whole activity flow on the VM runtime (descriptor `vm`, service mode): a busybox GVMI image built in the
 * test, named by the demand's task_package with its sha3-224 (as golem-js names images) and served over HTTP;
 * deploy, start (QEMU boots: TCG here, KVM where it boots), run through the Runtime API, a file into a volume and
 * back, destroy (QEMU ends). Skipped only when QEMU is missing.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { activityClient, execute, readyActivity } from '../support/activity.ts';
import { approvedAgreement } from '../support/agreement.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess } from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { buildBusyboxImage, pidsWith, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

describe('an activity on the VM runtime', { skip }, () => {
  let dir: string;
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let http: Server;
  let taskPackage: string;
  const uploads = new Map<string, Buffer>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'activity-vm-'));
    const image = join(dir, 'busybox.gvmi');
    await buildBusyboxImage(
      join(dir, 'image'),
      image,
      { 'etc/greeting': 'hello from the vm\n' },
      { Env: ['PATH=/bin'], WorkingDir: '/golem/work', Volumes: { '/golem/input': {}, '/golem/output': {} } },
    );
    const bytes = readFileSync(image);
    http = createServer((request, response) => {
      if (request.method === 'PUT') {
        const parts: Buffer[] = [];
        request.on('data', (chunk: Buffer) => parts.push(chunk));
        request.on('end', () => {
          uploads.set(request.url!, Buffer.concat(parts));
          response.writeHead(201).end();
        });
      } else if (request.url === '/busybox.gvmi')
        response.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      else response.writeHead(200).end('into the vm\n');
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    taskPackage = `hash:sha3:${createHash('sha3-224').update(bytes).digest('hex')}:${base}/busybox.gvmi`;
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
  });
  after(async () => {
    http?.close();
    await Promise.all([requestor, provider].map((d) => d?.stop()));
    await relay?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('deploys the image, boots, runs, moves a file in and out, destroys', async () => {
    const agreementId = await approvedAgreement(requestor, provider, {
      runtime: 'vm',
      offer: { 'golem.inf.mem.gib': 0.25, 'golem.inf.storage.gib': 1 },
      demand: { 'golem.srv.comp.task_package': taskPackage },
    });
    const api = activityClient(requestor);
    const activityId = await readyActivity(api, agreementId);
    const base = taskPackage.slice(taskPackage.indexOf('http'), taskPackage.lastIndexOf('/'));
    const capture = { stdout: { atEnd: { format: 'str' } }, stderr: { atEnd: { format: 'str' } } };
    const results = await execute(api, activityId, [
      { run: { entry_point: '/bin/cat', args: ['/etc/greeting'], capture } },
      { transfer: { from: `${base}/in.txt`, to: 'container:/golem/input/in.txt' } },
      {
        run: {
          entry_point: '/bin/sh',
          args: ['-c', 'tr a-z A-Z < /golem/input/in.txt > /golem/output/out.txt'],
          capture,
        },
      },
      { transfer: { from: 'container:/golem/output/out.txt', to: `${base}/out.txt` } },
      { run: { entry_point: '/bin/sh', args: ['-c', 'exit 7'], capture } },
    ]);
    assert.deepEqual(
      results.map((r) => r.result),
      ['Ok', 'Ok', 'Ok', 'Ok', 'Error'],
      JSON.stringify(results),
    );
    assert.equal(results[0]!.stdout, 'hello from the vm\n');
    assert.equal(uploads.get('/out.txt')?.toString(), 'INTO THE VM\n');
    assert.equal(pidsWith(provider.dataDir).length, 1, 'one QEMU for the activity');
    await api.requestorControl.destroyActivity(activityId, 30);
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Terminated', null]);
    await eventually(() => pidsWith(provider.dataDir).length === 0, 'QEMU to end', 20_000);
  });
});
