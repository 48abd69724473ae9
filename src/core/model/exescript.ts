/**
 * ExeScript commands as Golem's JSON carries them: externally tagged (`{"run": {…}}`), camelCase variant names,
 * snake_case fields inside (`entry_point`). Unknown fields are ignored (golem-js adds `env` to `run`); unknown
 * commands, wrong types and oversized scripts are refused with a clear message.
 *
 * The contract between the activity module (which checks a script before it crosses the control socket) and the
 * ExeUnit (which runs it): both read it from here, so neither layer imports the other.
 */
import { GolemError } from '../errors/index.ts';
import type { ExeScriptCommand } from './activity.ts';

export const ExeScriptErrorCode = {
  /** A script that is not JSON, not a list of known commands, or over the limits. */
  Invalid: 'EXESCRIPT_INVALID',
} as const;
export type ExeScriptErrorCode = (typeof ExeScriptErrorCode)[keyof typeof ExeScriptErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    exeScript: ExeScriptErrorCode;
  }
}

/** One entry of the Deploy command's `net` (golem-js sends these). */
export interface DeployNetwork {
  id: string;
  ip: string;
  mask: string;
  gateway?: string;
  /** ip → node id, every address of the network known at deploy time. */
  nodes: Record<string, string>;
  /** This VM's address. */
  nodeIp: string;
}

export const COMMAND_NAMES = ['deploy', 'start', 'run', 'transfer', 'terminate', 'sign'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** Bounds a requestor cannot exceed in one script. */
export const MAX_COMMANDS_PER_SCRIPT = 100;
export const MAX_SCRIPT_BYTES = 1024 * 1024;
/** Networks one deploy may join, and addresses one of them may list (the daemon's own bound is 1024 nodes). */
export const MAX_DEPLOY_NETWORKS = 8;
export const MAX_DEPLOY_NETWORK_NODES = 1024;

export type CaptureFormat = 'str' | 'bin';
export type CapturePart = { head: number } | { tail: number } | { headTail: number };
export type CaptureMode =
  | { kind: 'atEnd'; part: CapturePart | undefined; format: CaptureFormat }
  | { kind: 'stream'; limit: number | undefined; format: CaptureFormat };

export interface Capture {
  stdout: CaptureMode | undefined;
  stderr: CaptureMode | undefined;
}

export interface DeployCommand {
  name: 'deploy';
  volumes: string[];
  /** `volumes` given as a map of mounts (`{"/data": {"storage": {…}}}`): passed to the runtime as `--volume-override`. */
  volumeOverride: Record<string, unknown> | undefined;
  env: Record<string, string>;
  hostname: string | undefined;
  /** The VPN networks this VM joins (golem-js: `{id, ip, mask, gateway?, nodes: {ip: nodeId}, nodeIp}`). */
  net: DeployNetwork[];
  hosts: Record<string, string>;
}

export interface StartCommand {
  name: 'start';
  args: string[];
}

export interface RunCommand {
  name: 'run';
  entryPoint: string;
  args: string[];
  capture: Capture | undefined;
}

export interface TransferCommand {
  name: 'transfer';
  from: string;
  to: string;
  format: string | undefined;
}

export type SimpleCommand = { name: 'terminate' } | { name: 'sign' };

export type Command = DeployCommand | StartCommand | RunCommand | TransferCommand | SimpleCommand;

function bad(message: string, details: Record<string, unknown> = {}): never {
  throw new GolemError(ExeScriptErrorCode.Invalid, message, { details, httpStatus: 400 });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string'))
    bad(`${what} must be a list of strings`);
  return value as string[];
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isObject(value) || Object.values(value).some((item) => typeof item !== 'string'))
    bad(`${what} must be a map of strings`);
  return value as Record<string, string>;
}

function requiredString(body: Record<string, unknown>, field: string, command: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') bad(`${command}: missing field \`${field}\``, { field });
  return value;
}

function formatOf(value: unknown): CaptureFormat {
  if (value === undefined || value === null || value === 'str' || value === 'string') return 'str';
  if (value === 'bin' || value === 'binary') return 'bin';
  return bad(`unknown capture format ${JSON.stringify(value)}, expected one of str, string, bin, binary`);
}

function count(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    bad(`${what} must be a whole number`);
  return value;
}

function captureMode(value: unknown, stream: string): CaptureMode | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) bad(`capture.${stream} must be an object`);
  if (isObject(value.atEnd)) {
    const atEnd = value.atEnd;
    let part: CapturePart | undefined;
    if (atEnd.head !== undefined) part = { head: count(atEnd.head, 'head') };
    else if (atEnd.tail !== undefined) part = { tail: count(atEnd.tail, 'tail') };
    else if (atEnd.headTail !== undefined) part = { headTail: count(atEnd.headTail, 'headTail') };
    return { kind: 'atEnd', part, format: formatOf(atEnd.format) };
  }
  if (isObject(value.stream)) {
    const stream = value.stream;
    const limit =
      stream.limit === undefined || stream.limit === null ? undefined : count(stream.limit, 'limit');
    return { kind: 'stream', limit, format: formatOf(stream.format) };
  }
  return bad(`capture.${stream} must be {"atEnd": {…}} or {"stream": {…}}`);
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipv4(value: unknown, what: string): string {
  if (typeof value !== 'string' || !IPV4.test(value)) bad(`${what} must be an IPv4 address`, { value });
  return value;
}

