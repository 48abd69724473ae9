/**
 * Bus contract of the VPN module: the networks a requestor created over `/net-api` (yagna's `/net-api/v1` and
 * `/net-api/v2/vpn`). Local only: the network's owner reads it; frames between nodes are a later part.
 */

export const VPN_LOCAL = '/local/vpn';
export const VPN_PUBLIC = '/public/vpn';

export const VpnLocalAddress = {
  /** `GetNetwork` → `VpnNetwork` (error `VPN_NOT_FOUND` when the caller has no such network). */
  GetNetwork: `${VPN_LOCAL}/GetNetwork`,
  /** `VpnJoin` → `{}`: an ExeUnit's VM joins a network at an address; packets for it go to `deliverTo`. */
  Join: `${VPN_LOCAL}/Join`,
  /** `VpnLeave` → `{}`. */
  Leave: `${VPN_LOCAL}/Leave`,
  /** `VpnSend` → `{}`: a packet from a member, carried to the node holding its destination. */
  Send: `${VPN_LOCAL}/Send`,
} as const;

/** Node → node. Reached as `/net/<nodeId>/vpn/Packet`; the caller must hold the packet's source address. */
export const VpnPublicAddress = {
  Packet: `${VPN_PUBLIC}/Packet`,
  /** `VpnNodes` → `{}`: the network's requestor tells the nodes its new address map (a node was added or removed). */
  Nodes: `${VPN_PUBLIC}/Nodes`,
} as const;

export interface VpnNodes {
  networkId: string;
  nodes: Record<string, string>;
}

export function vpnAddressAt(nodeId: string, publicAddress: string): string {
  return `/net/${nodeId}/${publicAddress.slice('/public/'.length)}`;
}

/** An IPv4 packet of a network, base64 (bus messages are JSON). */
export interface VpnPacket {
  networkId: string;
  packet: string;
}

export interface VpnJoin {
  networkId: string;
  /** The member's address in the network. */
  ip: string;
  /** Every address of the network and the node holding it (the requestor's deploy `net.nodes`). */
  nodes: Record<string, string>;
  /** A local address the member bound (`/local/exeunit/…`): receives `VpnPacket`. */
  deliverTo: string;
  /** The agreement's requestor: the one node that may update `nodes` later (`/public/vpn/Nodes`). */
  requestorId: string;
}

export interface VpnLeave {
  networkId: string;
  ip: string;
}

export type VpnSend = VpnPacket;

export interface GetNetwork {
  networkId: string;
  /** The identity asking; only the network's owner sees it. */
  owner: string;
}

/** A network as the REST API shows it (`Network` of yagna's net-api). */
export interface VpnNetworkView {
  id: string;
  ip: string;
  mask: string;
  gateway?: string;
}

export interface VpnNetwork extends VpnNetworkView {
  owner: string;
  /** The owner's own addresses in the network. */
  addresses: string[];
  /** ip → node id. */
  nodes: Record<string, string>;
}
