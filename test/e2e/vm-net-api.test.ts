/** The daemon's net-api (yagna's `/net-api/v1` and `/net-api/v2/vpn`) through ya-ts-client, with golem-js's calls. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetApi } from 'ya-ts-client';
import { api, type DaemonHandle, startDaemon } from '../support/daemon.ts';

describe('net-api (VPN networks)', () => {
  let daemon: DaemonHandle;
  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon.stop();
    daemon.cleanup();
  });

  for (const prefix of ['/net-api/v1', '/net-api/v2/vpn']) {
    it(`${prefix}: create, add nodes, list, remove — as golem-js does it`, async () => {
      const client = new NetApi.Client({ BASE: `${daemon.apiUrl}${prefix}`, TOKEN: daemon.appKey }).requestor;
      const network = await client.createNetwork({ ip: '192.168.7.0', mask: '255.255.255.0' });
      assert.deepEqual({ ip: network.ip, mask: network.mask }, { ip: '192.168.7.0', mask: '255.255.255.0' });
      await client.addNode(network.id, { id: daemon.nodeId, ip: '192.168.7.1' });
      const provider = '0x00000000000000000000000000000000000000c3';
      await client.addNode(network.id, { id: provider, ip: '192.168.7.2' });
      assert.deepEqual(await client.getNodes(network.id), [
        { id: daemon.nodeId, ip: '192.168.7.1' },
        { id: provider, ip: '192.168.7.2' },
      ]);
      assert.ok((await client.getNetworks()).some((n) => n.id === network.id));
      assert.deepEqual(await client.getNetwork(network.id), network);

      const taken = await api(daemon, `${prefix}/net/${network.id}/nodes`, {
        method: 'POST',
        body: JSON.stringify({ id: '0x00000000000000000000000000000000000000d4', ip: '192.168.7.2' }),
      });
      assert.equal(taken.status, 409);
      assert.equal(((await taken.json()) as { code: string }).code, 'VPN_CONFLICT');
      const bad = await api(daemon, `${prefix}/net`, {
        method: 'POST',
        body: JSON.stringify({ ip: '192.168.7.0/40' }),
      });
      assert.equal(bad.status, 400);
      const tcp = await api(daemon, `${prefix}/net/${network.id}/tcp/192.168.7.2/22`);
      assert.equal(tcp.status, 501);

      await client.removeNode(network.id, provider);
      assert.deepEqual(await client.getNodes(network.id), [{ id: daemon.nodeId, ip: '192.168.7.1' }]);
      await client.removeNetwork(network.id);
      assert.equal((await api(daemon, `${prefix}/net/${network.id}`)).status, 404);
    });
  }
});
