/**
 * Constraints compiled once into closures over a property set. Three-valued results are small integers on the
 * hot path (FALSE 0, TRUE 1, UNDEFINED 2) and the strings `'false' | 'true' | 'undefined'` at the API.
 * Type rules: a comparison is made in the type of the property; see docs/language.md.
 */

import { createShapeCompiler, generatePredicate, type Shaped } from './codegen.ts';
import {
  type Constraint,
  clauseText,
  constraintSource,
  formatConstraint,
  type Operator,
  parseConstraints,
} from './constraints.ts';
import {
  DateTime,
  Decimal,
  type FlatProperties,
  type PropertyValue,
  parseNumber,
  propertyOf,
  Version,
} from './values.ts';
import { compileWildcard } from './wildcard.ts';

export type Tristate = 'true' | 'false' | 'undefined';

export const FALSE = 0;
export const TRUE = 1;
export const UNDEFINED = 2;
export type Tri = typeof FALSE | typeof TRUE | typeof UNDEFINED;

export const TRISTATE: readonly Tristate[] = ['false', 'true', 'undefined'];

export type Predicate = (props: FlatProperties) => Tri;

/** What one clause saw: the answer to "why did this not match?". */
export interface ClauseReport {
  /** The clause as written, e.g. `(golem.inf.mem.gib>=4)` (layout collapsed). */
  clause: string;
  /** In a two-way match: whose constraint this is (`demand`: the demand's clause over the offer's properties). */
  side?: 'demand' | 'offer';
  /** The property the clause reads (for a compound clause: the first one it reads). */
  property: string;
  result: Tristate;
  /** Value of the property in the evaluated set (`undefined` when absent, `null` when value-less). */
  seen: PropertyValue | undefined;
  present: boolean;
  /** For a compound clause (`&`, `|`, `!`): each comparison inside it, with its own result and value. */
  clauses?: ClauseReport[];
}

export interface CompiledConstraints {
  /** The constraint text (canonical text when compiled from a hand-built AST). */
  readonly source: string;
  readonly root: Constraint;
  /** Fast path: 0 false, 1 true, 2 undefined. */
  readonly predicate: Predicate;
  evaluate(props: FlatProperties): Tristate;
  /**
   * One report per top-level clause (the items of a top-level `&`, else the whole expression), each with its
   * result and the value seen; compound clauses also list the comparisons inside them.
   */
  explain(props: FlatProperties): ClauseReport[];
  /** The reports of `explain` that are not true. */
  failing(props: FlatProperties): ClauseReport[];
}

/** A constraint value pre-read in every type a property may have, once, at compile time. */
interface ValueForms {
  text: string;
  number: number | undefined;
  bool: boolean | undefined;
  version: Version | undefined;
  decimal: Decimal | undefined;
  datetime: DateTime | undefined;
  /** `[a, b]` list form, each item in all forms. */
  list: ValueForms[] | undefined;
  wildcard: ((text: string) => boolean) | undefined;
}

function valueForms(text: string, wildcards: readonly number[]): ValueForms {
  const trimmed = text.trim();
  let list: ValueForms[] | undefined;
  if (trimmed.startsWith('[') && trimmed.endsWith(']')) {
    const inner = trimmed.slice(1, -1).trim();
    list = inner === '' ? [] : inner.split(',').map((item) => valueForms(unquote(item.trim()), []));
  }
  return {
    text,
    number: parseNumber(text),
    bool: text === 'true' ? true : text === 'false' ? false : undefined,
    version: Version.parse(text),
    decimal: Decimal.parse(text),
    datetime: DateTime.parse(text),
    list,
    wildcard: wildcards.length > 0 ? compileWildcard(text, wildcards) : undefined,
  };
}

function unquote(text: string): string {
  return text.length >= 2 && text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
}

function order(op: Operator, cmp: number): Tri {
  switch (op) {
    case '=':
      return cmp === 0 ? TRUE : FALSE;
    case '<':
      return cmp < 0 ? TRUE : FALSE;
    case '<=':
      return cmp <= 0 ? TRUE : FALSE;
    case '>':
      return cmp > 0 ? TRUE : FALSE;
    case '>=':
      return cmp >= 0 ? TRUE : FALSE;
  }
}

