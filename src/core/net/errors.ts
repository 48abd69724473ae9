/** Error codes of the net module, declared once. Bus-level codes (BUS_*) live in `src/core/bus/errors.ts`. */
import { GolemError } from '../errors/index.ts';

export const NetErrorCode = {
  /** A frame, hole punch message or other wire input that breaks the protocol; resets that stream only. */
  ProtocolError: 'NET_PROTOCOL_ERROR',
  /** The net started before the identity module gave it a key. */
  NoIdentity: 'NET_NO_IDENTITY',
  BadNodeId: 'NET_BAD_NODE_ID',
  BadProbe: 'NET_BAD_PROBE',
  /** A peer whose key is not secp256k1 (it has no Golem node id). */
  ForeignPeer: 'NET_FOREIGN_PEER',
  Stopped: 'NET_STOPPED',
  HolePunchFailed: 'NET_HOLE_PUNCH_FAILED',
  /** The net listen address is taken by another process. */
  AddressInUse: 'NET_ADDRESS_IN_USE',
  /** A peer was cut off for abuse (too many slow or malformed streams, floods). */
  PeerBanned: 'NET_PEER_BANNED',
} as const;

export function protocolError(message: string, details?: Record<string, unknown>): GolemError {
  return new GolemError(NetErrorCode.ProtocolError, message, { details });
}

export function addressInUse(address: string, cause?: unknown): GolemError {
  return new GolemError(NetErrorCode.AddressInUse, `net listen address ${address} is already in use`, {
    details: { address, flag: '--net-listen', env: 'YA_NET_LISTEN' },
    cause,
  });
}

export type NetErrorCode = (typeof NetErrorCode)[keyof typeof NetErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    net: NetErrorCode;
  }
}
