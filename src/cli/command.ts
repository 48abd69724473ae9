/**
 * The shape of a CLI command. Each command group lives in `src/cli/commands/<group>.ts` and exports
 * `commands: Command[]`; `src/cli/commands/index.ts` lists the groups. `yagna <name words…> [options] [args]`.
 */
import type { NodeConfig } from '../core/config/index.ts';

export interface OptionSpec {
  /** Long name without dashes, e.g. `properties` for `--properties`. */
  name: string;
  type: 'string' | 'boolean' | 'list';
  description: string;
  required?: boolean;
  /** One-letter alias without the dash. */
  short?: string;
}

/** The daemon's local bus as seen from the CLI: over the control socket, or in-process when no daemon runs. */
export interface ControlClient {
  call<Res = unknown>(address: string, message?: unknown, options?: { timeoutMs?: number }): Promise<Res>;
  close(): Promise<void>;
}

export interface CommandContext {
  config: NodeConfig;
  options: Record<string, string | boolean | string[] | undefined>;
  args: string[];
  /** `--json` was given: print machine-readable output. */
  json: boolean;
  print(text: string): void;
  printJson(value: unknown): void;
  /** Reads a value that may be given inline or as `@file` (or `@-` for stdin). */
  readArgument(value: string): Promise<string>;
  /** Connects to the running daemon (control socket) or, where the command allows, opens the node's state. */
  control(): Promise<ControlClient>;
}

export interface Command {
  /** Words after `yagna`, e.g. `market check`. */
  name: string;
  summary: string;
  options?: OptionSpec[];
  /** Positional arguments, for the usage line, e.g. `<nodeId>`. */
  positionals?: string[];
  /** Exit code (default 0). Throw `UsageError` for bad arguments (exit code 2). */
  run(context: CommandContext): Promise<number | undefined> | number | undefined;
}

export class UsageError extends Error {
  override name = 'UsageError';
}
