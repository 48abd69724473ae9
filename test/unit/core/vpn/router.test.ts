/**
 * Who may put packets into a member's network: only the node holding the packet's source address (as the member
 * knows the network), within a per-peer rate. Three in-process nodes on a MemoryNetwork (a unit test of one module).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBus, MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { VpnLocalAddress, VpnPublicAddress, vpnAddressAt } from '../../../../src/core/model/vpn.ts';
import { VpnService } from '../../../../src/core/vpn/index.ts';

const REQUESTOR = '0x00000000000000000000000000000000000000a1';
const PROVIDER = '0x00000000000000000000000000000000000000b2';
const STRANGER = '0x00000000000000000000000000000000000000c3';

function node(id: string): LocalBus {
  const bus = new LocalBus();
  bus.setNodeIds(id);
  return bus;
}

/** ICMP echo request from `source` to `destination` (checksums are not checked on the way). */
function ping(source: number[], destination: number[]): string {
  const p = Buffer.alloc(28);
  p[0] = 0x45;
  p.writeUInt16BE(28, 2);
  p[8] = 64;
  p[9] = 1;
  Buffer.from(source).copy(p, 12);
  Buffer.from(destination).copy(p, 16);
  p[20] = 8;
  return p.toString('base64');
}

/**
 * A requestor's network 10.0.0.0/24 (itself .1, the provider .2) and the provider's VM joined at .2; packets for the
 * VM are collected. A third node, STRANGER, is on the same bus network.
 */
async function joinedNetwork() {
  const net = new MemoryNetwork();
  const [requestor, provider, stranger] = [node(REQUESTOR), node(PROVIDER), node(STRANGER)];
  for (const bus of [requestor, provider, stranger]) net.join(bus);
  const requestorVpn = new VpnService({ bus: requestor, logger: silentLogger });
  const providerVpn = new VpnService({ bus: provider, logger: silentLogger });
  await requestorVpn.start();
  await providerVpn.start();
  const network = requestorVpn.networks.create(REQUESTOR, { ip: '10.0.0.0/24' });
  requestorVpn.networks.addNode(REQUESTOR, network.id, { id: REQUESTOR, ip: '10.0.0.1' });
  requestorVpn.networks.addNode(REQUESTOR, network.id, { id: PROVIDER, ip: '10.0.0.2' });
  const delivered: Buffer[] = [];
  provider.bind('/local/exeunit/vm/VpnPacket', (m: { packet: string }) => {
    delivered.push(Buffer.from(m.packet, 'base64'));
    return {};
  });
  await provider.call(VpnLocalAddress.Join, {
    networkId: network.id,
    ip: '10.0.0.2',
    nodes: { '10.0.0.1': REQUESTOR, '10.0.0.2': PROVIDER },
    deliverTo: '/local/exeunit/vm/VpnPacket',
    requestorId: REQUESTOR,
  });
  const stop = async () => {
    await requestorVpn.stop();
    await providerVpn.stop();
  };
  return { requestorVpn, provider, stranger, networkId: network.id, delivered, stop };
}

describe('VPN router', () => {
  it('delivers from the holder of the source address, refuses a stranger and a spoofed source (403)', async () => {
    const net = new MemoryNetwork();
    const [requestor, provider, stranger] = [node(REQUESTOR), node(PROVIDER), node(STRANGER)];
    for (const bus of [requestor, provider, stranger]) net.join(bus);
    const service = new VpnService({ bus: provider, logger: silentLogger });
    await service.start();
    const delivered: string[] = [];
    provider.bind('/local/exeunit/x/VpnPacket', (m: { packet: string }) => {
      delivered.push(m.packet);
      return {};
    });
    const nodes = { '10.0.0.1': REQUESTOR, '10.0.0.2': PROVIDER, '10.0.0.3': STRANGER };
    await provider.call(VpnLocalAddress.Join, {
      networkId: 'n1',
      ip: '10.0.0.2',
      nodes,
      deliverTo: '/local/exeunit/x/VpnPacket',
    });

    const to = vpnAddressAt(PROVIDER, VpnPublicAddress.Packet);
    const fromRequestor = ping([10, 0, 0, 1], [10, 0, 0, 2]);
    await requestor.call(to, { networkId: 'n1', packet: fromRequestor });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(delivered, [fromRequestor]);

    // The stranger holds 10.0.0.3, not 10.0.0.1: a packet claiming .1 is refused.
    await assert.rejects(stranger.call(to, { networkId: 'n1', packet: ping([10, 0, 0, 1], [10, 0, 0, 2]) }), {
      code: 'VPN_FORBIDDEN',
    });
    // No member at that address, another network, not IPv4.
    await assert.rejects(
      requestor.call(to, { networkId: 'n1', packet: ping([10, 0, 0, 1], [10, 0, 0, 9]) }),
      {
        code: 'VPN_NOT_FOUND',
      },
    );
    await assert.rejects(requestor.call(to, { networkId: 'n2', packet: fromRequestor }), {
      code: 'VPN_NOT_FOUND',
    });
    await assert.rejects(requestor.call(to, { networkId: 'n1', packet: 'AAAA' }), {
      code: 'VPN_BAD_REQUEST',
    });
    assert.equal(delivered.length, 1);
    await service.stop();
  });

  it("the requestor's node answers ping for its own address; the reply goes back to the sender's node", async () => {
    const { provider, networkId, delivered, stop } = await joinedNetwork();
    await provider.call(VpnLocalAddress.Send, { networkId, packet: ping([10, 0, 0, 2], [10, 0, 0, 1]) });
    for (let i = 0; i < 50 && delivered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(delivered.length, 1);
    const reply = delivered[0]!;
    assert.deepEqual([...reply.subarray(12, 16)], [10, 0, 0, 1]);
    assert.deepEqual([...reply.subarray(16, 20)], [10, 0, 0, 2]);
    assert.equal(reply[20], 0); // echo reply
    await stop();
  });

  it("nodes added later reach a running member through the requestor's node map; nobody else may change it", async () => {
    const { requestorVpn, stranger, networkId, delivered, stop } = await joinedNetwork();
    const to = vpnAddressAt(PROVIDER, VpnPublicAddress.Packet);
    const fromLate = ping([10, 0, 0, 3], [10, 0, 0, 2]);
    await assert.rejects(stranger.call(to, { networkId, packet: fromLate }), { code: 'VPN_FORBIDDEN' });
    // Only the agreement's requestor may hand out a node map.
    await assert.rejects(
      stranger.call(vpnAddressAt(PROVIDER, VpnPublicAddress.Nodes), {
        networkId,
        nodes: { '10.0.0.3': STRANGER },
      }),
      { code: 'VPN_FORBIDDEN' },
    );
    requestorVpn.networks.addNode(REQUESTOR, networkId, { id: STRANGER, ip: '10.0.0.3' });
    requestorVpn.announceNodes(REQUESTOR, networkId);
    for (let i = 0; i < 50; i++) {
      const accepted = await stranger.call(to, { networkId, packet: fromLate }).then(
        () => true,
        () => false,
      );
      if (accepted) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(delivered, [Buffer.from(fromLate, 'base64')]);
    await stop();
  });
});
