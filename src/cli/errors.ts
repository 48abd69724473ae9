import type { StandardsErrorCode } from '../standards/index.ts';

/** The command line's own error codes, declared once. */
export const CliErrorCode = {
  /** An `@file` argument that cannot be read. */
  File: 'CLI_FILE',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

declare module '../core/errors/index.ts' {
  interface ErrorCodes {
    cli: CliErrorCode;
    /** The standards library has no daemon errors; the CLI raises its codes as GolemErrors. */
    standards: StandardsErrorCode;
  }
}
