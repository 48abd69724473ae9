/**
 * The VPN through the real ExeUnit supervisor, as golem-js drives it: the requestor creates a network over REST,
 * adds its own address and two providers' nodes, and deploys each activity with `deploy.net`; each provider's
 * supervisor opens a VPN link, boots the VM with `--vpn-endpoint` and joins it. Nothing in this test plays the
 * supervisor. VM A reaches a TCP server in VM B, golem-js's TcpProxy reaches another port of VM B, and a node outside
 * the agreement cannot put packets into VM B while the requestor can.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TcpProxy } from '@golem-sdk/golem-js';
import { ControlConnection } from '../../src/core/control/index.ts';
import { VpnPublicAddress, vpnAddressAt } from '../../src/core/model/vpn.ts';
import { type RegistryServer, serveRegistry } from '../../src/execution/image/index.ts';
import { activityClient, execute, type Result } from '../support/activity.ts';
import { approvedAgreement } from '../support/agreement.ts';
import {
  api,
  type DaemonHandle,
  type RelayHandle,
  startDaemon,
  startRelayProcess,
  tempDir,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { exchange, freePort } from '../support/tcp.ts';
import { buildBusyboxImage, vmPrerequisites } from '../support/vm.ts';

const skip = vmPrerequisites();

const NETWORK = '192.168.20.0';
const MASK = '255.255.255.0';
const REQUESTOR_IP = '192.168.20.1';
const A_IP = '192.168.20.2';
const B_IP = '192.168.20.3';
const capture = { stdout: { atEnd: { format: 'str' } }, stderr: { atEnd: { format: 'str' } } };

function ipChecksum(header: Buffer): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += header.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4/UDP packet (UDP checksum 0: none, allowed over IPv4). */
function udpPacket(source: string, destination: string, port: number, payload: string): Buffer {
  const data = Buffer.from(payload);
  const packet = Buffer.alloc(28 + data.length);
  packet[0] = 0x45;
  packet.writeUInt16BE(packet.length, 2);
  packet[8] = 64;
  packet[9] = 17;
  for (const [offset, ip] of [
    [12, source],
    [16, destination],
  ] as const)
    ip.split('.').forEach((octet, i) => {
      packet[offset + i] = Number(octet);
    });
  packet.writeUInt16BE(ipChecksum(packet.subarray(0, 20)), 10);
  packet.writeUInt16BE(40000, 20);
  packet.writeUInt16BE(port, 22);
  packet.writeUInt16BE(8 + data.length, 24);
  data.copy(packet, 28);
  return packet;
}

