/**
 * What an ExeUnit does for a service runtime that has the `vpn` capability (Golem's supervisor does the same):
 * `open` binds the UDP socket whose address is the runtime's `--vpn-endpoint`; after `start`, `join` takes the
 * Deploy command's `net` entries, joins each network on the daemon (packets for this VM come to an address the
 * ExeUnit binds), sends the runtime CreateNetwork and connects the bridge to the endpoint the runtime answers.
 */
import { randomBytes } from 'node:crypto';
import type { ControlConnection } from '../../core/control/index.ts';
import type { DeployNetwork } from '../../core/model/exescript.ts';
import { type VpnJoin, VpnLocalAddress, type VpnPacket } from '../../core/model/vpn.ts';
import { VpnBridge } from '../../core/vpn/index.ts';
import type { RuntimeClient } from './client.ts';
import { NetworkInterface } from './messages.ts';

export type { DeployNetwork };

export class VpnLink {
  readonly endpoint: string;
  readonly #control: ControlConnection;
  readonly #bridge: VpnBridge;
  readonly #deliverTo: string;
  #networks: DeployNetwork[] = [];

  private constructor(control: ControlConnection, bridge: VpnBridge, endpoint: string, deliverTo: string) {
    this.#control = control;
    this.#bridge = bridge;
    this.endpoint = endpoint;
    this.#deliverTo = deliverTo;
  }

  /** `scope` names the ExeUnit (its activity id): the bound address is `/local/exeunit/<scope>/vpn-<random>`. */
  static async open(control: ControlConnection, scope: string): Promise<VpnLink> {
    let link: VpnLink | undefined;
    const bridge = new VpnBridge({
      owns: (ip) => link?.owns(ip) ?? false,
      onPacket: (_destination, packet) => link?.send(packet),
    });
    const endpoint = await bridge.bind();
    const deliverTo = `/local/exeunit/${scope}/vpn-${randomBytes(4).toString('hex')}`;
    link = new VpnLink(control, bridge, endpoint, deliverTo);
    await control.bind(deliverTo, async (message) => {
      bridge.deliver(Buffer.from((message as VpnPacket).packet, 'base64'));
      return {};
    });
    return link;
  }

  owns(ip: string): boolean {
    return this.#networks.some((n) => ip in n.nodes && ip !== n.nodeIp);
  }

  send(packet: Buffer): void {
    const network = this.#networks.find((n) => {
      const source = `${packet[12]}.${packet[13]}.${packet[14]}.${packet[15]}`;
      return source === n.nodeIp;
    });
    if (!network) return;
    void this.#control
      .call(VpnLocalAddress.Send, {
        networkId: network.id,
        packet: packet.toString('base64'),
      } satisfies VpnPacket)
      .catch(() => {});
  }

  /**
   * After the runtime started: join every network, configure the VM, start carrying frames. `requestorId` is the
   * agreement's requestor, the only node whose later node maps are taken.
   */
  async join(runtime: RuntimeClient, networks: DeployNetwork[], requestorId: string): Promise<void> {
    for (const n of networks) {
      await this.#control.call(VpnLocalAddress.Join, {
        networkId: n.id,
        ip: n.nodeIp,
        nodes: n.nodes,
        deliverTo: this.#deliverTo,
        requestorId,
      } satisfies VpnJoin);
    }
    this.#networks = networks;
    const hosts = Object.fromEntries(networks.flatMap((n) => Object.entries(n.nodes)));
    const endpoint = await runtime.createNetwork({
      networks: networks.map((n) => ({
        addr: n.ip,
        mask: n.mask,
        gateway: n.gateway ?? '',
        ifAddr: n.nodeIp,
      })),
      hosts,
      interface: NetworkInterface.Vpn,
    });
    if (endpoint?.kind !== 'udpDatagram')
      throw new Error(`the runtime answered no UDP endpoint (${endpoint?.kind})`);
    this.#bridge.connectRuntime(endpoint.address);
  }

  async close(): Promise<void> {
    for (const n of this.#networks) {
      await this.#control.call(VpnLocalAddress.Leave, { networkId: n.id, ip: n.nodeIp }).catch(() => {});
    }
    await this.#control.unbind(this.#deliverTo).catch(() => {});
    this.#bridge.close();
  }
}
