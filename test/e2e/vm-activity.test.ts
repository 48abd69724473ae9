/**
 * The whole activity flow on the VM runtime (descriptor `vm`, found among the shipped descriptors), under the real
 * ExeUnit supervisor: an image built here, named by `task_package` with its sha3 and served by our registry, fetched
 * into the provider's image cache, deployed, started (QEMU boots), commands run in the VM, files in and out by GFTP.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ControlConnection } from '../../src/core/control/index.ts';
import { GftpLocalAddress, type GftpPublished } from '../../src/core/model/gftp.ts';
import { type RegistryServer, serveRegistry } from '../../src/execution/image/index.ts';
import { activityClient, execute, readyActivity } from '../support/activity.ts';
import { approvedAgreement } from '../support/agreement.ts';
import {
  type DaemonHandle,
  type RelayHandle,
  startDaemon,
  startRelayProcess,
  tempDir,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { buildBusyboxImage, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

describe('an activity on the VM runtime (QEMU), files by GFTP', { skip }, () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let registry: RegistryServer;
  let taskPackage: string;

  before(async () => {
    const folder = tempDir('vm-activity-');
    const { hash } = await buildBusyboxImage(
      join(folder, 'build'),
      join(folder, 'image.gvmi'),
      { 'etc/greeting': 'hello from the VM\n' },
      { Env: ['PATH=/bin'], WorkingDir: '/golem/work', Volumes: { '/golem/input': {}, '/golem/output': {} } },
    );
    registry = await serveRegistry(folder);
    taskPackage = `hash:sha3:${hash}:${registry.url}/download/${hash}`;
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
  });
  after(async () => {
    await Promise.all([requestor, provider].map((d) => d?.stop()));
    await relay?.stop();
    await registry?.close();
  });

  it('deploys the image, boots the VM, runs commands, moves files by GFTP, destroys', async () => {
    const agreementId = await approvedAgreement(requestor, provider, {
      runtime: 'vm',
      offer: { 'golem.inf.mem.gib': 0.25, 'golem.inf.storage.gib': 1 },
      demand: { 'golem.srv.comp.task_package': taskPackage },
    });
    const api = activityClient(requestor);
    const activityId = await readyActivity(api, agreementId);

    const control = await ControlConnection.connect(join(requestor.dataDir, 'yagna.sock'));
    const input = join(tempDir('vm-e2e-'), 'in.txt');
    writeFileSync(input, 'quiet words\n');
    const [published] = await control.call<GftpPublished>(GftpLocalAddress.Publish, { paths: [input] });
    const output = join(tempDir('vm-e2e-'), 'out.txt');
    const [receiver] = await control.call<GftpPublished>(GftpLocalAddress.Receive, { path: output });
    const capture = { stdout: { atEnd: { format: 'str' } }, stderr: { atEnd: { format: 'str' } } };
    const results = await execute(api, activityId, [
      { transfer: { from: published!.url, to: 'container:/golem/input/in.txt' } },
      { run: { entry_point: '/bin/cat', args: ['/etc/greeting'], capture } },
      {
        run: {
          entry_point: '/bin/sh',
          args: ['-c', 'pwd; tr a-z A-Z < /golem/input/in.txt > /golem/output/out.txt'],
          capture,
        },
      },
      { transfer: { from: 'container:/golem/output/out.txt', to: receiver!.url } },
    ]);
    assert.deepEqual(
      results.map((r) => r.result),
      ['Ok', 'Ok', 'Ok', 'Ok'],
      JSON.stringify(results),
    );
    assert.equal(results[1]!.stdout, 'hello from the VM\n');
    assert.equal(results[2]!.stdout, '/golem/work\n');
    await eventually(() => {
      try {
        return readFileSync(output, 'utf8') === 'QUIET WORDS\n';
      } catch {
        return false;
      }
    }, 'the upper-cased file on the requestor');
    await control.close();
    await api.requestorControl.destroyActivity(activityId, 60);
    assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Terminated', null]);
  });
});
