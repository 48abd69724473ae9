/**
 * A VM's packets over our net: the requestor creates a network over REST (as golem-js), the provider side (this test
 * plays the ExeUnit: a VpnLink, what the supervisor calls, + the VM runtime) joins it, and the VM pings the requestor's address. Packets go
 * VM → bridge → provider daemon → libp2p → requestor daemon (which answers ping for its own address) and back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TcpProxy } from '@golem-sdk/golem-js';
import { ControlConnection } from '../../src/core/control/index.ts';
import { spawnServiceRuntime, VpnLink } from '../../src/execution/runtime-api/index.ts';
import { selfTestImage } from '../../src/execution/runtimes/vm/self-test.ts';
import {
  api,
  type DaemonHandle,
  type RelayHandle,
  startDaemon,
  startRelayProcess,
} from '../support/daemon.ts';
import { exchange, freePort } from '../support/tcp.ts';
import { deployRuntime, runCommand, runtimeArgs, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

describe('VPN packets over the net (QEMU, two daemons)', { skip }, () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vm-vpn-net-'));
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
  });
  after(async () => {
    await Promise.all([requestor, provider].map((d) => d?.stop()));
    await relay?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the VM pings the requestor's address; golem-js's TcpProxy reaches a port in the VM", async () => {
    const created = await api(requestor, '/net-api/v1/net', {
      method: 'POST',
      body: JSON.stringify({ ip: '192.168.10.0', mask: '255.255.255.0' }),
    });
    const { id: networkId } = (await created.json()) as { id: string };
    const nodes = { '192.168.10.1': requestor.nodeId, '192.168.10.2': provider.nodeId };
    for (const [ip, id] of Object.entries(nodes)) {
      const added = await api(requestor, `/net-api/v1/net/${networkId}/nodes`, {
        method: 'POST',
        body: JSON.stringify({ id, ip }),
      });
      assert.equal(added.status, 200);
    }

    // The provider's ExeUnit part (what the supervisor calls): a VPN link for the VM, through the provider's daemon.
    const control = await ControlConnection.connect(join(provider.dataDir, 'yagna.sock'));
    const link = await VpnLink.open(control, `vpn-test-${randomBytes(4).toString('hex')}`);

    const workdir = join(dir, 'vm');
    const image = selfTestImage();
    await deployRuntime(workdir, image);
    const runtime = spawnServiceRuntime(
      process.execPath,
      [...runtimeArgs(workdir, image), '--vpn-endpoint', link.endpoint, 'start'],
      { stderr: 'inherit' },
    );
    try {
      await runtime.client.hello();
      await link.join(
        runtime.client,
        [{ id: networkId, ip: '192.168.10.0', mask: '255.255.255.0', nodes, nodeIp: '192.168.10.2' }],
        requestor.nodeId,
      );
      const ping = await runCommand(runtime.client, {
        bin: '/bin/ping',
        args: ['ping', '-c', '3', '-W', '10', '192.168.10.1'],
        workDir: '',
      });
      assert.match(
        ping.stdout,
        /3 packets transmitted, 3 packets received, 0% packet loss/,
        ping.stdout + ping.stderr,
      );

      // golem-js's TcpProxy → the daemon's WebSocket → user-space TCP from 192.168.10.1 → an echo server in the VM.
      const echo = runCommand(runtime.client, {
        bin: '/bin/nc',
        args: ['nc', '-l', '-p', '8001', '-e', '/bin/cat'],
        workDir: '',
      });
      const wsUrl = `${requestor.apiUrl.replace('http', 'ws')}/net-api/v1/net/${networkId}/tcp/192.168.10.2/8001`;
      const proxy = new TcpProxy(wsUrl, requestor.appKey);
      const port = await freePort();
      await proxy.listen(port);
      try {
        const payload = randomBytes(200_000);
        let echoed: Buffer = Buffer.alloc(0);
        for (let attempt = 0; attempt < 10 && echoed.length === 0; attempt++) {
          echoed = await exchange(port, payload);
          if (echoed.length === 0) await new Promise((r) => setTimeout(r, 500)); // the listener may not be up yet
        }
        assert.equal(echoed.length, payload.length);
        assert.ok(echoed.equals(payload), 'the bytes came back unchanged');
      } finally {
        await proxy.close();
      }
      await echo;
    } finally {
      await runtime.client.shutdown().catch(() => runtime.child.kill('SIGKILL'));
      await link.close();
      await control.close();
    }
  });
});
