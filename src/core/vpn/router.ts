/**
 * Carries a network's IPv4 packets between nodes. Members on this node: VMs that joined (through their ExeUnit) and,
 * on the requestor's node, the owner's own addresses (which answer ping, as yagna's do). A packet from another node
 * is accepted only when that node holds the packet's source address in the member's view of the network, and each
 * peer gets a bounded number of packets per second.
 */
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import type { Logger } from '../log/index.ts';
import {
  type VpnJoin,
  type VpnLeave,
  VpnLocalAddress,
  type VpnNodes,
  type VpnPacket,
  VpnPublicAddress,
  vpnAddressAt,
} from '../model/vpn.ts';
import { vpnError } from './errors.ts';
import { echoReply, ipv4Addresses } from './ipv4.ts';
import { type NetworkRegistry, VPN_LIMITS } from './networks.ts';
import { parseTcp, TcpClient } from './tcp.ts';

export const VPN_PEER_PACKETS_PER_SECOND = 5000;
export const VPN_TCP_CONNECTIONS_PER_NETWORK = 256;
const MAX_PACKET_BASE64 = 88_000; // 64 KiB of packet

interface Member {
  nodes: Record<string, string>;
  requestorId?: string;
  deliver(packet: Buffer): void;
}

export class VpnRouter {
  readonly #bus: Bus;
  readonly #networks: NetworkRegistry;
  readonly #log: Logger;
  readonly #joined = new Map<string, Member>();
  readonly #rate = new Map<string, { second: number; count: number }>();
  /** The owner's TCP connections, by `network|remote ip|remote port|local port`. */
  readonly #tcp = new Map<string, TcpClient>();
  #unbinds: Unbind[] = [];

  constructor(options: { bus: Bus; networks: NetworkRegistry; logger: Logger }) {
    this.#bus = options.bus;
    this.#networks = options.networks;
    this.#log = options.logger;
  }

