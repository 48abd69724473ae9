/** Error codes of the activity module, declared once. */
export const ActivityErrorCode = {
  NotFound: 'ACTIVITY_NOT_FOUND',
  /** The caller is not the agreement's requestor (or not the activity's party). */
  Forbidden: 'ACTIVITY_FORBIDDEN',
  BadRequest: 'ACTIVITY_BAD_REQUEST',
  /** The agreement is not `Approved`. */
  AgreementNotApproved: 'ACTIVITY_AGREEMENT_NOT_APPROVED',
  AgreementNotFound: 'ACTIVITY_AGREEMENT_NOT_FOUND',
  /** Too many live activities for one agreement or one requestor. */
  Limit: 'ACTIVITY_LIMIT',
  /** The ExeUnit did not reach `Initialized` in time. */
  CreateTimeout: 'ACTIVITY_CREATE_TIMEOUT',
  /** No runtime descriptor names the agreement's `golem.runtime.name`. */
  UnknownRuntime: 'ACTIVITY_UNKNOWN_RUNTIME',
  /** The ExeUnit process could not start or ended before it was ready. */
  ExeUnitFailed: 'ACTIVITY_EXEUNIT_FAILED',
  /** The activity ended; only reads still answer. */
  Terminated: 'ACTIVITY_TERMINATED',
  /** A provider's events poll ended without events (yagna answers 408). */
  NoEvents: 'ACTIVITY_NO_EVENTS',
  /** A descriptor file that does not follow Golem's format. */
  BadDescriptor: 'ACTIVITY_BAD_DESCRIPTOR',
} as const;
export type ActivityErrorCode = (typeof ActivityErrorCode)[keyof typeof ActivityErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    activity: ActivityErrorCode;
  }
}
