/**
 * Errors that programs can act on: every error carries a stable `code`, a short message, optional details
 * (what was seen, what was expected) and a cause chain. Modeled on viem's BaseError.
 */

export type ErrorDetails = Record<string, unknown>;

/**
 * Every module's error codes, by module. A module declares its codes once, typed
 * (`export const XErrorCode = {...} as const` and `type XErrorCode = (typeof XErrorCode)[keyof typeof XErrorCode]`),
 * and adds them here by declaration merging:
 * `declare module '../errors/index.ts' { interface ErrorCodes { x: XErrorCode } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging, one member per module
export interface ErrorCodes {}

/** A code some module declared. */
export type ErrorCode = ErrorCodes[keyof ErrorCodes];

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
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;
  readonly httpStatus: number | undefined;

  constructor(code: ErrorCode, message: string, options: GolemErrorOptions = {}) {
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

  toJSON(): { code: ErrorCode; message: string; details?: ErrorDetails } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isGolemError(error: unknown, code?: ErrorCode): error is GolemError {
  return error instanceof GolemError && (code === undefined || error.code === code);
}

/** Message of any thrown value, for logs and error bodies. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** Shorthands for errors that become HTTP answers (the status code yagna uses). */
export const httpError = {
  badRequest: (code: ErrorCode, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 400, details }),
  notFound: (code: ErrorCode, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 404, details }),
  conflict: (code: ErrorCode, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 409, details }),
  gone: (code: ErrorCode, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 410, details }),
  timeout: (code: ErrorCode, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 408, details }),
  forbidden: (code: ErrorCode, message: string, details?: ErrorDetails) =>
    new GolemError(code, message, { httpStatus: 403, details }),
};

/**
 * A listening address someone else holds. Any module that binds a socket throws this shape (code
 * `<MODULE>_ADDRESS_IN_USE`, details `{address, flag, env}`) and the CLI prints one line naming the address and the
 * setting that moves it (`addressInUseLine`).
 */
export interface AddressInUseDetails extends ErrorDetails {
  /** What is taken, as the user wrote it or as `host:port`. */
  address: string;
  /** The command-line flag that changes it, e.g. `--api-url`. */
  flag: string;
  /** The environment variable that changes it, e.g. `YAGNA_API_URL`. */
  env: string;
}

/** The one line a user reads when a listening address is taken; undefined when `error` is not that error. */
export function addressInUseLine(error: unknown): string | undefined {
  const found = error instanceof GolemError ? error.walk(isAddressInUse) : undefined;
  if (!(found instanceof GolemError)) return undefined;
  const { address, flag, env } = found.details as AddressInUseDetails;
  return `address ${address} is already in use; choose another with ${flag} or ${env} [${found.code}]`;
}

function isAddressInUse(error: unknown): boolean {
  if (!(error instanceof GolemError) || !error.code.endsWith('_ADDRESS_IN_USE')) return false;
  const details = error.details as Partial<AddressInUseDetails> | undefined;
  return (
    typeof details?.address === 'string' &&
    typeof details.flag === 'string' &&
    typeof details.env === 'string'
  );
}
