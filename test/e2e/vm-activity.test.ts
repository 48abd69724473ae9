/**
 * The whole activity flow on the VM runtime (descriptor `vm`, found among the shipped descriptors), under the real
 * ExeUnit supervisor: an image built here, named by `task_package` with its sha3 and served by our registry, fetched
 * into the provider's image cache, deployed, started (QEMU boots), commands run in the VM, files in and out by GFTP.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RegistryServer, serveRegistry } from '../../src/execution/image/index.ts';
import { activityClient, execute, readyActivity } from '../support/activity.ts';
import {
  assertAllOk,
  CAPTURE,
  destroyActivity,
  gftpRoundTrip,
  type RelayedPair,
  startRelayedPair,
  stopRelayedPair,
} from '../support/activity-run.ts';
import { approvedAgreement } from '../support/agreement.ts';
import { tempDir } from '../support/daemon.ts';
import { buildBusyboxImage, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

describe('an activity on the VM runtime (QEMU), files by GFTP', { skip }, () => {
  let daemons: RelayedPair | undefined;
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
    daemons = await startRelayedPair();
  });
  after(async () => {
    await stopRelayedPair(daemons);
    await registry?.close();
  });

  it('deploys the image, boots the VM, runs commands, moves files by GFTP, destroys', async () => {
    const { requestor, provider } = daemons!;
    const agreementId = await approvedAgreement(requestor, provider, {
      runtime: 'vm',
      offer: { 'golem.inf.mem.gib': 0.25, 'golem.inf.storage.gib': 1 },
      demand: { 'golem.srv.comp.task_package': taskPackage },
    });
    const api = activityClient(requestor);
    const activityId = await readyActivity(api, agreementId);

    const files = await gftpRoundTrip(requestor);
    const results = await execute(api, activityId, [
      { transfer: { from: files.from, to: 'container:/golem/input/in.txt' } },
      { run: { entry_point: '/bin/cat', args: ['/etc/greeting'], capture: CAPTURE } },
      {
        run: {
          entry_point: '/bin/sh',
          args: ['-c', 'pwd; tr a-z A-Z < /golem/input/in.txt > /golem/output/out.txt'],
          capture: CAPTURE,
        },
      },
      { transfer: { from: 'container:/golem/output/out.txt', to: files.to } },
    ]);
    assertAllOk(results, 4);
    assert.equal(results[1]!.stdout, 'hello from the VM\n');
    assert.equal(results[2]!.stdout, '/golem/work\n');
    await files.upperCasedBack();
    await destroyActivity(api, activityId, 60);
  });
});
