/**
 * Code generation of a constraint into one JavaScript function. Each property read gets its own site with a
 * constant name, so V8 keeps it monomorphic, as in hand-written code; only JSON string and number literals are
 * written into the source (names and values are never spliced in raw). Rare cases (lists, typed values, casts,
 * wildcards) call back into pre-built closures.
 */

import type { Predicate, Tri } from './compile.ts';
import type { Constraint } from './constraints.ts';
import type { PropertyValue } from './values.ts';

export type LeafFallback = (property: PropertyValue) => Tri;

export interface CodegenHooks {
  /** The general comparison of a leaf for a present, non-null property. */
  fallback(node: Extract<Constraint, { kind: 'compare' }>): LeafFallback;
  /** Constraint value as a number when the leaf compares numbers (`<`, `<=`, `>`, `>=`), else undefined. */
  numericBound(node: Extract<Constraint, { kind: 'compare' }>): number | undefined;
}

const NUMERIC_OPS = new Set(['<', '<=', '>', '>=']);

export function generatePredicate(root: Constraint, hooks: CodegenHooks): Predicate {
  const fallbacks: LeafFallback[] = [];
  let temps = 0;
  const temp = () => `t${temps++}`;

  const emit = (node: Constraint): string => {
    switch (node.kind) {
      case 'true':
        return '1';
      case 'present':
        return node.aspect !== undefined ? '0' : `(p[${JSON.stringify(node.name)}] !== undefined ? 1 : 0)`;
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
        if (node.aspect !== undefined) return '2';
        const v = temp();
        const index = fallbacks.push(hooks.fallback(node)) - 1;
        const read = `(${v} = p[${JSON.stringify(node.name)}])`;
        const general = `${v} === undefined || ${v} === null ? 2 : f[${index}](${v})`;
        const bound = hooks.numericBound(node);
        if (node.cast === undefined && bound !== undefined && NUMERIC_OPS.has(node.op)) {
          return `(typeof ${read} === "number" ? (${v} ${node.op} ${JSON.stringify(bound)} ? 1 : 0) : ${general})`;
        }
        if (node.cast === undefined && node.op === '=' && node.wildcards.length === 0) {
          return `(typeof ${read} === "string" ? (${v} === ${JSON.stringify(node.value)} ? 1 : 0) : ${general})`;
        }
        return `(${read}, ${general})`;
      }
    }
  };

  const body = emit(root);
  const declarations = temps > 0 ? `let ${Array.from({ length: temps }, (_, i) => `t${i}`).join(', ')};` : '';
  // Generated from the parsed AST; property names and values enter the source only as JSON literals.
  const factory = new Function(
    'f',
    `"use strict"; return function constraint(p) { ${declarations} return ${body}; };`,
  );
  return factory(fallbacks) as Predicate;
}
