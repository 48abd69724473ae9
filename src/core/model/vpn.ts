/**
 * Bus contract of the VPN module: the networks a requestor created over `/net-api` (yagna's `/net-api/v1` and
 * `/net-api/v2/vpn`). Local only: the network's owner reads it; frames between nodes are a later part.
 */

export const VPN_LOCAL = '/local/vpn';

export const VpnLocalAddress = {
  /** `GetNetwork` → `VpnNetwork` (error `VPN_NOT_FOUND` when the caller has no such network). */
  GetNetwork: `${VPN_LOCAL}/GetNetwork`,
} as const;

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
