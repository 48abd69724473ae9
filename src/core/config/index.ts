import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { GolemError } from '../errors/index.ts';
import { LOG_LEVELS, type LogLevel, parseLogLevel } from '../log/index.ts';

/**
 * Node configuration: every setting has a flag, an environment variable and a default, resolved in that order
 * (flag > env > default). Modules read their own section; nothing reads process.env elsewhere.
 */
export interface NodeConfig {
  dataDir: string;
  apiUrl: URL;
  logLevel: LogLevel;
  logFormat: 'text' | 'json';
  /** Origins allowed by CORS for every app-key (`YAGNA_API_ALLOW_ORIGIN`, comma-separated). */
  apiAllowOrigins: string[];
  /** App-key created in memory at start (`YAGNA_AUTOCONF_APPKEY`). */
  autoconfAppKey: string | undefined;
  /** Hex private key of the default identity (`YAGNA_AUTOCONF_ID_SECRET`). */
  autoconfIdSecret: string | undefined;
  /** Password tried on locked identities at start (`YAGNA_ID_PASSWORD`). */
  identityPassword: string | undefined;
  net: NetConfig;
  /** ExeUnit runtime descriptor files (`EXE_UNIT_PATH`, comma-separated globs; default: the shipped runtimes). */
  exeUnitPath?: string[];
}

export interface NetConfig {
  /** libp2p listen multiaddrs (`YA_NET_LISTEN`, comma-separated). */
  listen: string[];
  /** Bootstrap / relay multiaddrs (`YA_NET_RELAY`, comma-separated). */
  bootstrap: string[];
  /** Turn the network off (`YA_NET_DISABLED=1`): the node runs alone. */
  disabled: boolean;
  /** Direct peers a node keeps for gossip and discovery (`YA_NET_NEIGHBOURS`, default 8; 0: only its relays). */
  neighbours: number;
  /** AutoNAT reachability checks, asked of peers and answered by dialling them back (`YA_NET_AUTONAT`, default on). */
  autonat: boolean;
  /** Log each stage of the gossip this peer id originates, with timestamps (`YA_NET_TRACE_FROM`; diagnostics). */
  traceFrom?: string;
}

/** The configuration's error codes, declared once. */
export const ConfigErrorCode = {
  /** A flag or environment setting out of range; the CLI answers it as a usage error (exit 2). */
  Invalid: 'CONFIG_INVALID',
} as const;
export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    config: ConfigErrorCode;
  }
}

export type Env = Record<string, string | undefined>;
export type Flags = Record<string, string | boolean | string[] | undefined>;

export const DEFAULT_API_URL = 'http://127.0.0.1:7465';
export const DEFAULT_NET_LISTEN = ['/ip4/0.0.0.0/tcp/11500', '/ip4/0.0.0.0/tcp/11501/ws'];

export function defaultDataDir(env: Env = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.local', 'share'), 'yagna');
}

function pick(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  if (Array.isArray(value)) return value.join(',');
  return typeof value === 'string' ? value : undefined;
}

export function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function parseUrl(value: string, setting: string): URL {
  try {
    return new URL(value);
  } catch (cause) {
    throw new GolemError(ConfigErrorCode.Invalid, `${setting} is not a URL: ${value}`, {
      cause,
      details: { setting, value },
    });
  }
}

/** A whole number of at least `min` from a flag or env var; undefined when unset; CONFIG_INVALID otherwise. */
export function parseCount(value: string | undefined, setting: string, min = 0): number | undefined {
  if (value === undefined || value === '') return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < min)
    throw new GolemError(
      ConfigErrorCode.Invalid,
      `${setting} must be a whole number of at least ${min}, got ${value}`,
      {
        details: { setting, value, min },
      },
    );
  return count;
}

/** The REST URL the daemon listens on: plain HTTP (it serves no TLS), so anything but `http:` is a mistake. */
function parseApiUrl(value: string): URL {
  const url = parseUrl(value, 'api-url');
  if (url.protocol !== 'http:')
    throw new GolemError(
      ConfigErrorCode.Invalid,
      `api-url must be an http:// URL (no TLS is served), got ${value}`,
      {
        details: { setting: 'api-url', value },
      },
    );
  return url;
}

/**
 * `--log-level` or `YAGNA_LOG_LEVEL` must name a level; `RUST_LOG` (yagna's variable, often a list of directives
 * such as `info,yagna=debug`) gives its first plain level, or the default.
 */
function logLevelOf(flags: Flags, env: Env): LogLevel {
  const explicit = pick(flags, 'log-level') ?? env.YAGNA_LOG_LEVEL;
  if (explicit !== undefined && explicit !== '') {
    const level = explicit.toLowerCase();
    if (!(LOG_LEVELS as readonly string[]).includes(level))
      throw new GolemError(
        ConfigErrorCode.Invalid,
        `log-level must be one of ${LOG_LEVELS.join(', ')}, got ${explicit}`,
        { details: { setting: 'log-level', value: explicit } },
      );
    return level as LogLevel;
  }
  const directive = splitList(env.RUST_LOG).find((item) => !item.includes('='));
  return parseLogLevel(directive);
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

export function resolveConfig(flags: Flags = {}, env: Env = process.env): NodeConfig {
  const dataDir = resolve(pick(flags, 'datadir') ?? env.YAGNA_DATADIR ?? defaultDataDir(env));
  const apiUrl = parseApiUrl(pick(flags, 'api-url') ?? env.YAGNA_API_URL ?? DEFAULT_API_URL);
  const format = pick(flags, 'log-format') ?? env.YAGNA_LOG_FORMAT;
  return {
    dataDir,
    apiUrl,
    logLevel: logLevelOf(flags, env),
    logFormat: format === 'json' ? 'json' : 'text',
    apiAllowOrigins: splitList(pick(flags, 'api-allow-origin') ?? env.YAGNA_API_ALLOW_ORIGIN),
    autoconfAppKey: env.YAGNA_AUTOCONF_APPKEY || undefined,
    autoconfIdSecret: env.YAGNA_AUTOCONF_ID_SECRET || undefined,
    identityPassword: env.YAGNA_ID_PASSWORD || undefined,
    net: {
      listen: splitList(pick(flags, 'net-listen') ?? env.YA_NET_LISTEN ?? DEFAULT_NET_LISTEN.join(',')),
      bootstrap: splitList(pick(flags, 'net-relay') ?? env.YA_NET_RELAY),
      disabled: flags['net-disabled'] === true || truthy(env.YA_NET_DISABLED),
      autonat: env.YA_NET_AUTONAT === undefined || env.YA_NET_AUTONAT === '' || truthy(env.YA_NET_AUTONAT),
      neighbours:
        parseCount(pick(flags, 'net-neighbours') ?? env.YA_NET_NEIGHBOURS, 'YA_NET_NEIGHBOURS') ?? 8,
      traceFrom: env.YA_NET_TRACE_FROM || undefined,
    },
    exeUnitPath: env.EXE_UNIT_PATH ? splitList(env.EXE_UNIT_PATH) : undefined,
  };
}

/** The database file of a node's data dir. */
export function databasePath(config: Pick<NodeConfig, 'dataDir'>): string {
  return join(config.dataDir, 'yagna.db');
}
