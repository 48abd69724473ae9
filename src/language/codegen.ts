/**
 * Code generation of a constraint into one JavaScript function. Each property read gets its own site with a
 * constant name, so V8 keeps it monomorphic, as in hand-written code; only JSON string and number literals are
 * written into the source (names and values are never spliced in raw). Rare cases (lists, typed values, casts,
 * wildcards) call back into pre-built closures.
 */

import type { Predicate, Tri } from './compile.ts';
import type { Constraint } from './constraints.ts';
import { type FlatProperties, isInheritedName, type PropertyValue } from './values.ts';

export type LeafFallback = (property: PropertyValue) => Tri;

export interface CodegenHooks {
  /** The general comparison of a leaf for a present, non-null property. */
  fallback(node: Extract<Constraint, { kind: 'compare' }>): LeafFallback;
  /** Constraint value as a number when the leaf compares numbers (`<`, `<=`, `>`, `>=`), else undefined. */
  numericBound(node: Extract<Constraint, { kind: 'compare' }>): number | undefined;
}

const NUMERIC_OPS = new Set(['<', '<=', '>', '>=']);

/**
 * Every property a constraint reads is read once, at the top: plain data reads have no effects, and independent
 * loads let the CPU overlap the cache misses of a large offer set (as hand-written code does), where reads
 * behind each test's branch would wait one after another.
 */
class PropertyReads {
  readonly names = new Map<string, string>();

  of(name: string): string {
    let variable = this.names.get(name);
    if (variable === undefined) {
      variable = `r${this.names.size}`;
      this.names.set(name, variable);
    }
    return variable;
  }

  declarations(): string {
    return [...this.names]
      .map(([name, variable]) => {
        const key = JSON.stringify(name);
        // A name Object.prototype also has (`constructor` …) must be the set's own, not inherited.
        const read = isInheritedName(name)
          ? `(Object.hasOwn(p, ${key}) ? p[${key}] : undefined)`
          : `p[${key}]`;
        return `const ${variable} = ${read};`;
      })
      .join(' ');
  }
}

type CompareNode = Extract<Constraint, { kind: 'compare' }>;

/**
 * How a comparison leaf is tested: `number` and `string` get an inline fast path for the common case (a plain
 * number against a numeric bound, a plain string for equality), `aspect` is undecided, `general` calls back.
 */
type LeafForm = 'aspect' | 'number' | 'string' | 'general';

function leafForm(node: CompareNode, numericBound: number | undefined): LeafForm {
  if (node.aspect !== undefined) return 'aspect';
  if (node.cast === undefined && numericBound !== undefined && NUMERIC_OPS.has(node.op)) return 'number';
  if (node.cast === undefined && node.op === '=' && node.wildcards.length === 0) return 'string';
  return 'general';
}

/** Where a leaf's literal and its general comparison come from: the source itself, or per-constraint values. */
interface LeafCode {
  /** Expression of the literal the fast path compares with (asked only for `number` and `string` leaves). */
  literal(): string;
  /** Expression of the general comparison of the property read into `read`. */
  general(read: string): string;
}

/**
 * The one emitter behind both kinds of predicate: three-valued logic (0 no, 1 yes, 2 undecided) over property
 * reads hoisted to the top. `leafCode` is called once per comparison, in order, aspect ones included.
 */
function emitFunction(
  root: Constraint,
  numericBound: CodegenHooks['numericBound'],
  leafCode: (node: CompareNode) => LeafCode,
): string {
  let temps = 0;
  const temp = () => `t${temps++}`;
  const reads = new PropertyReads();
  const emit = (node: Constraint): string => {
    switch (node.kind) {
      case 'true':
        return '1';
      case 'present':
        return node.aspect !== undefined ? '0' : `(${reads.of(node.name)} !== undefined ? 1 : 0)`;
      case 'not': {
        const t = temp();
        return `((${t} = ${emit(node.item)}) === 2 ? 2 : 1 - ${t})`;
      }
      case 'and':
      case 'or': {
        if (node.items.length === 0) return node.kind === 'and' ? '1' : '0';
        if (node.items.length === 1) return emit(node.items[0]!);
        const stop = node.kind === 'and' ? 0 : 1;
        const names = node.items.map(() => temp());
        const steps = node.items
          .map((item, i) => `(${names[i]} = ${emit(item)}) === ${stop} ? ${stop} : `)
          .join('');
        return `(${steps}(${names.map((n) => `${n} === 2`).join(' || ')}) ? 2 : ${1 - stop})`;
      }
      case 'compare': {
        const code = leafCode(node);
        const form = leafForm(node, numericBound(node));
        if (form === 'aspect') return '2';
        const v = reads.of(node.name);
        const general = `${v} === undefined || ${v} === null ? 2 : ${code.general(v)}`;
        if (form === 'number')
          return `(typeof ${v} === "number" ? (${v} ${node.op} ${code.literal()} ? 1 : 0) : ${general})`;
        if (form === 'string')
          return `(typeof ${v} === "string" ? (${v} === ${code.literal()} ? 1 : 0) : ${general})`;
        return `(${general})`;
      }
    }
  };
  const body = emit(root);
  const declarations = temps > 0 ? `let ${Array.from({ length: temps }, (_, i) => `t${i}`).join(', ')};` : '';
  return `${reads.declarations()} ${declarations} return ${body};`;
}

