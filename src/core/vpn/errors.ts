import { GolemError } from '../errors/index.ts';

export const VpnErrorCode = {
  /** Bad CIDR, address outside the network, bad node id, malformed body. */
  BadRequest: 'VPN_BAD_REQUEST',
  NotFound: 'VPN_NOT_FOUND',
  /** The network belongs to another identity. */
  Forbidden: 'VPN_FORBIDDEN',
  /** The address (or network id) is taken. */
  Conflict: 'VPN_CONFLICT',
  /** A per-owner bound (networks, nodes) is reached. */
  Limit: 'VPN_LIMIT',
  /** TCP into a VM over the network's WebSocket is not served yet. */
  TcpNotSupported: 'VPN_TCP_NOT_SUPPORTED',
} as const;
export type VpnErrorCode = (typeof VpnErrorCode)[keyof typeof VpnErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    vpn: VpnErrorCode;
  }
}

const err = (code: VpnErrorCode, status: number) => (message: string, details?: Record<string, unknown>) =>
  new GolemError(code, message, { httpStatus: status, details });

export const vpnError = {
  badRequest: err(VpnErrorCode.BadRequest, 400),
  notFound: err(VpnErrorCode.NotFound, 404),
  forbidden: err(VpnErrorCode.Forbidden, 403),
  conflict: err(VpnErrorCode.Conflict, 409),
  limit: err(VpnErrorCode.Limit, 429),
  tcpNotSupported: err(VpnErrorCode.TcpNotSupported, 501),
};
