export const RequestorErrorCode = {
  /** A call to the daemon's REST API failed (unreachable or refused); details carry the status and body. */
  Api: 'REQUESTOR_API',
  /** Bad arguments: runtime, image, budget, providers. */
  BadOption: 'REQUESTOR_BAD_OPTION',
  /** No offer matched the demand in time; details carry the market's explanation of the closest offers. */
  NoOffers: 'REQUESTOR_NO_OFFERS',
  /** Fewer agreements than asked for could be made. */
  NoAgreement: 'REQUESTOR_NO_AGREEMENT',
  /** A command failed on a provider. */
  CommandFailed: 'REQUESTOR_COMMAND_FAILED',
  /** The budget would be exceeded. */
  Budget: 'REQUESTOR_BUDGET',
} as const;
export type RequestorErrorCode = (typeof RequestorErrorCode)[keyof typeof RequestorErrorCode];

declare module '../../core/errors/index.ts' {
  interface ErrorCodes {
    requestor: RequestorErrorCode;
  }
}
