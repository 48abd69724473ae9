/**
 * The requestor's virtual networks, in memory as in yagna (a network lives as long as the daemon): a network
 * per id with its owner, the owner's addresses and the provider nodes by address. Every change runs without an
 * await between its check and its write, so two requests cannot both take one address.
 */
import { randomUUID } from 'node:crypto';
import type { VpnNetwork, VpnNetworkView } from '../model/vpn.ts';
import { vpnError } from './errors.ts';

export const VPN_LIMITS = { networksPerOwner: 32, nodesPerNetwork: 1024 } as const;

const NODE_ID = /^0x[0-9a-f]{40}$/;

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    throw vpnError.badRequest(`not an IPv4 address: ${ip}`, { ip });
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

function prefixToMask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function maskToPrefix(mask: number): number {
  const prefix = 32 - Math.log2((~mask >>> 0) + 1);
  if (!Number.isInteger(prefix) || prefixToMask(prefix) !== mask) {
    throw vpnError.badRequest(`not a contiguous netmask: ${intToIp(mask)}`);
  }
  return prefix;
}

export interface CreateNetworkBody {
  ip?: unknown;
  mask?: unknown;
  gateway?: unknown;
}

export class NetworkRegistry {
  readonly #networks = new Map<string, VpnNetwork>();

  /** `{"ip": "192.168.7.0" | "192.168.7.0/24", "mask"?, "gateway"?}` → the network (its address normalised). */
  create(owner: string, body: CreateNetworkBody): VpnNetworkView {
    if (typeof body.ip !== 'string') throw vpnError.badRequest('ip is required (an IPv4 address or CIDR)');
    const [address, prefixText] = body.ip.split('/');
    let mask: number;
    if (prefixText !== undefined) {
      const prefix = Number(prefixText);
      if (!/^\d{1,2}$/.test(prefixText) || prefix > 30)
        throw vpnError.badRequest(`bad prefix /${prefixText}`);
      mask = prefixToMask(prefix);
      if (typeof body.mask === 'string' && ipToInt(body.mask) !== mask) {
        throw vpnError.badRequest('mask and prefix disagree', { ip: body.ip, mask: body.mask });
      }
    } else mask = typeof body.mask === 'string' ? ipToInt(body.mask) : prefixToMask(24);
    if (maskToPrefix(mask) > 30) throw vpnError.badRequest('network too small (at most /30)');
    const net = (ipToInt(address!) & mask) >>> 0;
    const owned = [...this.#networks.values()].filter((n) => n.owner === owner);
    if (owned.length >= VPN_LIMITS.networksPerOwner) {
      throw vpnError.limit(`at most ${VPN_LIMITS.networksPerOwner} networks per identity`);
    }
    const network: VpnNetwork = {
      id: randomUUID().replaceAll('-', ''),
      ip: intToIp(net),
      mask: intToIp(mask),
      owner,
      addresses: [],
      nodes: {},
    };
    if (body.gateway !== undefined && body.gateway !== null) {
      if (typeof body.gateway !== 'string') throw vpnError.badRequest('gateway must be an IPv4 address');
      network.gateway = intToIp(this.#inside(network, body.gateway));
    }
    this.#networks.set(network.id, network);
    return view(network);
  }

  list(owner: string): VpnNetworkView[] {
    return [...this.#networks.values()].filter((n) => n.owner === owner).map(view);
  }

  get(owner: string, id: string): VpnNetwork {
    const network = this.#networks.get(id);
    if (!network) throw vpnError.notFound(`no network ${id}`, { networkId: id });
    if (network.owner !== owner)
      throw vpnError.forbidden(`network ${id} belongs to another identity`, { networkId: id });
    return network;
  }

  remove(owner: string, id: string): void {
    this.get(owner, id);
    this.#networks.delete(id);
  }

  /** An address inside the network that is neither the network nor the broadcast address; as an integer. */
  #inside(network: VpnNetwork, ip: unknown): number {
    if (typeof ip !== 'string') throw vpnError.badRequest('ip is required');
    const n = ipToInt(ip);
    const net = ipToInt(network.ip);
    const mask = ipToInt(network.mask);
    const broadcast = (net | (~mask >>> 0)) >>> 0;
    if ((n & mask) >>> 0 !== net || n === net || n === broadcast) {
      throw vpnError.badRequest(`${ip} is not a host address of ${network.ip}/${maskToPrefix(mask)}`, { ip });
    }
    return n;
  }

  #taken(network: VpnNetwork, ip: string): boolean {
    return ip in network.nodes || network.addresses.includes(ip);
  }

  addAddress(owner: string, id: string, body: { ip?: unknown }): void {
    const network = this.get(owner, id);
    const ip = intToIp(this.#inside(network, body.ip));
    if (network.addresses.includes(ip)) return;
    if (this.#taken(network, ip)) throw vpnError.conflict(`${ip} is taken in network ${id}`, { ip });
    network.addresses.push(ip);
  }

  addNode(owner: string, id: string, body: { id?: unknown; ip?: unknown }): void {
    const network = this.get(owner, id);
    if (typeof body.id !== 'string' || !NODE_ID.test(body.id.toLowerCase())) {
      throw vpnError.badRequest('id must be a node id (0x + 40 hex digits)', { id: body.id });
    }
    const nodeId = body.id.toLowerCase();
    const ip = intToIp(this.#inside(network, body.ip));
    if (network.nodes[ip] === nodeId) return;
    if (this.#taken(network, ip)) throw vpnError.conflict(`${ip} is taken in network ${id}`, { ip });
    if (Object.keys(network.nodes).length >= VPN_LIMITS.nodesPerNetwork) {
      throw vpnError.limit(`at most ${VPN_LIMITS.nodesPerNetwork} nodes per network`);
    }
    network.nodes[ip] = nodeId;
  }

  removeNode(owner: string, id: string, nodeId: string): void {
    const network = this.get(owner, id);
    const entries = Object.entries(network.nodes).filter(([, node]) => node === nodeId.toLowerCase());
    if (entries.length === 0) throw vpnError.notFound(`node ${nodeId} is not in network ${id}`, { nodeId });
    for (const [ip] of entries) delete network.nodes[ip];
  }
}

function view(n: VpnNetwork): VpnNetworkView {
  return n.gateway === undefined
    ? { id: n.id, ip: n.ip, mask: n.mask }
    : { id: n.id, ip: n.ip, mask: n.mask, gateway: n.gateway };
}
