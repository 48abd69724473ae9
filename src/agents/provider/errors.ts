import { GolemError } from '../../core/errors/index.ts';

export const ProviderErrorCode = {
  /** The daemon answered a REST call with an error status. */
  Api: 'PROVIDER_API_ERROR',
  /** The daemon could not be reached. */
  Unreachable: 'PROVIDER_DAEMON_UNREACHABLE',
  /** A settings value or file that does not parse. */
  BadSettings: 'PROVIDER_BAD_SETTINGS',
  /** The built offer breaks the standards catalog. */
  BadOffer: 'PROVIDER_BAD_OFFER',
  /** No runtime passed its self-test, or no preset names a usable runtime. */
  NothingToOffer: 'PROVIDER_NOTHING_TO_OFFER',
  /** The daemon golemsp started did not come up. */
  DaemonStart: 'PROVIDER_DAEMON_START',
  /** Another agent runs on this data dir. */
  AlreadyRunning: 'PROVIDER_ALREADY_RUNNING',
} as const;

export type ProviderErrorCode = (typeof ProviderErrorCode)[keyof typeof ProviderErrorCode];

declare module '../../core/errors/index.ts' {
  interface ErrorCodes {
    provider: ProviderErrorCode;
  }
}

export function providerError(
  code: ProviderErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): GolemError {
  return new GolemError(code, message, { details, cause });
}
