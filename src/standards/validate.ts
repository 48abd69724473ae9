import { DateTime, Decimal, type FlatProperties, type PropertyValue, Version } from '../language/index.ts';
import {
  EXPERIMENTAL_PREFIX,
  lookupProperty,
  OPEN_PREFIXES,
  STANDARD_NAMESPACES,
  suggestKey,
  USAGE_COUNTERS,
} from './catalog/index.ts';
import { type IssueCode, StandardsIssueCode } from './errors.ts';
import { describeType, type StandardProperty, type ValueType } from './types.ts';

export type IssueSeverity = 'error' | 'warning';

export interface ValidationIssue {
  severity: IssueSeverity;
  key: string;
  code: IssueCode;
  message: string;
  /** For deprecated keys and counters: the key to use instead. */
  replacement?: string;
  /** For unknown keys: the catalog key it most likely meant. */
  suggestion?: string;
}

export interface ValidateOptions {
  /** Which document the properties are: keys that belong to the other side get a warning. */
  side?: 'offer' | 'demand';
}

type Problem = {
  code: typeof StandardsIssueCode.WrongType | typeof StandardsIssueCode.BadValue;
  detail: string;
};

function show(value: PropertyValue): string {
  const text =
    value instanceof Version
      ? `v"${value.raw}"`
      : value instanceof Decimal
        ? `d"${value.raw}"`
        : value instanceof DateTime
          ? `t"${value.raw}"`
          : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Why a value does not fit a type, or undefined when it fits. `null` (a value-less property) always fits. */
function checkValue(type: ValueType, value: PropertyValue): Problem | undefined {
  const wrongType = (): Problem => ({
    code: StandardsIssueCode.WrongType,
    detail: `must be ${describeType(type)}, got ${show(value)}`,
  });
  switch (type.kind) {
    case 'string':
      if (typeof value !== 'string') return wrongType();
      if (type.pattern !== undefined && !new RegExp(type.pattern).test(value))
        return {
          code: StandardsIssueCode.BadValue,
          detail: `must match ${type.pattern}, got ${show(value)}`,
        };
      return undefined;
    case 'enum':
      if (typeof value !== 'string') return wrongType();
      return type.values.includes(value)
        ? undefined
        : {
            code: StandardsIssueCode.BadValue,
            detail: `must be one of ${type.values.join(', ')}, got ${show(value)}`,
          };
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value) || (type.integer && !Number.isInteger(value)))
        return wrongType();
      if (type.minimum !== undefined && value < type.minimum)
        return {
          code: StandardsIssueCode.BadValue,
          detail: `must be at least ${type.minimum}, got ${show(value)}`,
        };
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : wrongType();
    case 'version':
      return value instanceof Version || (typeof value === 'string' && Version.parse(value) !== undefined)
        ? undefined
        : wrongType();
    case 'datetime':
      return value instanceof DateTime || (typeof value === 'string' && DateTime.parse(value) !== undefined)
        ? undefined
        : wrongType();
    case 'decimal':
      return value instanceof Decimal ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        (typeof value === 'string' && Decimal.parse(value) !== undefined)
        ? undefined
        : wrongType();
    case 'list': {
      if (!Array.isArray(value)) return wrongType();
      for (const [index, item] of value.entries()) {
        const problem = checkValue(type.of, item);
        if (problem !== undefined) return { code: problem.code, detail: `item ${index} ${problem.detail}` };
      }
      return undefined;
    }
  }
}

function isNumericString(value: PropertyValue): value is string {
  return typeof value === 'string' && /^[0-9]+$/.test(value);
}

/** Issues about the value of a known property. */
function valueIssues(key: string, property: StandardProperty, value: PropertyValue): ValidationIssue[] {
  if (value === null) return [];
  const issues: ValidationIssue[] = [];
  let checked = value;
  if (property.acceptsNumericString && isNumericString(value)) {
    issues.push({
      severity: 'warning',
      key,
      code: StandardsIssueCode.LooseType,
      message: `${key} is the string ${show(value)}; the standard wants ${describeType(property.type)} (accepted, as Golem's clients send it this way)`,
    });
    checked = Number(value);
  }
  const problem = checkValue(property.type, checked);
  if (problem !== undefined) {
    issues.push({ severity: 'error', key, code: problem.code, message: `${key} ${problem.detail}` });
    return issues;
  }
  const texts = typeof checked === 'string' ? [checked] : Array.isArray(checked) ? checked : [];
  for (const text of texts) {
    if (typeof text !== 'string') continue;
    if (property.deprecatedValues?.includes(text)) {
      issues.push({
        severity: 'warning',
        key,
        code: StandardsIssueCode.DeprecatedValue,
        message: `${key}: the value ${show(text)} is deprecated`,
      });
    } else if (property.knownValues !== undefined && !property.knownValues.includes(text)) {
      issues.push({
        severity: 'warning',
        key,
        code: StandardsIssueCode.UnknownValue,
        message: `${key}: ${show(text)} is not a value the standard knows (${property.knownValues.join(', ')})`,
      });
    }
  }
  return issues;
}