export function generatePredicate(root: Constraint, hooks: CodegenHooks): Predicate {
  const fallbacks: LeafFallback[] = [];
  const body = emitFunction(root, hooks.numericBound, (node) => ({
    literal: () =>
      JSON.stringify(
        leafForm(node, hooks.numericBound(node)) === 'number' ? hooks.numericBound(node) : node.value,
      ),
    general: (read) => `f[${fallbacks.push(hooks.fallback(node)) - 1}](${read})`,
  }));
  // Generated from the parsed AST; property names and values enter the source only as JSON literals.
  const factory = new Function('f', `"use strict"; return function constraint(p) { ${body} };`);
  return factory(fallbacks) as Predicate;
}

/** A predicate for every constraint of one shape; the literal values of each constraint come as `values`. */
export type ShapePredicate = (props: FlatProperties, values: readonly unknown[]) => Tri;

/** A constraint split into its shape (shared, compiled once) and its own literal values. */
export interface Shaped {
  shape: ShapePredicate;
  values: unknown[];
}

/** The general comparison of a leaf, given the property (present, non-null) and the leaf itself. */
export type LeafGeneral = (property: PropertyValue, node: CompareNode) => Tri;

/**
 * Offers' constraints differ in their literal values (each provider's own timestamp) but share a few shapes, so
 * code is generated once per shape and each constraint keeps only its values: matching many offers then runs
 * one monomorphic function, like hand-written code reading fields of each offer.
 */
export function createShapeCompiler(
  hooks: { general: LeafGeneral; numericBound: CodegenHooks['numericBound'] },
  limit = 10_000,
): (root: Constraint) => Shaped {
  const shapes = new Map<string, ShapePredicate>();

  return (root) => {
    const values: unknown[] = [];
    let key = '';
    // One walk gives both the shape's key and this constraint's values (two slots per comparison).
    const walk = (node: Constraint): void => {
      switch (node.kind) {
        case 'true':
          key += 'T';
          return;
        case 'present':
          key += `P${JSON.stringify(node.name)}${node.aspect === undefined ? '' : 'A'}`;
          return;
        case 'not':
          key += '!(';
          walk(node.item);
          key += ')';
          return;
        case 'and':
        case 'or':
          key += `${node.kind === 'and' ? '&' : '|'}(`;
          for (const item of node.items) {
            walk(item);
            key += ',';
          }
          key += ')';
          return;
        case 'compare': {
          const bound = hooks.numericBound(node);
          const form = leafForm(node, bound);
          key += `C${form[0]}${node.op}${JSON.stringify(node.name)}`;
          values.push(form === 'number' ? bound : form === 'string' ? node.value : undefined, node);
          return;
        }
      }
    };
    walk(root);
    let shape = shapes.get(key);
    if (shape === undefined) {
      shape = generateShape(root, hooks);
      if (shapes.size >= limit) shapes.clear();
      shapes.set(key, shape);
    }
    return { shape, values };
  };
}

function generateShape(
  root: Constraint,
  hooks: { general: LeafGeneral; numericBound: CodegenHooks['numericBound'] },
): ShapePredicate {
  let slot = 0;
  // Two value slots per comparison, in the order the shape compiler's walk pushes them.
  const body = emitFunction(root, hooks.numericBound, () => {
    const fast = slot++;
    const leaf = slot++;
    return { literal: () => `v[${fast}]`, general: (read) => `g(${read}, v[${leaf}])` };
  });
  // Generated from the parsed AST; property names enter the source only as JSON literals, values not at all.
  return new Function('g', `"use strict"; return function shape(p, v) { ${body} };`)(
    hooks.general,
  ) as ShapePredicate;
}
