/** The control socket's error codes, declared once. */
export const ControlErrorCode = {
  BadRequest: 'CONTROL_BAD_REQUEST',
  CallFailed: 'CONTROL_CALL_FAILED',
  Disconnected: 'CONTROL_DISCONNECTED',
  NoDaemon: 'CONTROL_NO_DAEMON',
  /** The socket of the data dir answers: another daemon owns it (the daemon learns this from its control socket). */
  DaemonAlreadyRunning: 'DAEMON_ALREADY_RUNNING',
} as const;
export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    control: ControlErrorCode;
  }
}
