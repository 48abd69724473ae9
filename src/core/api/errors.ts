import type { LanguageErrorCode } from '../../language/index.ts';
import type { LongPollErrorCode } from './long-poll.ts';

/** The REST server's own error codes, declared once (the long-poll ones are `LongPollErrorCode`). */
export const ApiErrorCode = {
  MissingAppKey: 'API_MISSING_APPKEY',
  InvalidAppKey: 'API_INVALID_APPKEY',
  Unauthorized: 'API_UNAUTHORIZED',
  BadJson: 'API_BAD_JSON',
  BadRequest: 'API_BAD_REQUEST',
  NoRoute: 'API_NO_ROUTE',
  Internal: 'API_INTERNAL',
  NotListening: 'API_NOT_LISTENING',
  ListenFailed: 'API_LISTEN_FAILED',
  AddressInUse: 'API_ADDRESS_IN_USE',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    api: ApiErrorCode;
    apiLongPoll: (typeof LongPollErrorCode)[keyof typeof LongPollErrorCode];
    /** The language is a library without the daemon's errors; its codes reach clients through the REST server. */
    language: LanguageErrorCode;
  }
}
