import { GolemError } from '../../core/errors/index.ts';

/** Error codes of the ExeUnit supervisor, as requestors see them in results and REST answers. */
export const ExeUnitErrorCode = {
  /** An ExeScript that does not parse or names an unknown command. */
  BadScript: 'EXEUNIT_BAD_SCRIPT',
  /** The command is not allowed in the current state (yagna's InvalidState). */
  InvalidState: 'EXEUNIT_INVALID_STATE',
  /** A state transition is pending (yagna's Busy). */
  Busy: 'EXEUNIT_BUSY',
  DuplicateBatch: 'EXEUNIT_DUPLICATE_BATCH',
  UnknownBatch: 'EXEUNIT_UNKNOWN_BATCH',
  TooManyBatches: 'EXEUNIT_TOO_MANY_BATCHES',
  /** The asked command did not finish within the timeout. */
  Timeout: 'EXEUNIT_TIMEOUT',
  NothingRunning: 'EXEUNIT_NOTHING_RUNNING',
  WrongActivity: 'EXEUNIT_WRONG_ACTIVITY',
  /** The runtime failed (deploy output, exit, crash). */
  Runtime: 'EXEUNIT_RUNTIME',
  /** A command was killed by terminate or shutdown. */
  Killed: 'EXEUNIT_KILLED',
  /** A transfer failed: bad URL, path outside the volumes, size limit, hash mismatch, I/O. */
  Transfer: 'EXEUNIT_TRANSFER',
  /** The task package could not be fetched or did not match its hash. */
  Image: 'EXEUNIT_IMAGE',
  BadArguments: 'EXEUNIT_BAD_ARGUMENTS',
  /** The ExeUnit is shutting down. */
  ShuttingDown: 'EXEUNIT_SHUTTING_DOWN',
} as const;

export type ExeUnitErrorCodeName = (typeof ExeUnitErrorCode)[keyof typeof ExeUnitErrorCode];

export function exeUnitError(
  code: ExeUnitErrorCodeName,
  message: string,
  options: { details?: Record<string, unknown>; cause?: unknown; httpStatus?: number } = {},
): GolemError {
  return new GolemError(code, message, options);
}
