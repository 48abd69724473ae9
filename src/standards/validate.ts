import { DateTime, Decimal, type FlatProperties, type PropertyValue, Version } from '../language/index.ts';
import { lookupProperty, STANDARD_NAMESPACES, USAGE_COUNTERS } from './catalog/index.ts';
import { describeType, type ValueType } from './types.ts';

export type IssueSeverity = 'error' | 'warning';

export interface ValidationIssue {
  severity: IssueSeverity;
  key: string;
  code:
    | 'STANDARDS_WRONG_TYPE'
    | 'STANDARDS_UNKNOWN_KEY'
    | 'STANDARDS_UNKNOWN_GOLEM_KEY'
    | 'STANDARDS_DEPRECATED'
    | 'STANDARDS_WRONG_SIDE'
    | 'STANDARDS_BAD_VALUE';
  message: string;
}

function matches(type: ValueType, value: PropertyValue): boolean {
  switch (type.kind) {
    case 'string':
      return typeof value === 'string' && (type.values === undefined || type.values.includes(value));
    case 'number':
      return typeof value === 'number' && (!type.integer || Number.isInteger(value));
    case 'boolean':
      return typeof value === 'boolean';
    case 'version':
      return value instanceof Version || (typeof value === 'string' && Version.parse(value) !== undefined);
    case 'datetime':
      return value instanceof DateTime || (typeof value === 'string' && DateTime.parse(value) !== undefined);
    case 'decimal':
      return (
        value instanceof Decimal ||
        typeof value === 'number' ||
        (typeof value === 'string' && Decimal.parse(value) !== undefined)
      );
    case 'list':
      return Array.isArray(value) && value.every((item) => matches(type.of, item));
  }
}

function show(value: PropertyValue): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Checks a flat property set against the standards: types, unknown keys inside a standard namespace (errors),
 * unknown `golem.*` keys, deprecated keys and keys on the wrong side (warnings). Keys outside `golem.` are free.
 */
export function validateProperties(
  props: FlatProperties,
  options: { side?: 'offer' | 'demand' } = {},
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const [key, value] of Object.entries(props)) {
    const property = lookupProperty(key);
    if (property === undefined) {
      if (STANDARD_NAMESPACES.some((prefix) => key.startsWith(prefix))) {
        issues.push({
          severity: 'error',
          key,
          code: 'STANDARDS_UNKNOWN_KEY',
          message: `${key} is not a property of the standard namespace it is in`,
        });
      } else if (key.startsWith('golem.')) {
        issues.push({
          severity: 'warning',
          key,
          code: 'STANDARDS_UNKNOWN_GOLEM_KEY',
          message: `${key} is not in the Golem Standards`,
        });
      }
      continue;
    }
    if (value !== null && !matches(property.type, value)) {
      issues.push({
        severity: 'error',
        key,
        code: 'STANDARDS_WRONG_TYPE',
        message: `${key} must be ${describeType(property.type)}, got ${show(value)}`,
      });
    }
    if (property.deprecated !== undefined) {
      const instead =
        property.deprecated.replacement === undefined ? '' : `; use ${property.deprecated.replacement}`;
      issues.push({
        severity: 'warning',
        key,
        code: 'STANDARDS_DEPRECATED',
        message: `${key} is deprecated${instead}`,
      });
    }
    if (options.side !== undefined && property.side !== 'both' && property.side !== options.side) {
      issues.push({
        severity: 'warning',
        key,
        code: 'STANDARDS_WRONG_SIDE',
        message: `${key} belongs in ${property.side === 'offer' ? 'an offer' : 'a demand'}`,
      });
    }
  }
  const vector = props['golem.com.usage.vector'];
  if (Array.isArray(vector)) {
    for (const counter of vector) {
      if (typeof counter === 'string' && !USAGE_COUNTERS.has(counter) && counter.startsWith('golem.')) {
        issues.push({
          severity: 'warning',
          key: 'golem.com.usage.vector',
          code: 'STANDARDS_BAD_VALUE',
          message: `usage counter ${counter} is not in the standards`,
        });
      }
    }
    const coeffs = props['golem.com.pricing.model.linear.coeffs'];
    if (Array.isArray(coeffs) && coeffs.length !== vector.length + 1 && coeffs.length !== vector.length) {
      issues.push({
        severity: 'error',
        key: 'golem.com.pricing.model.linear.coeffs',
        code: 'STANDARDS_BAD_VALUE',
        message: `linear pricing needs one coefficient per usage counter plus the start price (${vector.length + 1}), got ${coeffs.length}`,
      });
    }
  }
  return issues;
}
