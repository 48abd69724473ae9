export const DevnetErrorCode = {
  /** A process of the devnet exited or did not get ready in time. */
  StartFailed: 'DEVNET_START_FAILED',
  /** `devnet up` on a folder whose devnet still runs. */
  AlreadyRunning: 'DEVNET_ALREADY_RUNNING',
  /** `status`/`down` on a folder with no devnet. */
  NotRunning: 'DEVNET_NOT_RUNNING',
  /** Bad `--providers`, `--runtimes` or folder. */
  BadOption: 'DEVNET_BAD_OPTION',
  /** A call to a node's REST API failed. */
  Api: 'DEVNET_API',
  /** Start interrupted (Ctrl-C, SIGTERM): what had started was stopped. */
  Interrupted: 'DEVNET_INTERRUPTED',
} as const;
export type DevnetErrorCode = (typeof DevnetErrorCode)[keyof typeof DevnetErrorCode];

declare module '../core/errors/index.ts' {
  interface ErrorCodes {
    devnet: DevnetErrorCode;
  }
}
