import { GolemError } from '../../core/errors/index.ts';

export const RuntimeApiErrorCode = {
  /** Bytes that are not a valid Runtime API message (bad varint, truncated field, wrong wire type). */
  Malformed: 'RUNTIME_API_MALFORMED',
  /** A frame longer than the reader accepts. */
  FrameTooLarge: 'RUNTIME_API_FRAME_TOO_LARGE',
  /** The runtime answered a request with `Response.Error`. */
  Remote: 'RUNTIME_API_REMOTE_ERROR',
  /** The runtime's stdout ended (or it exited) before the answer came. */
  Closed: 'RUNTIME_API_CLOSED',
  /** The runtime answered with a different command than the request asked. */
  UnexpectedResponse: 'RUNTIME_API_UNEXPECTED_RESPONSE',
  /** The caller gave up (its AbortSignal fired). */
  Aborted: 'RUNTIME_API_ABORTED',
} as const;
export type RuntimeApiErrorCode = (typeof RuntimeApiErrorCode)[keyof typeof RuntimeApiErrorCode];

declare module '../../core/errors/index.ts' {
  interface ErrorCodes {
    runtimeApi: RuntimeApiErrorCode;
  }
}

export function malformed(reason: string, details?: Record<string, unknown>): GolemError {
  return new GolemError(RuntimeApiErrorCode.Malformed, `malformed Runtime API message: ${reason}`, {
    details,
  });
}