describe('VPN between two providers’ VMs through the ExeUnit supervisor (QEMU, three daemons)', {
  skip,
}, () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let providerA: DaemonHandle;
  let providerB: DaemonHandle;
  let stranger: DaemonHandle;
  let registry: RegistryServer;
  let taskPackage: string;

  before(async () => {
    const folder = tempDir('vm-vpn-activity-');
    const { hash } = await buildBusyboxImage(
      join(folder, 'build'),
      join(folder, 'image.gvmi'),
      {},
      { Env: ['PATH=/bin'], WorkingDir: '/' },
    );
    registry = await serveRegistry(folder);
    taskPackage = `hash:sha3:${hash}:${registry.url}/download/${hash}`;
    relay = await startRelayProcess();
    // Four daemons start at once beside two VM boots of other files: more than the default 30 s under load.
    const options = { env: { YA_NET_RELAY: relay.addresses[0]! }, timeoutMs: 120_000 };
    const daemons = await Promise.all(Array.from({ length: 4 }, () => startDaemon(options)));
    [requestor, providerA, providerB, stranger] = daemons as [
      DaemonHandle,
      DaemonHandle,
      DaemonHandle,
      DaemonHandle,
    ];
  });
  after(async () => {
    await Promise.all([requestor, providerA, providerB, stranger].map((d) => d?.stop()));
    await relay?.stop();
    await registry?.close();
  });

  it('VM A reaches a TCP server in VM B; TcpProxy reaches VM B; a stranger cannot inject packets', async () => {
    const agreement = (provider: DaemonHandle) =>
      approvedAgreement(requestor, provider, {
        runtime: 'vm',
        offer: {
          'golem.inf.mem.gib': 0.25,
          'golem.inf.storage.gib': 1,
          'golem.runtime.capabilities': ['vpn'],
        },
        demand: { 'golem.srv.comp.task_package': taskPackage },
      });
    const [agreementA, agreementB] = await Promise.all([agreement(providerA), agreement(providerB)]);

    const created = await api(requestor, '/net-api/v1/net', {
      method: 'POST',
      body: JSON.stringify({ ip: NETWORK, mask: MASK }),
    });
    assert.ok(created.ok, await created.clone().text());
    const { id: networkId } = (await created.json()) as { id: string };
    const nodes = { [REQUESTOR_IP]: requestor.nodeId, [A_IP]: providerA.nodeId, [B_IP]: providerB.nodeId };
    for (const [ip, id] of Object.entries(nodes)) {
      const added = await api(requestor, `/net-api/v1/net/${networkId}/nodes`, {
        method: 'POST',
        body: JSON.stringify({ id, ip }),
      });
      assert.equal(added.status, 200);
    }

    const client = activityClient(requestor);
    const create = async (agreementId: string) =>
      ((await client.requestorControl.createActivity({ agreementId })) as { activityId: string }).activityId;
    const [activityA, activityB] = await Promise.all([create(agreementA), create(agreementB)]);
    // Both VMs boot at once (each boot is ~15 s under software emulation).
    const deployed = await Promise.all(
      [
        [activityA, A_IP],
        [activityB, B_IP],
      ].map(([activityId, nodeIp]) =>
        execute(client, activityId!, [
          { deploy: { net: [{ id: networkId, ip: NETWORK, mask: MASK, nodes, nodeIp }] } },
          { start: {} },
        ]),
      ),
    );
    for (const results of deployed)
      assert.deepEqual(
        results.map((r) => r.result),
        ['Ok', 'Ok'],
        JSON.stringify(results),
      );

    // Servers in VM B, left running in the background (an activity runs one command at a time): an echo on 7000
    // (for VM A) and an echo on 7001 (for TcpProxy).
    const servers = await execute(client, activityB, [
      {
        run: {
          entry_point: '/bin/sh',
          args: [
            '-c',
            'nc -l -p 7000 -e /bin/cat </dev/null >/dev/null 2>&1 & ' +
              'nc -l -p 7001 -e /bin/cat </dev/null >/dev/null 2>&1 & ' +
              'true',
          ],
          capture,
        },
      },
    ]);
    assert.equal(servers[0]?.result, 'Ok', JSON.stringify(servers));

    // VM A → VM B over TCP (retried until B's listener is up; a refused connect does not use it up).
    const fromA = await execute(client, activityA, [
      {
        run: {
          entry_point: '/bin/sh',
          args: [
            '-c',
            `for i in $(seq 30); do out=$(echo hello-from-A | nc -w 3 ${B_IP} 7000); ` +
              '[ -n "$out" ] && echo "$out" && exit 0; sleep 1; done; exit 1',
          ],
          capture,
        },
      },
    ]);
    assert.equal(fromA[0]?.result, 'Ok', JSON.stringify(fromA));
    assert.equal(fromA[0]?.stdout, 'hello-from-A\n');

    // golem-js's TcpProxy → the requestor's WebSocket → user-space TCP from 192.168.20.1 → VM B.
    const proxy = new TcpProxy(
      `${requestor.apiUrl.replace('http', 'ws')}/net-api/v1/net/${networkId}/tcp/${B_IP}/7001`,
      requestor.appKey,
    );
    const port = await freePort();
    await proxy.listen(port);
    try {
      const payload = randomBytes(50_000);
      let echoed: Buffer = Buffer.alloc(0);
      for (let attempt = 0; attempt < 10 && echoed.length === 0; attempt++) {
        echoed = await exchange(port, payload);
        if (echoed.length === 0) await new Promise((r) => setTimeout(r, 500));
      }
      assert.equal(echoed.length, payload.length);
      assert.ok(echoed.equals(payload), 'the bytes came back unchanged');
    } finally {
      await proxy.close();
    }

    // Packets straight onto provider B's router, UDP to a closed port of VM B (its kernel counts them as `Udp:
    // NoPorts` in /proc/net/snmp; busybox has no UDP server): the requestor's (it holds 192.168.20.1) arrive; a
    // stranger's claiming the same source are refused and never reach the VM.
    const requestorControl = await ControlConnection.connect(join(requestor.dataDir, 'yagna.sock'));
    const strangerControl = await ControlConnection.connect(join(stranger.dataDir, 'yagna.sock'));
    const toB = vpnAddressAt(providerB.nodeId, VpnPublicAddress.Packet);
    const packet = { networkId, packet: udpPacket(REQUESTOR_IP, B_IP, 9000, 'hello').toString('base64') };
    const udpNoPorts = async () => {
      const [result] = (await execute(client, activityB, [
        {
          run: {
            entry_point: '/bin/sh',
            args: ['-c', "grep '^Udp:' /proc/net/snmp | tail -1 | cut -d' ' -f3"],
            capture,
          },
        },
      ])) as Result[];
      return Number(String(result?.stdout).trim());
    };
    try {
      const before = await udpNoPorts();
      assert.ok(Number.isInteger(before), `Udp NoPorts of VM B: ${before}`);
      for (let i = 0; i < 3; i++) await requestorControl.call(toB, packet);
      await eventually(
        async () => (await udpNoPorts()) >= before + 3,
        'the requestor’s packets in VM B',
        60_000,
      );
      for (let i = 0; i < 5; i++)
        await assert.rejects(strangerControl.call(toB, packet), (error: Error) =>
          /does not hold 192\.168\.20\.1/.test(error.message),
        );
      for (let i = 0; i < 3; i++) await requestorControl.call(toB, packet);
      await eventually(async () => (await udpNoPorts()) >= before + 6, 'the later packets in VM B', 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(await udpNoPorts(), before + 6, 'the requestor’s six packets and none of the stranger’s');
    } finally {
      await requestorControl.close();
      await strangerControl.close();
    }

    await Promise.all([activityA, activityB].map((id) => client.requestorControl.destroyActivity(id, 60)));
  });
});
