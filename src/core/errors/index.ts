/**
 * Errors that programs can act on: every error carries a stable `code`, a short message, optional details
 * (what was seen, what was expected) and a cause chain. Modeled on viem's BaseError.
 */

export type ErrorDetails = Record<string, unknown>;

export interface GolemErrorOptions {
  /** Extra facts for a program or a log: what was seen, what was expected. */
  details?: ErrorDetails;
  /** The lower-level error this one explains. */
  cause?: unknown;
  /** HTTP status the REST API answers with when this error reaches it. */
  httpStatus?: number;
}

export class GolemError extends Error {
  override name = 'GolemError';
  readonly code: string;
  readonly details: ErrorDetails | undefined;
  readonly httpStatus: number | undefined;

  constructor(code: string, message: string, options: GolemErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.httpStatus = options.httpStatus;
  }

  /** Walks the cause chain; returns the first error for which `predicate` holds. */
  walk(predicate: (error: unknown) => boolean): unknown {
    let current: unknown = this;
    while (current !== undefined && current !== null) {
      if (predicate(current)) return current;
      current = current instanceof Error ? current.cause : undefined;
    }
    return undefined;
  }

  toJSON(): { code: string; message: string; details?: ErrorDetails } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isGolemError(error: unknown, code?: string): error is GolemError {
  return error instanceof GolemError && (code === undefined || error.code === code);
}

/** Message of any thrown value, for logs and error bodies. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** Shorthands for errors that become HTTP answers (the status code yagna uses). */
export const httpError = {
  badRequest: (code: string, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 400, details }),
  notFound: (code: string, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 404, details }),
  conflict: (code: string, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 409, details }),
  gone: (code: string, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 410, details }),
  timeout: (code: string, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 408, details }),
  forbidden: (code: string, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 403, details }),
};
