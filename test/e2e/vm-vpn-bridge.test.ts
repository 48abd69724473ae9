/**
 * VM-to-VM traffic routed at the IP level, as Golem's supervisors do it: each VM's Ethernet link ends in a VpnBridge
 * that answers ARP for the network's addresses and hands IPv4 packets on; here the packets go from one bridge to
 * the other directly (between nodes they travel over the net).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VpnBridge } from '../../src/core/vpn/index.ts';
import {
  NetworkInterface,
  type SpawnedRuntime,
  spawnServiceRuntime,
} from '../../src/execution/runtime-api/index.ts';
import { selfTestImage } from '../../src/execution/runtimes/vm/self-test.ts';
import { deployRuntime, runCommand, runtimeArgs, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

describe('VM-to-VM over VPN bridges (QEMU)', { skip }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vm-bridge-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ARP answered by the bridge, IPv4 routed by address: ping and TCP between two VMs', async () => {
    const image = selfTestImage();
    const nodes: Record<string, string> = {
      '192.168.9.1': 'requestor',
      '192.168.9.2': 'a',
      '192.168.9.3': 'b',
    };
    const bridges = new Map<string, VpnBridge>();
    let routed = 0;
    for (const ip of ['192.168.9.2', '192.168.9.3']) {
      bridges.set(
        ip,
        new VpnBridge({
          owns: (other) => other in nodes && other !== ip,
          onPacket: (destination, packet) => {
            routed++;
            bridges.get(destination)?.deliver(packet);
          },
        }),
      );
    }
    const runtimes: SpawnedRuntime[] = [];
    try {
      const [clientVm, serverVm] = await Promise.all(
        [...bridges].map(async ([ip, bridge], i) => {
          const workdir = join(dir, `vm${i}`);
          await deployRuntime(workdir, image);
          const runtime = spawnServiceRuntime(
            process.execPath,
            [...runtimeArgs(workdir, image), '--vpn-endpoint', await bridge.bind(), 'start'],
            { stderr: 'ignore' },
          );
          runtimes.push(runtime);
          await runtime.client.hello();
          const endpoint = await runtime.client.createNetwork({
            networks: [{ addr: '192.168.9.0', mask: '255.255.255.0', gateway: '', ifAddr: ip }],
            hosts: { '192.168.9.2': 'vm-a', '192.168.9.3': 'vm-b' },
            interface: NetworkInterface.Vpn,
          });
          bridge.connectRuntime(endpoint!.address);
          return runtime;
        }),
      );
      const serverIp = '192.168.9.3';
      const ping = await runCommand(clientVm!.client, {
        bin: '/bin/ping',
        args: ['ping', '-c', '3', '-W', '5', serverIp],
        workDir: '',
      });
      assert.match(
        ping.stdout,
        /3 packets transmitted, 3 packets received, 0% packet loss/,
        ping.stdout + ping.stderr,
      );
      // The address nobody holds gets no ARP answer: no route there.
      const nobody = await runCommand(clientVm!.client, {
        bin: '/bin/ping',
        args: ['ping', '-c', '1', '-W', '2', '192.168.9.77'],
        workDir: '',
      });
      assert.notEqual(nobody.code, 0);

      const server = runCommand(serverVm!.client, {
        bin: '/bin/sh',
        args: ['sh', '-c', 'echo "routed hello" | nc -l -p 7001'],
        workDir: '',
      });
      let reply = '';
      for (let attempt = 0; attempt < 10 && !reply.includes('routed'); attempt++) {
        reply = (
          await runCommand(clientVm!.client, {
            bin: '/bin/sh',
            args: ['sh', '-c', `nc ${serverIp} 7001 </dev/null`],
            workDir: '',
          })
        ).stdout;
        if (!reply.includes('routed')) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(reply, 'routed hello\n');
      assert.equal((await server).code, 0);
      assert.ok(routed > 0);
    } finally {
      for (const r of runtimes) await r.client.shutdown().catch(() => r.child.kill('SIGKILL'));
      for (const bridge of bridges.values()) bridge.close();
    }
  });
});
