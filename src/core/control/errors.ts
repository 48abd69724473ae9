/** The control socket's error codes, declared once: its calls' and its binds'. */
export const ControlErrorCode = {
  BadRequest: 'CONTROL_BAD_REQUEST',
  CallFailed: 'CONTROL_CALL_FAILED',
  Disconnected: 'CONTROL_DISCONNECTED',
  NoDaemon: 'CONTROL_NO_DAEMON',
  /** The other side sent a line that is not a control message; the connection is closed. */
  MalformedLine: 'CONTROL_MALFORMED_LINE',
  /** The socket of the data dir answers: another daemon owns it (the daemon learns this from its control socket). */
  DaemonAlreadyRunning: 'DAEMON_ALREADY_RUNNING',
} as const;
export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** Error codes of the control socket's binds. */
export const ControlBindErrorCode = {
  /** A bind outside the prefixes a local process may serve. */
  BindForbidden: 'CONTROL_BIND_FORBIDDEN',
  /** The process that bound an address went away while a call waited for it. */
  BinderGone: 'CONTROL_BINDER_GONE',
  /** A bound process answered with something that is not a reply. */
  BadReply: 'CONTROL_BAD_REPLY',
} as const;
export type ControlBindErrorCode = (typeof ControlBindErrorCode)[keyof typeof ControlBindErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    control: ControlErrorCode;
    controlBind: ControlBindErrorCode;
  }
}
