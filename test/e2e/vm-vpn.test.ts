/**
 * The VM runtime's side of the VPN: two VMs started with `--vpn-endpoint`, configured by CreateNetwork, exchange
 * Ethernet frames through a UDP hub standing where the supervisor's VPN bridge stands; ping and TCP between them.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NetworkInterface, spawnServiceRuntime } from '../../src/execution/runtime-api/index.ts';
import { selfTestImage } from '../../src/execution/runtimes/vm/self-test.ts';
import { deployRuntime, runCommand, runtimeArgs, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

describe('VM runtime VPN (QEMU)', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vm-vpn-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('two VMs on one network ping each other and talk TCP; frames go only through the endpoint the runtime returned', async () => {
    const image = selfTestImage();
    // The hub: forwards every frame to the other VM's endpoint (what the supervisor's bridge does over the net).
    const hub = createSocket('udp4');
    await new Promise<void>((r) => hub.bind(0, '127.0.0.1', r));
    const endpoints: string[] = [];
    let frames = 0;
    hub.on('message', (frame, from) => {
      frames++;
      for (const to of endpoints) {
        const [host, port] = to.split(':');
        if (Number(port) !== from.port) hub.send(frame, Number(port), host);
      }
    });
    const vpnEndpoint = `udp://127.0.0.1:${hub.address().port}`;
    const network = { addr: '192.168.8.0', mask: '255.255.255.0', gateway: '', ifAddr: '' };
    const hosts = { '192.168.8.2': 'vm-a', '192.168.8.3': 'vm-b' };
    // Runtimes are kept as they start, so a boot that fails still shuts down the other one and the hub.
    const runtimes: ReturnType<typeof spawnServiceRuntime>[] = [];
    try {
      await Promise.all(
        ['192.168.8.2', '192.168.8.3'].map(async (ip, i) => {
          const workdir = join(dir, `vm${i}`);
          await deployRuntime(workdir, image);
          const runtime = spawnServiceRuntime(
            process.execPath,
            [...runtimeArgs(workdir, image), '--vpn-endpoint', vpnEndpoint, 'start'],
            { stderr: 'ignore' },
          );
          runtimes.push(runtime);
          await runtime.client.hello();
          const endpoint = await runtime.client.createNetwork({
            networks: [{ ...network, ifAddr: ip }],
            hosts,
            interface: NetworkInterface.Vpn,
          });
          assert.equal(endpoint?.kind, 'udpDatagram');
          endpoints.push(endpoint!.address);
          return runtime;
        }),
      ).then((started) => {
        runtimes.splice(0, runtimes.length, ...started);
      });
      const [a, b] = runtimes as [(typeof runtimes)[0], (typeof runtimes)[0]];
      const ping = await runCommand(a.client, {
        bin: '/bin/ping',
        args: ['ping', '-c', '3', '-W', '5', 'vm-b'],
        workDir: '',
      });
      assert.equal(ping.code, 0, ping.stdout + ping.stderr);
      assert.match(ping.stdout, /3 packets transmitted, 3 packets received, 0% packet loss/);

      // TCP: a server in VM b, a client in VM a.
      const server = runCommand(b.client, {
        bin: '/bin/sh',
        args: ['sh', '-c', 'echo "hello over the vpn" | nc -l -p 7000'],
        workDir: '',
      });
      let reply = '';
      for (let attempt = 0; attempt < 10 && !reply.includes('hello'); attempt++) {
        const client = await runCommand(a.client, {
          bin: '/bin/sh',
          args: ['sh', '-c', 'nc 192.168.8.3 7000 </dev/null'],
          workDir: '',
        });
        reply = client.stdout;
        if (!reply.includes('hello')) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(reply, 'hello over the vpn\n');
      assert.equal((await server).code, 0);
      assert.ok(frames > 0);

      // INET networks (outbound through the provider) are not served: BAD_REQUEST.
      await assert.rejects(
        a.client.createNetwork({ networks: [network], hosts: {}, interface: NetworkInterface.Inet }),
        /only VPN networks/,
      );
    } finally {
      for (const r of runtimes) await r.client.shutdown().catch(() => r.child.kill('SIGKILL'));
      hub.close();
    }
  });
});
