/**
 * Golem's WASM package (ya-runtime-wasi): a zip with `manifest.json` at its root (kebab-case keys):
 * `{"id", "name", "entry-points": [{"id", "wasm-path"}], "mount-points": [{"ro"|"rw"|"wo"|"private": "<dir>"}]}`.
 * Every path in it is checked here, once, before anything is created: no absolute paths, no `..`, entry points
 * that exist in the zip. Reading stays bounded: only the manifest and the named modules are inflated, each at
 * most `MAX_ENTRY_BYTES`.
 */
import { readFileSync, statSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { GolemError } from '../../../core/errors/index.ts';
import { badManifest, WasiErrorCode } from './errors.ts';

export const MAX_PACKAGE_BYTES = 1024 * 1024 * 1024;
export const MAX_ENTRY_BYTES = 256 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 1024 * 1024;
const MAX_ENTRY_POINTS = 256;
const MAX_MOUNT_POINTS = 64;
const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const SEGMENT = /^[A-Za-z0-9_.+-]{1,128}$/;

export type MountAccess = 'ro' | 'rw' | 'wo' | 'private';

export interface MountPoint {
  access: MountAccess;
  /** Relative, normalized (`a/b`), no `..`. */
  path: string;
}

export interface EntryPoint {
  id: string;
  wasmPath: string;
}

export interface WasiManifest {
  id: string;
  name: string;
  entryPoints: EntryPoint[];
  mountPoints: MountPoint[];
}

/** A relative path inside the package or the container: segments of safe characters, nothing that climbs. */
function relativePath(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) {
    throw badManifest(`${what} must be a non-empty path`, { value });
  }
  const segments = value.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (
    value.startsWith('/') ||
    value.includes('\\') ||
    segments.length === 0 ||
    segments.some((segment) => segment === '..' || !SEGMENT.test(segment))
  ) {
    throw badManifest(`${what} ${JSON.stringify(value)} must be a relative path without '..'`, { value });
  }
  return segments.join('/');
}

export function parseManifest(text: string): WasiManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw badManifest(`not JSON: ${(cause as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw badManifest('must be a JSON object');
  const manifest = raw as Record<string, unknown>;
  const runtime = manifest.runtime;
  if (runtime !== undefined && runtime !== 'wasi') {
    throw badManifest(`runtime ${JSON.stringify(runtime)} is not supported (only "wasi")`);
  }
  const entries = manifest['entry-points'];
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > MAX_ENTRY_POINTS) {
    throw badManifest(`entry-points must list 1..${MAX_ENTRY_POINTS} entry points`);
  }
  const entryPoints = entries.map((entry, index): EntryPoint => {
    const { id, 'wasm-path': wasmPath } = (entry ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || !ID.test(id)) {
      throw badManifest(`entry-points[${index}].id must be 1..64 of [A-Za-z0-9_.-]`, { id });
    }
    return { id, wasmPath: relativePath(wasmPath, `entry-points[${index}].wasm-path`) };
  });
  const ids = new Set(entryPoints.map((entry) => entry.id));
  if (ids.size !== entryPoints.length) throw badManifest('entry point ids must be unique');

  const mounts = manifest['mount-points'] ?? [];
  if (!Array.isArray(mounts) || mounts.length > MAX_MOUNT_POINTS) {
    throw badManifest(`mount-points must be a list of at most ${MAX_MOUNT_POINTS}`);
  }
  const mountPoints = mounts.map((mount, index): MountPoint => {
    const keys = mount !== null && typeof mount === 'object' ? Object.keys(mount) : [];
    const access = keys[0] as MountAccess | undefined;
    if (keys.length !== 1 || !['ro', 'rw', 'wo', 'private'].includes(access!)) {
      throw badManifest(`mount-points[${index}] must be {"ro"|"rw"|"wo"|"private": "<dir>"}`, { mount });
    }
    return {
      access: access!,
      path: relativePath((mount as Record<string, unknown>)[access!], `mount-points[${index}]`),
    };
  });
  const paths = mountPoints.map((mount) => mount.path);
  for (const path of paths) {
    if (paths.some((other) => other !== path && other.startsWith(`${path}/`))) {
      throw badManifest(`mount point ${path} contains another mount point`);
    }
  }
  if (new Set(paths).size !== paths.length) throw badManifest('mount points must be distinct');
  return {
    id: typeof manifest.id === 'string' ? manifest.id : '',
    name: typeof manifest.name === 'string' ? manifest.name : '',
    entryPoints,
    mountPoints,
  };
}

export interface LoadedPackage {
  manifest: WasiManifest;
  /** Module bytes by entry point id (only the ids asked for). */
  modules: Map<string, Uint8Array>;
}

/** Reads the package; `entryIds` picks which modules to inflate (default: all). */
export function loadPackage(path: string, entryIds?: readonly string[]): LoadedPackage {
  let bytes: Uint8Array;
  try {
    const size = statSync(path).size;
    if (size > MAX_PACKAGE_BYTES) {
      throw new GolemError(WasiErrorCode.BadPackage, `package of ${size} bytes is larger than allowed`, {
        details: { limit: MAX_PACKAGE_BYTES },
      });
    }
    bytes = readFileSync(path);
  } catch (cause) {
    if (cause instanceof GolemError) throw cause;
    throw new GolemError(WasiErrorCode.BadPackage, `cannot read the task package ${path}`, { cause });
  }
  const manifestFiles = unzip(bytes, (name, size) => name === 'manifest.json' && size <= MAX_MANIFEST_BYTES);
  const manifestBytes = manifestFiles['manifest.json'];
  if (manifestBytes === undefined) {
    throw new GolemError(
      WasiErrorCode.BadPackage,
      'the package has no manifest.json (of at most 1 MiB) at its root',
    );
  }
  const manifest = parseManifest(new TextDecoder().decode(manifestBytes));
  const wanted = manifest.entryPoints.filter(
    (entry) => entryIds === undefined || entryIds.includes(entry.id),
  );
  const paths = new Set(wanted.map((entry) => entry.wasmPath));
  const tooLarge: string[] = [];
  const files = unzip(bytes, (name, size) => {
    if (!paths.has(name)) return false;
    if (size > MAX_ENTRY_BYTES) tooLarge.push(name);
    return size <= MAX_ENTRY_BYTES;
  });
  if (tooLarge.length > 0) {
    throw new GolemError(WasiErrorCode.BadPackage, `module larger than ${MAX_ENTRY_BYTES} bytes`, {
      details: { paths: tooLarge },
    });
  }
  const modules = new Map<string, Uint8Array>();
  for (const entry of wanted) {
    const module = files[entry.wasmPath];
    if (module === undefined) {
      throw badManifest(`entry point ${entry.id}: ${entry.wasmPath} is not in the package`, {
        entry: entry.id,
      });
    }
    modules.set(entry.id, module);
  }
  return { manifest, modules };
}

function unzip(bytes: Uint8Array, keep: (name: string, size: number) => boolean): Record<string, Uint8Array> {
  try {
    return unzipSync(bytes, { filter: (file) => keep(file.name, file.originalSize) });
  } catch (cause) {
    throw new GolemError(
      WasiErrorCode.BadPackage,
      `the task package is not a readable zip: ${String(cause)}`,
      {
        cause,
      },
    );
  }
}
