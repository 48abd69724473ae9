import { GolemError } from '../errors/index.ts';

export const BusErrorCode = {
  NoHandler: 'BUS_NO_HANDLER',
  Timeout: 'BUS_TIMEOUT',
  Cancelled: 'BUS_CANCELLED',
  Unreachable: 'BUS_UNREACHABLE',
  Forbidden: 'BUS_FORBIDDEN',
  BadAddress: 'BUS_BAD_ADDRESS',
  HandlerFailed: 'BUS_HANDLER_FAILED',
  AlreadyBound: 'BUS_ALREADY_BOUND',
  NoIdentity: 'BUS_NO_IDENTITY',
  /** The callee serves too many calls (from this peer, or in all) right now; try again. */
  Busy: 'BUS_BUSY',
  /** An error frame from the remote node that carried no code of its own. */
  RemoteError: 'BUS_REMOTE_ERROR',
  /** A reply (a plain call to a stream handler collects the whole stream) larger than a reply may be. */
  ReplyTooLarge: 'BUS_REPLY_TOO_LARGE',
} as const;

export type BusErrorCode = (typeof BusErrorCode)[keyof typeof BusErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    bus: BusErrorCode;
  }
}

export function noHandler(address: string): GolemError {
  return new GolemError(BusErrorCode.NoHandler, `endpoint address not found: ${address}`, {
    details: { address },
    httpStatus: 404,
  });
}

export function badAddress(address: string, reason: string): GolemError {
  return new GolemError(BusErrorCode.BadAddress, `bad bus address ${address}: ${reason}`, {
    details: { address },
  });
}

export function timeoutError(address: string, timeoutMs: number): GolemError {
  return new GolemError(BusErrorCode.Timeout, `bus call to ${address} timed out after ${timeoutMs} ms`, {
    details: { address, timeoutMs },
    httpStatus: 504,
  });
}

export function cancelledError(address: string, reason?: unknown): GolemError {
  return new GolemError(BusErrorCode.Cancelled, `bus call to ${address} was cancelled`, {
    details: { address },
    cause: reason,
  });
}
