import type { StandardProperty } from '../types.ts';
import { commercial } from './commercial.ts';
import { commons } from './commons.ts';
import { node } from './node.ts';
import { service } from './service.ts';
import { usage } from './usage.ts';

/** Every property and usage counter of the standards, 0-commons first. */
export const catalog: readonly StandardProperty[] = [
  ...commons,
  ...node,
  ...service,
  ...commercial,
  ...usage,
];

/** Name prefixes owned by the standards: an unknown key under one of them is an error. */
export const STANDARD_NAMESPACES: readonly string[] = [
  'golem.activity.',
  'golem.inf.',
  'golem.runtime.',
  'golem.node.',
  'golem.srv.',
  'golem.com.',
  'golem.usage.',
];

/**
 * Prefixes inside the standard namespaces where others define the names, so unknown keys there are fine:
 * ya-runtime-http-auth copies its service definition under `golem.runtime.http-auth.`.
 */
export const OPEN_PREFIXES: readonly string[] = ['golem.runtime.http-auth.'];

/** The convention for experimental properties (`golem.!exp.gap-35.v1.inf.gpu…`): never checked. */
export const EXPERIMENTAL_PREFIX = 'golem.!exp.';

/** Names a usage vector may list (current and deprecated counters). */
export const USAGE_COUNTERS: ReadonlySet<string> = new Set(
  catalog.filter((p) => p.counter).map((p) => p.key),
);

const exact = new Map<string, StandardProperty>();
/** Keys with `<placeholder>` segments, split once; a placeholder matches any one non-empty segment. */
const patterns: { segments: string[]; property: StandardProperty }[] = [];
for (const property of catalog) {
  if (property.key.includes('<')) patterns.push({ segments: property.key.split('.'), property });
  else exact.set(property.key, property);
}

function matchesPattern(segments: string[], key: string): boolean {
  const parts = key.split('.');
  if (parts.length !== segments.length) return false;
  return segments.every((segment, i) =>
    segment.startsWith('<') ? (parts[i] ?? '') !== '' : segment === parts[i],
  );
}

/** The standard property (or usage counter) a key names, or undefined. */
export function lookupProperty(key: string): StandardProperty | undefined {
  return exact.get(key) ?? patterns.find((p) => matchesPattern(p.segments, key))?.property;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The catalog key an unknown key most likely meant: the same name with or without the negotiable `?`, `_` and
 * `-` swapped, or the nearest key within a few edits. Undefined when nothing is close.
 */
export function suggestKey(key: string): string | undefined {
  const bare = key.endsWith('?') ? key.slice(0, -1) : key;
  for (const candidate of [`${bare}?`, bare, bare.replaceAll('_', '-'), bare.replaceAll('-', '_')]) {
    if (candidate !== key && exact.has(candidate)) return candidate;
  }
  let best: { key: string; distance: number } | undefined;
  for (const candidate of exact.keys()) {
    if (Math.abs(candidate.length - key.length) > 3) continue;
    const distance = editDistance(key, candidate);
    if (distance <= 3 && (best === undefined || distance < best.distance))
      best = { key: candidate, distance };
  }
  return best?.key;
}