function deployNetworks(value: unknown): DeployNetwork[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) bad('deploy.net must be a list');
  if (value.length > MAX_DEPLOY_NETWORKS)
    bad(`deploy.net may name at most ${MAX_DEPLOY_NETWORKS} networks`, { networks: value.length });
  return value.map((entry: unknown, index): DeployNetwork => {
    const what = `deploy.net[${index}]`;
    if (!isObject(entry)) bad(`${what} must be an object`);
    if (typeof entry.id !== 'string' || !/^[0-9A-Za-z_-]{1,64}$/.test(entry.id))
      bad(`${what}.id must be a network id`);
    const nodes = stringMap(entry.nodes, `${what}.nodes`);
    if (Object.keys(nodes).length > MAX_DEPLOY_NETWORK_NODES)
      bad(`${what}.nodes may list at most ${MAX_DEPLOY_NETWORK_NODES} addresses`);
    for (const ip of Object.keys(nodes)) ipv4(ip, `${what}.nodes key`);
    const network: DeployNetwork = {
      id: entry.id,
      ip: ipv4(entry.ip, `${what}.ip`),
      mask: ipv4(entry.mask, `${what}.mask`),
      nodes,
      nodeIp: ipv4(entry.nodeIp, `${what}.nodeIp`),
    };
    if (entry.gateway !== undefined && entry.gateway !== null && entry.gateway !== '')
      network.gateway = ipv4(entry.gateway, `${what}.gateway`);
    return network;
  });
}

function parseCommand(raw: unknown, index: number): Command {
  if (!isObject(raw)) bad(`command ${index} is not an object`, { index });
  const keys = Object.keys(raw);
  if (keys.length !== 1) bad(`command ${index} must have exactly one key, the command name`, { index, keys });
  const name = keys[0]!;
  if (!(COMMAND_NAMES as readonly string[]).includes(name))
    bad(`unknown variant \`${name}\`, expected one of ${COMMAND_NAMES.map((n) => `\`${n}\``).join(', ')}`, {
      index,
      command: name,
    });
  const body = raw[name] ?? {};
  if (!isObject(body)) bad(`${name}: the command's value must be an object`, { index });
  switch (name as CommandName) {
    case 'deploy': {
      const volumes = Array.isArray(body.volumes)
        ? stringList(body.volumes, 'deploy.volumes')
        : isObject(body.volumes)
          ? Object.keys(body.volumes)
          : [];
      return {
        name: 'deploy',
        volumes,
        volumeOverride: isObject(body.volumes) ? body.volumes : undefined,
        env: stringMap(body.env, 'deploy.env'),
        hostname: typeof body.hostname === 'string' ? body.hostname : undefined,
        net: deployNetworks(body.net),
        hosts: stringMap(body.hosts, 'deploy.hosts'),
      };
    }
    case 'start':
      return { name: 'start', args: stringList(body.args, 'start.args') };
    case 'run': {
      const capture = body.capture;
      if (capture !== undefined && capture !== null && !isObject(capture))
        bad('run.capture must be an object');
      return {
        name: 'run',
        entryPoint: requiredString(body, 'entry_point', 'run'),
        args: stringList(body.args, 'run.args'),
        capture: isObject(capture)
          ? { stdout: captureMode(capture.stdout, 'stdout'), stderr: captureMode(capture.stderr, 'stderr') }
          : undefined,
      };
    }
    case 'transfer':
      return {
        name: 'transfer',
        from: requiredString(body, 'from', 'transfer'),
        to: requiredString(body, 'to', 'transfer'),
        format: typeof body.format === 'string' ? body.format : undefined,
      };
    default:
      return name === 'sign' ? { name: 'sign' } : { name: 'terminate' };
  }
}

/** Validates a script (already JSON-parsed). */
export function parseExeScript(script: unknown): Command[] {
  if (!Array.isArray(script)) bad('an ExeScript is a JSON list of commands');
  if (script.length === 0) bad('an ExeScript needs at least one command');
  if (script.length > MAX_COMMANDS_PER_SCRIPT)
    bad(`an ExeScript may have at most ${MAX_COMMANDS_PER_SCRIPT} commands`, { commands: script.length });
  return script.map((raw, index) => parseCommand(raw, index));
}

/** The `text` of an exec request: a JSON-encoded list of commands. */
export function parseExeScriptText(text: unknown): ExeScriptCommand[] {
  if (typeof text !== 'string') bad('the exec body must be {"text": "<JSON list of commands>"}');
  if (Buffer.byteLength(text) > MAX_SCRIPT_BYTES)
    bad(`an ExeScript may have at most ${MAX_SCRIPT_BYTES} bytes`, { bytes: Buffer.byteLength(text) });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    bad(`the ExeScript is not JSON: ${(cause as Error).message}`);
  }
  parseExeScript(parsed);
  return parsed as ExeScriptCommand[];
}
