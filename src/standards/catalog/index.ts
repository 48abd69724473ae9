import type { StandardProperty } from '../types.ts';
import { commercial } from './commercial.ts';
import { commons } from './commons.ts';
import { node } from './node.ts';
import { service } from './service.ts';
import { usage } from './usage.ts';

export { USAGE_COUNTERS } from './usage.ts';

export const catalog: readonly StandardProperty[] = [
  ...commons,
  ...node,
  ...service,
  ...commercial,
  ...usage,
];

/** Name prefixes owned by the standards: an unknown key under one of them is an error. */
export const STANDARD_NAMESPACES = [
  'golem.activity.',
  'golem.inf.',
  'golem.runtime.',
  'golem.node.',
  'golem.srv.',
  'golem.com.',
  'golem.usage.',
] as const;

const exact = new Map<string, StandardProperty>();
const patterns: { regex: RegExp; property: StandardProperty }[] = [];
for (const property of catalog) {
  if (property.key.includes('<')) {
    const source = property.key
      .split('.')
      .map((segment) => (segment.startsWith('<') ? '[^.]+' : segment.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')))
      .join('\\.');
    patterns.push({ regex: new RegExp(`^${source}$`), property });
  } else exact.set(property.key, property);
}

/** The standard property a key is, or undefined. */
export function lookupProperty(key: string): StandardProperty | undefined {
  return exact.get(key) ?? patterns.find((p) => p.regex.test(key))?.property;
}