  start(): void {
    this.#unbinds.push(
      this.#bus.bind(VpnLocalAddress.Join, (m: VpnJoin) => {
        this.#joined.set(`${m.networkId}/${m.ip}`, {
          nodes: lowerCased(m.nodes),
          requestorId: m.requestorId?.toLowerCase(),
          deliver: (packet) => {
            this.#bus
              .call(m.deliverTo, {
                networkId: m.networkId,
                packet: packet.toString('base64'),
              } satisfies VpnPacket)
              .catch((error) =>
                this.#log.debug('VPN delivery failed', { to: m.deliverTo, error: String(error) }),
              );
          },
        });
        return {};
      }),
      this.#bus.bind(VpnLocalAddress.Leave, (m: VpnLeave) => {
        this.#joined.delete(`${m.networkId}/${m.ip}`);
        return {};
      }),
      this.#bus.bind(VpnLocalAddress.Send, (m: VpnPacket) => {
        this.#send(m.networkId, decode(m.packet));
        return {};
      }),
      this.#bus.bind(VpnPublicAddress.Packet, (m: VpnPacket, context: CallContext) =>
        this.#receive(m, context.caller),
      ),
      this.#bus.bind(VpnPublicAddress.Nodes, (m: VpnNodes, context: CallContext) =>
        this.#updateNodes(m, context.caller),
      ),
    );
  }

  stop(): void {
    for (const connection of this.#tcp.values()) connection.destroy();
    this.#tcp.clear();
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }

  /** The member holding `ip` on this node: a joined VM, or the owner's own address in a network it created. */
  #member(networkId: string, ip: string): Member | undefined {
    const joined = this.#joined.get(`${networkId}/${ip}`);
    if (joined) return joined;
    const network = this.#networks.find(networkId);
    if (!network) return undefined;
    const owner = network.owner.toLowerCase();
    if (!network.addresses.includes(ip) && network.nodes[ip] !== owner) return undefined;
    return {
      nodes: { ...network.nodes, ...Object.fromEntries(network.addresses.map((a) => [a, owner])) },
      deliver: (packet) => {
        const reply = echoReply(packet);
        if (reply) {
          this.#send(networkId, reply);
          return;
        }
        const segment = parseTcp(packet);
        const from = ipv4Addresses(packet)!;
        if (segment)
          this.#tcp
            .get(`${networkId}|${from.source}|${segment.sourcePort}|${segment.destinationPort}`)
            ?.receive(segment);
      },
    };
  }

  /**
   * A TCP connection from the owner's address in the network to `ip:port` (golem-js's TcpProxy, through the REST
   * WebSocket). Resolves once connected; `VPN_*` errors for a network or address that is not the caller's.
   */
  async openTcp(
    owner: string,
    networkId: string,
    ip: string,
    port: number,
    timeoutMs: number,
  ): Promise<TcpClient> {
    const network = this.#networks.get(owner, networkId);
    const self = owner.toLowerCase();
    const localIp = network.addresses[0] ?? Object.keys(network.nodes).find((a) => network.nodes[a] === self);
    if (!localIp)
      throw vpnError.badRequest('the caller has no address in this network (add itself as a node)');
    if (!network.nodes[ip] || ip === localIp)
      throw vpnError.notFound(`no node at ${ip} in network ${networkId}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw vpnError.badRequest(`bad port ${port}`);
    if (
      [...this.#tcp.keys()].filter((k) => k.startsWith(`${networkId}|`)).length >=
      VPN_TCP_CONNECTIONS_PER_NETWORK
    ) {
      throw vpnError.limit(`at most ${VPN_TCP_CONNECTIONS_PER_NETWORK} TCP connections per network`);
    }
    let localPort = 0;
    let key = '';
    do {
      localPort = 49152 + Math.floor(Math.random() * 16384);
      key = `${networkId}|${ip}|${port}|${localPort}`;
    } while (this.#tcp.has(key));
    const connection = new TcpClient(
      { localIp, localPort, remoteIp: ip, remotePort: port },
      (packet) => this.#send(networkId, packet),
      () => this.#tcp.delete(key),
    );
    this.#tcp.set(key, connection);
    try {
      await connection.connect(timeoutMs);
    } catch (error) {
      connection.destroy();
      throw vpnError.timeout(`cannot connect to ${ip}:${port}: ${(error as Error).message}`, { ip, port });
    }
    return connection;
  }

  /** From a member on this node: to the member holding the destination, here or on its node. */
  #send(networkId: string, packet: Buffer): void {
    const addresses = ipv4Addresses(packet);
    if (!addresses) return;
    const from = this.#member(networkId, addresses.source);
    if (!from) return; // not a member here: nothing to send for
    const local = this.#member(networkId, addresses.destination);
    if (local) {
      local.deliver(packet);
      return;
    }
    const node = from.nodes[addresses.destination];
    if (!node) return;
    this.#bus
      .call(vpnAddressAt(node, VpnPublicAddress.Packet), {
        networkId,
        packet: packet.toString('base64'),
      } satisfies VpnPacket)
      .catch((error) => this.#log.debug('VPN packet not carried', { node, error: String(error) }));
  }

  /** On the requestor's node, after a node was added or removed: every other node of the network hears the new map. */
  announceNodes(owner: string, networkId: string, removed: string[] = []): void {
    const network = this.#networks.get(owner, networkId);
    const self = owner.toLowerCase();
    const message: VpnNodes = { networkId, nodes: { ...network.nodes } };
    for (const node of new Set([...Object.values(network.nodes), ...removed])) {
      if (node === self) continue;
      this.#bus
        .call(vpnAddressAt(node, VpnPublicAddress.Nodes), message)
        .catch((error) => this.#log.debug('VPN node map not delivered', { node, error: String(error) }));
    }
  }

  #updateNodes(m: VpnNodes, caller: string): Record<string, never> {
    if (typeof m?.networkId !== 'string' || m.nodes === null || typeof m.nodes !== 'object') {
      throw vpnError.badRequest('not a node map');
    }
    const entries = Object.entries(m.nodes);
    if (
      entries.length > VPN_LIMITS.nodesPerNetwork ||
      !entries.every(([ip, id]) => typeof ip === 'string' && typeof id === 'string')
    ) {
      throw vpnError.badRequest('bad node map');
    }
    let updated = 0;
    for (const [key, member] of this.#joined) {
      if (!key.startsWith(`${m.networkId}/`) || member.requestorId !== caller.toLowerCase()) continue;
      member.nodes = lowerCased(m.nodes);
      updated++;
    }
    if (updated === 0) throw vpnError.forbidden('no member of this network takes node maps from the caller');
    return {};
  }

  #receive(m: VpnPacket, caller: string): Record<string, never> {
    const second = Math.floor(Date.now() / 1000);
    const rate = this.#rate.get(caller);
    if (rate?.second === second) {
      if (++rate.count > VPN_PEER_PACKETS_PER_SECOND)
        throw vpnError.limit('too many VPN packets', { caller });
    } else this.#rate.set(caller, { second, count: 1 });
    if (this.#rate.size > 10_000) this.#rate.clear();
    if (
      typeof m?.networkId !== 'string' ||
      typeof m.packet !== 'string' ||
      m.packet.length > MAX_PACKET_BASE64
    ) {
      throw vpnError.badRequest('not a VPN packet');
    }
    const packet = decode(m.packet);
    const addresses = ipv4Addresses(packet);
    if (!addresses) throw vpnError.badRequest('not an IPv4 packet');
    const member = this.#member(m.networkId, addresses.destination);
    if (!member) throw vpnError.notFound(`no member at ${addresses.destination}`, { networkId: m.networkId });
    if (member.nodes[addresses.source] !== caller.toLowerCase()) {
      throw vpnError.forbidden(`${caller} does not hold ${addresses.source} in this network`, {
        networkId: m.networkId,
        source: addresses.source,
      });
    }
    member.deliver(packet);
    return {};
  }
}

function lowerCased(nodes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(nodes).map(([ip, id]) => [ip, id.toLowerCase()]));
}

function decode(base64: string): Buffer {
  return Buffer.from(typeof base64 === 'string' ? base64 : '', 'base64');
}
