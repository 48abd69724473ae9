/**
 * Which of a peer's announced addresses are worth a direct dial when it reached us only through a relay.
 * libp2p's DCUtR upgrades such a connection only towards public addresses; two nodes on one machine or one LAN
 * (a provider farm behind one NAT, the local network) also reach each other directly, so addresses inside one of
 * this host's own subnets count too. Anything else private is left alone: it would be some other network's host.
 */
import { networkInterfaces } from 'node:os';

export interface Subnet {
  family: 'IPv4' | 'IPv6';
  address: string;
  netmask: string;
}

/** This host's interface subnets. */
export function localSubnets(): Subnet[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined)
    .map((i) => ({ family: i.family, address: i.address, netmask: i.netmask }));
}

const PRIVATE_IPV4: readonly (readonly [string, number])[] = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 3],
];

function ipv4ToInt(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

const maskOf = (bits: number) => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);
const masked = (ip: number, mask: number) => (ip & mask) >>> 0;

function isPrivateIpv4(ip: number): boolean {
  return PRIVATE_IPV4.some(([base, bits]) => masked(ip, maskOf(bits)) === ipv4ToInt(base));
}

function isPrivateIpv6(address: string): boolean {
  const ip = address.toLowerCase();
  return ip === '::1' || /^f[c-d]|^fe[89ab]|^ff|^2001:db8:/.test(ip);
}

function inSubnet(ip: number, subnet: Subnet): boolean {
  const base = ipv4ToInt(subnet.address);
  const mask = ipv4ToInt(subnet.netmask);
  return base !== undefined && mask !== undefined && masked(ip, mask) === masked(base, mask);
}

export interface TcpEndpoint {
  family: 'ip4' | 'ip6';
  host: string;
  port: number;
}

/** The IP and TCP port a multiaddr starts with (`/ip4/1.2.3.4/tcp/5/…`, `/ip6/::1/tcp/5/ws`); undefined otherwise. */
export function tcpEndpointOf(address: string): TcpEndpoint | undefined {
  const match = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)/.exec(address);
  if (match === null) return undefined;
  return { family: match[1] as 'ip4' | 'ip6', host: match[2]!, port: Number(match[3]) };
}

/** The TCP (or WebSocket) addresses among `announced` a direct dial may try, in their order. */
export function directCandidates(announced: readonly string[], subnets: readonly Subnet[]): string[] {
  return announced.filter((address) => {
    if (address.includes('/p2p-circuit')) return false;
    const endpoint = tcpEndpointOf(address);
    if (endpoint === undefined || endpoint.port === 0) return false;
    if (endpoint.family === 'ip4') {
      const ip = ipv4ToInt(endpoint.host);
      if (ip === undefined || ip === 0) return false;
      return !isPrivateIpv4(ip) || subnets.some((s) => s.family === 'IPv4' && inSubnet(ip, s));
    }
    const ip = endpoint.host;
    if (ip === '::') return false;
    return !isPrivateIpv6(ip) || (ip === '::1' && subnets.some((s) => s.address === '::1'));
  });
}