function unknownKeyIssue(key: string): ValidationIssue | undefined {
  if (key.startsWith(EXPERIMENTAL_PREFIX) || OPEN_PREFIXES.some((prefix) => key.startsWith(prefix)))
    return undefined;
  const inStandard = STANDARD_NAMESPACES.some((prefix) => key.startsWith(prefix));
  if (!inStandard && !key.startsWith('golem.')) return undefined;
  const suggestion = suggestKey(key);
  const hint = suggestion === undefined ? '' : `; did you mean ${suggestion}?`;
  return {
    severity: inStandard ? 'error' : 'warning',
    key,
    code: inStandard ? StandardsIssueCode.UnknownKey : StandardsIssueCode.UnknownGolemKey,
    message: inStandard
      ? `${key} is not defined by the standard namespace it is in${hint}`
      : `${key} is not in the Golem Standards${hint}`,
    ...(suggestion === undefined ? {} : { suggestion }),
  };
}

function deprecationIssue(key: string, property: StandardProperty): ValidationIssue | undefined {
  const deprecated = property.deprecated;
  if (deprecated === undefined) return undefined;
  const instead = deprecated.replacement === undefined ? '' : `; use ${deprecated.replacement} instead`;
  return {
    severity: 'warning',
    key,
    code: StandardsIssueCode.Deprecated,
    message: `${key} is deprecated${instead}`,
    ...(deprecated.replacement === undefined ? {} : { replacement: deprecated.replacement }),
  };
}

/** The usage vector names counters, and the linear coefficients must fit it: one per counter, then the start price. */
function pricingIssues(props: FlatProperties): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const vectorKey = 'golem.com.usage.vector';
  const coeffsKey = 'golem.com.pricing.model.linear.coeffs';
  const vector = Object.hasOwn(props, vectorKey) ? props[vectorKey] : undefined;
  const coeffs = Object.hasOwn(props, coeffsKey) ? props[coeffsKey] : undefined;
  if (Array.isArray(vector)) {
    for (const counter of vector) {
      if (typeof counter !== 'string' || !counter.startsWith('golem.') || USAGE_COUNTERS.has(counter))
        continue;
      const suggestion = suggestKey(counter);
      issues.push({
        severity: 'warning',
        key: vectorKey,
        code: StandardsIssueCode.UnknownCounter,
        message: `usage counter ${counter} is not in the standards${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
        ...(suggestion === undefined ? {} : { suggestion }),
      });
    }
  }
  if (Array.isArray(vector) && Array.isArray(coeffs)) {
    if (coeffs.length === vector.length) {
      issues.push({
        severity: 'warning',
        key: coeffsKey,
        code: StandardsIssueCode.PricingMismatch,
        message: `${coeffsKey} has one coefficient per usage counter but no start price (the standard wants ${vector.length + 1}; golem-js accepts ${vector.length})`,
      });
    } else if (coeffs.length !== vector.length + 1) {
      issues.push({
        severity: 'error',
        key: coeffsKey,
        code: StandardsIssueCode.PricingMismatch,
        message: `${coeffsKey} needs one coefficient per usage counter plus the start price (${vector.length + 1}), got ${coeffs.length}`,
      });
    }
  } else if (
    props['golem.com.pricing.model'] === 'linear' &&
    (vector === undefined) !== (coeffs === undefined)
  ) {
    const missing = vector === undefined ? vectorKey : coeffsKey;
    issues.push({
      severity: 'warning',
      key: missing,
      code: StandardsIssueCode.PricingMismatch,
      message: `linear pricing without ${missing}: requestors cannot compute a price (golem-js drops such proposals)`,
    });
  }
  return issues;
}

/**
 * Checks a flat property set against the standards. Errors: wrong types and values, unknown keys inside a standard
 * namespace. Warnings: unknown `golem.*` keys elsewhere, deprecated keys and values, keys on the wrong side,
 * counters used as keys, pricing that does not fit the usage vector. Keys outside `golem.` are free, and so is the
 * experimental `golem.!exp.` space. Issues come in the order of the keys.
 */
export function validateProperties(props: FlatProperties, options: ValidateOptions = {}): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const key of Object.keys(props)) {
    const value = props[key] as PropertyValue;
    const property = lookupProperty(key);
    if (property === undefined) {
      const issue = unknownKeyIssue(key);
      if (issue !== undefined) issues.push(issue);
      continue;
    }
    if (property.counter) {
      issues.push({
        severity: 'warning',
        key,
        code: StandardsIssueCode.CounterAsProperty,
        message: `${key} is a usage counter, not a property: list it in golem.com.usage.vector`,
      });
      continue;
    }
    issues.push(...valueIssues(key, property, value));
    const deprecation = deprecationIssue(key, property);
    if (deprecation !== undefined) issues.push(deprecation);
    if (options.side !== undefined && property.side !== 'both' && property.side !== options.side) {
      issues.push({
        severity: 'warning',
        key,
        code: StandardsIssueCode.WrongSide,
        message: `${key} belongs in ${property.side === 'offer' ? 'an offer' : 'a demand'}, not in ${options.side === 'offer' ? 'an offer' : 'a demand'}`,
      });
    }
  }
  issues.push(...pricingIssues(props));
  return issues;
}
