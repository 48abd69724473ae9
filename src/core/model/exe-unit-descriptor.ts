/**
 * ExeUnit runtime descriptors in Golem's format (provider.md §1.3): every file found through the
 * `EXE_UNIT_PATH` setting holds a JSON array of
 * `{name, version, supervisor-path, runtime-path, description, extra-args, properties, config}`; relative
 * paths are relative to the file. A supervisor path of `exe-unit` (Golem's binary name) or none means this
 * project's own supervisor. It is Golem's public file format, so the daemon's activity module (which starts
 * the supervisor) and the provider agent (which offers the runtimes) both read it from here.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActivityErrorCode } from '../activity/errors.ts';
import { GolemError } from '../errors/index.ts';

export const OWN_SUPERVISOR = fileURLToPath(new URL('../../execution/exeunit/main.ts', import.meta.url));
/** The descriptors shipped with this repository. */
export const DEFAULT_EXE_UNIT_PATH = fileURLToPath(
  new URL('../../execution/runtimes/*/descriptor.json', import.meta.url),
);

export interface RuntimeDescriptor {
  name: string;
  version: string;
  supervisorPath: string;
  runtimePath: string;
  description: string;
  extraArgs: string[];
  properties: Record<string, unknown>;
  config: Record<string, unknown> | undefined;
  /** The file it came from. */
  file: string;
}

/** Files matching one pattern; `*` is allowed in path segments (`runtimes/*\/descriptor.json`). */
export function globFiles(pattern: string): string[] {
  const absolute = resolve(pattern);
  const parts = absolute.split('/').filter((part) => part !== '');
  let current = ['/'];
  for (const part of parts) {
    const next: string[] = [];
    for (const dir of current) {
      if (!part.includes('*')) {
        const path = join(dir, part);
        if (existsSync(path)) next.push(path);
        continue;
      }
      const regex = new RegExp(
        `^${part
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      );
      try {
        for (const entry of readdirSync(dir).sort()) if (regex.test(entry)) next.push(join(dir, entry));
      } catch {
        // not a directory
      }
    }
    current = next;
  }
  return current;
}

function bad(file: string, message: string): never {
  throw new GolemError(ActivityErrorCode.BadDescriptor, `${file}: ${message}`, { details: { file } });
}

export function parseDescriptorFile(file: string, text: string): RuntimeDescriptor[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    bad(file, `not JSON (${(cause as Error).message})`);
  }
  if (!Array.isArray(parsed)) bad(file, 'a descriptor file holds a JSON array');
  const dir = dirname(file);
  const path = (value: string) => (isAbsolute(value) ? value : join(dir, value));
  return parsed.map((raw, index) => {
    if (typeof raw !== 'object' || raw === null) bad(file, `entry ${index} is not an object`);
    const entry = raw as Record<string, unknown>;
    if (typeof entry.name !== 'string' || entry.name === '') bad(file, `entry ${index} has no name`);
    if (typeof entry['runtime-path'] !== 'string') bad(file, `${entry.name} has no runtime-path`);
    const supervisor = entry['supervisor-path'];
    const extraArgs = entry['extra-args'] ?? [];
    if (!Array.isArray(extraArgs) || extraArgs.some((arg) => typeof arg !== 'string'))
      bad(file, `${entry.name}: extra-args must be a list of strings`);
    return {
      name: entry.name,
      version: typeof entry.version === 'string' ? entry.version : '0.0.0',
      supervisorPath:
        typeof supervisor !== 'string' || supervisor === '' || basename(supervisor) === 'exe-unit'
          ? OWN_SUPERVISOR
          : path(supervisor),
      runtimePath: path(entry['runtime-path']),
      description: typeof entry.description === 'string' ? entry.description : '',
      extraArgs: extraArgs as string[],
      properties: (entry.properties as Record<string, unknown> | undefined) ?? {},
      config: entry.config as Record<string, unknown> | undefined,
      file,
    };
  });
}

/** Every descriptor found through the patterns (comma- or colon-separated, as a PATH). Later files do not override earlier ones. */
export function loadDescriptors(patterns: readonly string[]): RuntimeDescriptor[] {
  const out: RuntimeDescriptor[] = [];
  for (const pattern of patterns)
    for (const file of globFiles(pattern)) {
      for (const descriptor of parseDescriptorFile(file, readFileSync(file, 'utf8')))
        if (!out.some((known) => known.name === descriptor.name)) out.push(descriptor);
    }
  return out;
}