/** Compares one (non-list) property value with the constraint value, in the property's type. */
function compareValue(op: Operator, property: PropertyValue, value: ValueForms): Tri {
  switch (typeof property) {
    case 'string':
      if (op === '=') {
        if (value.wildcard !== undefined) return value.wildcard(property) ? TRUE : FALSE;
        return property === value.text ? TRUE : FALSE;
      }
      return order(op, property < value.text ? -1 : property > value.text ? 1 : 0);
    case 'number':
      if (value.number === undefined) return FALSE;
      return order(op, property < value.number ? -1 : property > value.number ? 1 : 0);
    case 'boolean':
      if (op !== '=' || value.bool === undefined) return FALSE;
      return property === value.bool ? TRUE : FALSE;
  }
  if (property instanceof Version)
    return value.version === undefined ? FALSE : order(op, property.compare(value.version));
  if (property instanceof Decimal)
    return value.decimal === undefined ? FALSE : order(op, property.compare(value.decimal));
  if (property instanceof DateTime)
    return value.datetime === undefined ? FALSE : order(op, property.compare(value.datetime));
  return FALSE;
}

function compareList(op: Operator, items: PropertyValue[], value: ValueForms): Tri {
  if (op !== '=') return FALSE;
  if (value.list !== undefined) {
    // `[a,b]`: same length and every listed value equals some element.
    if (value.list.length !== items.length) return FALSE;
    for (const wanted of value.list) {
      if (
        !items.some(
          (item) => !Array.isArray(item) && item !== null && compareValue('=', item, wanted) === TRUE,
        )
      )
        return FALSE;
    }
    return TRUE;
  }
  // A single value: the list contains it.
  for (const item of items) {
    if (item !== null && !Array.isArray(item) && compareValue('=', item, value) === TRUE) return TRUE;
  }
  return FALSE;
}

/** Converts a property for a typed reference (`name$v` …); undefined when it cannot be read in that type. */
function castProperty(cast: 'v' | 'd' | 't', property: PropertyValue): PropertyValue | undefined {
  if (cast === 'v')
    return property instanceof Version
      ? property
      : typeof property === 'string'
        ? Version.parse(property)
        : undefined;
  if (cast === 't')
    return property instanceof DateTime
      ? property
      : typeof property === 'string'
        ? DateTime.parse(property)
        : undefined;
  if (property instanceof Decimal) return property;
  if (typeof property === 'string') return Decimal.parse(property);
  if (typeof property === 'number') return Decimal.fromNumber(property);
  return undefined;
}

function compileNode(node: Constraint): Predicate {
  switch (node.kind) {
    case 'true':
      return () => TRUE;
    case 'present': {
      const { name, aspect } = node;
      // Aspects cannot be declared in offers or demands, so an aspect is never present.
      if (aspect !== undefined) return () => FALSE;
      return (props) => (propertyOf(props, name) !== undefined ? TRUE : FALSE);
    }
    case 'not': {
      const inner = compileNode(node.item);
      return (props) => {
        const r = inner(props);
        return r === UNDEFINED ? UNDEFINED : r === TRUE ? FALSE : TRUE;
      };
    }
    case 'and': {
      const items = node.items.map(compileNode);
      if (items.length === 1) return items[0]!;
      return (props) => {
        let result: Tri = TRUE;
        for (let i = 0; i < items.length; i++) {
          const r = items[i]!(props);
          if (r === FALSE) return FALSE;
          if (r === UNDEFINED) result = UNDEFINED;
        }
        return result;
      };
    }
    case 'or': {
      const items = node.items.map(compileNode);
      if (items.length === 1) return items[0]!;
      return (props) => {
        let result: Tri = FALSE;
        for (let i = 0; i < items.length; i++) {
          const r = items[i]!(props);
          if (r === TRUE) return TRUE;
          if (r === UNDEFINED) result = UNDEFINED;
        }
        return result;
      };
    }
    case 'compare': {
      const { name, op, cast, aspect } = node;
      if (aspect !== undefined) return () => UNDEFINED;
      const value = valueForms(node.value, node.wildcards);
      if (cast !== undefined) {
        return (props) => {
          const property = propertyOf(props, name);
          if (property === undefined || property === null) return UNDEFINED;
          const converted = castProperty(cast, property);
          return converted === undefined ? UNDEFINED : compareValue(op, converted, value);
        };
      }
      // Specialised closures for the common cases keep the hot path free of type dispatch.
      if (value.number !== undefined && op !== '=') {
        const bound = value.number;
        return (props) => {
          const property = propertyOf(props, name);
          if (typeof property === 'number') {
            return order(op, property < bound ? -1 : property > bound ? 1 : 0);
          }
          if (property === undefined || property === null) return UNDEFINED;
          return Array.isArray(property)
            ? compareList(op, property, value)
            : compareValue(op, property, value);
        };
      }
      if (op === '=' && value.wildcard === undefined) {
        const text = value.text;
        return (props) => {
          const property = propertyOf(props, name);
          if (typeof property === 'string') return property === text ? TRUE : FALSE;
          if (property === undefined || property === null) return UNDEFINED;
          return Array.isArray(property)
            ? compareList(op, property, value)
            : compareValue(op, property, value);
        };
      }
      return (props) => {
        const property = propertyOf(props, name);
        if (property === undefined || property === null) return UNDEFINED;
        return Array.isArray(property) ? compareList(op, property, value) : compareValue(op, property, value);
      };
    }
  }
}

