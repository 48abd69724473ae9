import { GolemError } from '../errors/index.ts';

export const GsbApiErrorCode = {
  BadRequest: 'GSB_API_BAD_REQUEST',
  NotFound: 'GSB_API_NOT_FOUND',
  AlreadyBound: 'GSB_API_ALREADY_BOUND',
  TooManyServices: 'GSB_API_TOO_MANY_SERVICES',
  Busy: 'GSB_API_BUSY',
  Timeout: 'GSB_API_TIMEOUT',
  Closed: 'GSB_API_CLOSED',
  /** The WebSocket client answered the call with an error. */
  ClientError: 'GSB_API_CLIENT_ERROR',
  Forbidden: 'GSB_API_FORBIDDEN',
} as const;
export type GsbApiErrorCode = (typeof GsbApiErrorCode)[keyof typeof GsbApiErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    gsbApi: GsbApiErrorCode;
  }
}

export function badRequest(message: string, details?: Record<string, unknown>): GolemError {
  return new GolemError(GsbApiErrorCode.BadRequest, message, { httpStatus: 400, details });
}

export function notFound(servicesId: string): GolemError {
  return new GolemError(GsbApiErrorCode.NotFound, `no bound services ${servicesId}`, {
    httpStatus: 404,
    details: { servicesId },
  });
}
