/** Value types a standard property can have. */
export type ValueType =
  | { kind: 'string'; values?: readonly string[] }
  | { kind: 'number'; integer?: boolean }
  | { kind: 'boolean' }
  | { kind: 'version' }
  | { kind: 'datetime' }
  | { kind: 'decimal' }
  | { kind: 'list'; of: ValueType };

export type Side = 'offer' | 'demand' | 'both';

/** One property of the Golem Standards. */
export interface StandardProperty {
  /** Full name; `<platform>`-style segments are placeholders for one name segment. */
  key: string;
  type: ValueType;
  /** Negotiable properties end with `?` and bind only when both sides state the same value. */
  negotiable: boolean;
  side: Side;
  /** The standard document group it comes from. */
  namespace: '0-commons' | '1-node' | '2-service' | '3-commercial' | 'usage';
  meaning: string;
  unit?: string;
  deprecated?: { replacement?: string; note?: string };
  /** Emitted by Golem's agents but not (yet) written in the standard. */
  deFacto?: boolean;
  example?: unknown;
}

export const t = {
  string: (values?: readonly string[]): ValueType =>
    values === undefined ? { kind: 'string' } : { kind: 'string', values },
  number: (): ValueType => ({ kind: 'number' }),
  integer: (): ValueType => ({ kind: 'number', integer: true }),
  boolean: (): ValueType => ({ kind: 'boolean' }),
  version: (): ValueType => ({ kind: 'version' }),
  list: (of: ValueType): ValueType => ({ kind: 'list', of }),
};

export function describeType(type: ValueType): string {
  switch (type.kind) {
    case 'string':
      return type.values === undefined ? 'string' : `string (${type.values.join(' | ')})`;
    case 'number':
      return type.integer ? 'integer' : 'number';
    case 'list':
      return `list of ${describeType(type.of)}`;
    default:
      return type.kind;
  }
}