/** The comparison of one leaf for a present, non-null property value (what generated code falls back to). */
function leafFallback(node: Extract<Constraint, { kind: 'compare' }>): (property: PropertyValue) => Tri {
  const value = valueForms(node.value, node.wildcards);
  const { op, cast } = node;
  if (cast !== undefined) {
    return (property) => {
      const converted = castProperty(cast, property);
      return converted === undefined ? UNDEFINED : compareValue(op, converted, value);
    };
  }
  return (property) =>
    Array.isArray(property) ? compareList(op, property, value) : compareValue(op, property, value);
}

function leaves(node: Constraint, out: Constraint[] = []): Constraint[] {
  if (node.kind === 'and' || node.kind === 'or') for (const item of node.items) leaves(item, out);
  else if (node.kind === 'not') leaves(node.item, out);
  else out.push(node);
  return out;
}

function leafName(node: Constraint): string {
  return node.kind === 'compare' || node.kind === 'present' ? node.name : '';
}

const generalLeaves = new WeakMap<Constraint, (property: PropertyValue) => Tri>();

/** The general comparison of a leaf (lists, typed values, casts, wildcards), built on first use per leaf. */
function leafGeneral(property: PropertyValue, node: Extract<Constraint, { kind: 'compare' }>): Tri {
  let compare = generalLeaves.get(node);
  if (compare === undefined) {
    compare = leafFallback(node);
    generalLeaves.set(node, compare);
  }
  return compare(property);
}

/** Compiles a constraint into shared code for its shape plus its own literal values. */
export type ShapedCompiler = (input: string | Constraint) => Shaped;

/**
 * A compiler of constraints into a shared predicate per shape plus each constraint's own literal values: cheap per
 * constraint (no code generated when the shape was seen before) and fast to run over many constraints. The shapes
 * it has seen (at most `limit`, then it starts afresh) belong to it, so its owner decides who shares them.
 */
export function createShapedCompiler(limit = 10_000): ShapedCompiler {
  const shapeOf = createShapeCompiler(
    { general: leafGeneral, numericBound: (node) => parseNumber(node.value) },
    limit,
  );
  return (input) => shapeOf(typeof input === 'string' ? parseConstraints(input) : input);
}

/**
 * A light compilation into closures only (no generated code, no explanations): cheap to build, for constraints
 * that are evaluated against few property sets, such as each offer's constraints over one demand's properties.
 */
export function compilePredicate(input: string | Constraint): Predicate {
  return compileNode(typeof input === 'string' ? parseConstraints(input) : input);
}

export function compileConstraints(input: string | Constraint): CompiledConstraints {
  const root = typeof input === 'string' ? parseConstraints(input) : input;
  const predicate = generatePredicate(root, {
    fallback: leafFallback,
    numericBound: (node) => parseNumber(node.value),
  });
  const topLevel = root.kind === 'and' ? root.items : [root];
  const topPredicates = topLevel.map((node) => compileNode(node));
  // Leaves of each compound top-level clause, with their own predicates, for the details of a report.
  const topLeaves = topLevel.map((node) =>
    node.kind === 'compare' || node.kind === 'present' || node.kind === 'true'
      ? undefined
      : leaves(node)
          .filter((leaf) => leaf.kind !== 'true')
          .map((leaf) => ({ leaf, predicate: compileNode(leaf) })),
  );
  const report = (node: Constraint, result: Tri, props: FlatProperties, property: string): ClauseReport => ({
    clause: clauseText(root, node),
    property,
    result: TRISTATE[result]!,
    seen: property === '' ? undefined : propertyOf(props, property),
    present: property !== '' && propertyOf(props, property) !== undefined,
  });
  const explain = (props: FlatProperties): ClauseReport[] =>
    topLevel.map((node, i) => {
      const inner = topLeaves[i];
      if (inner === undefined) return report(node, topPredicates[i]!(props), props, leafName(node));
      const entry = report(node, topPredicates[i]!(props), props, leafName(inner[0]?.leaf ?? node));
      entry.clauses = inner.map(({ leaf, predicate }) =>
        report(leaf, predicate(props), props, leafName(leaf)),
      );
      return entry;
    });
  return {
    source: constraintSource(root) ?? formatConstraint(root),
    root,
    predicate,
    evaluate: (props) => TRISTATE[predicate(props)]!,
    explain,
    failing: (props) => explain(props).filter((entry) => entry.result !== 'true'),
  };
}
