import { readFile } from 'node:fs/promises';
import { LocalBus } from '../core/bus/index.ts';
import { databasePath, type NodeConfig } from '../core/config/index.ts';
import { ControlConnection, ControlErrorCode, controlSocketPath } from '../core/control/index.ts';
import { openDatabase } from '../core/db/index.ts';
import { GolemError } from '../core/errors/index.ts';
import { IdentityService } from '../core/identity/index.ts';
import { createLogger } from '../core/log/index.ts';
import type { CommandContext, ControlClient } from './command.ts';
import { CliErrorCode } from './errors.ts';

export interface ContextOptions {
  config: NodeConfig;
  options: CommandContext['options'];
  args: string[];
  json: boolean;
  stdout?: (text: string) => void;
}

/** Reaches the running daemon over its control socket, or opens the node's state in this process. */
export async function connectControl(config: NodeConfig): Promise<ControlClient> {
  try {
    return await ControlConnection.connect(controlSocketPath(config.dataDir));
  } catch (error) {
    if (!(error instanceof GolemError && error.code === ControlErrorCode.NoDaemon)) throw error;
  }
  return openOffline(config);
}

/**
 * No daemon runs: identity and app-key verbs work on the data dir directly (the same bus handlers the daemon
 * serves). Anything else answers that the daemon is needed.
 */
async function openOffline(config: NodeConfig): Promise<ControlClient> {
  const logger = createLogger({
    level: config.logLevel === 'info' ? 'warn' : config.logLevel,
    format: config.logFormat,
  });
  const db = openDatabase(databasePath(config));
  const bus = new LocalBus({ logger });
  const identity = new IdentityService({ db, bus, logger, config });
  try {
    await identity.start();
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    call: async <Res>(address: string, message?: unknown, options: { timeoutMs?: number } = {}) => {
      if (!address.startsWith('/local/identity/') && !address.startsWith('/local/appkey/')) {
        throw new GolemError(
          ControlErrorCode.NoDaemon,
          `the daemon is not running (start it with \`yagna service run\`)`,
          {
            details: { address, dataDir: config.dataDir },
          },
        );
      }
      return bus.call<Res>(address, message, options);
    },
    close: async () => {
      await identity.stop();
      db.close();
    },
  };
}

export function createContext(options: ContextOptions): CommandContext {
  const write = options.stdout ?? ((text: string) => process.stdout.write(text));
  return {
    config: options.config,
    options: options.options,
    args: options.args,
    json: options.json,
    print: (text) => write(text.endsWith('\n') ? text : `${text}\n`),
    printJson: (value) => write(`${JSON.stringify(value, null, 2)}\n`),
    readArgument: async (value) => {
      if (value === '@-') {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks).toString('utf8');
      }
      if (value.startsWith('@')) {
        try {
          return await readFile(value.slice(1), 'utf8');
        } catch (cause) {
          throw new GolemError(CliErrorCode.File, `cannot read ${value.slice(1)}`, { cause });
        }
      }
      return value;
    },
    control: () => connectControl(options.config),
  };
}
