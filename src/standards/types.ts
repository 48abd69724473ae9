/** Value types a standard property can have. */
export type ValueType =
  /** Free text; `pattern` (a JSON Schema regular expression) narrows it where the standard fixes a format. */
  | { kind: 'string'; pattern?: string; format?: string }
  /** A closed set of strings: any other value is an error. */
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'number'; integer?: boolean; minimum?: number }
  | { kind: 'boolean' }
  /** Semantic version; JSON carries it as a string, the flat syntax as `v"1.2.3"`. */
  | { kind: 'version' }
  /** RFC 3339 instant; JSON carries it as a string, the flat syntax as `t"…"`. */
  | { kind: 'datetime' }
  /** Exact decimal; JSON carries it as a string or a number, the flat syntax as `d"…"`. */
  | { kind: 'decimal' }
  | { kind: 'list'; of: ValueType };

/** Which kind of document a property belongs in. */
export type Side = 'offer' | 'demand' | 'both';

/** The four categories of the Golem Standards (v0.7.1). */
export type Category = '0-commons' | '1-node' | '2-service' | '3-commercial';

/**
 * Where a property's definition comes from: `standard` (written in the standards), `experimental` (written there,
 * marked experimental) or `de-facto` (emitted or read by Golem's own agents and runtimes, not written there).
 */
export type Status = 'standard' | 'experimental' | 'de-facto';

/** One property (or usage counter) of the Golem Standards. */
export interface StandardProperty {
  /** Full name. A segment written `<name>` stands for exactly one name segment (e.g. a payment platform). */
  key: string;
  type: ValueType;
  /** Negotiable properties end with `?` and bind only when both sides state the same value. */
  negotiable: boolean;
  side: Side;
  category: Category;
  /**
   * The standard's document that defines it (path under golem-architecture `standards/`), or for de facto
   * properties the component that emits or reads it.
   */
  source: string;
  status: Status;
  /** One line, what the property says. */
  meaning: string;
  unit?: string;
  /** A usage counter: a name listed in `golem.com.usage.vector` and reported by ExeUnits, not a property key. */
  counter?: boolean;
  deprecated?: { replacement?: string; note?: string };
  /** Values in use for an open-ended string: others get a warning, not an error. */
  knownValues?: readonly string[];
  /** Values the standard retired: they get a warning. */
  deprecatedValues?: readonly string[];
  /**
   * A numeric property that Golem's own clients send as a numeric string (golem-js sends the payment protocol
   * version as `"3"`): accepted with a warning instead of an error.
   */
  acceptsNumericString?: boolean;
  /** Anything else a reader must know (a quirk, a conflict between the standard and practice). */
  note?: string;
  example?: unknown;
}

/** Shorthands for writing the catalog. */
export const t = {
  string: (pattern?: string): ValueType =>
    pattern === undefined ? { kind: 'string' } : { kind: 'string', pattern },
  enum: (...values: string[]): ValueType => ({ kind: 'enum', values }),
  number: (): ValueType => ({ kind: 'number' }),
  integer: (minimum?: number): ValueType =>
    minimum === undefined ? { kind: 'number', integer: true } : { kind: 'number', integer: true, minimum },
  boolean: (): ValueType => ({ kind: 'boolean' }),
  version: (): ValueType => ({ kind: 'version' }),
  datetime: (): ValueType => ({ kind: 'datetime' }),
  decimal: (): ValueType => ({ kind: 'decimal' }),
  list: (of: ValueType): ValueType => ({ kind: 'list', of }),
};

export const VALUE_KINDS: readonly ValueType['kind'][] = [
  'string',
  'enum',
  'number',
  'boolean',
  'version',
  'datetime',
  'decimal',
  'list',
];

/** A short human name of a type, as the CLI and the docs page show it. */
export function describeType(type: ValueType): string {
  switch (type.kind) {
    case 'string':
      return type.pattern === undefined ? 'string' : 'string (formatted)';
    case 'enum':
      return `enum (${type.values.join(' | ')})`;
    case 'number':
      return type.integer
        ? type.minimum === undefined
          ? 'integer'
          : `integer >= ${type.minimum}`
        : 'number';
    case 'list':
      return `list of ${describeType(type.of)}`;
    default:
      return type.kind;
  }
}
