/**
 * Property-based tests: random constraint texts never make the parser throw anything but its parse error, and
 * random constraints over random property sets evaluate exactly as a slow reference evaluator written here,
 * independently of the library (its own AST, straight recursion, no compilation).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compileConstraints,
  compilePredicate,
  createShapedCompiler,
  type FlatProperties,
  formatConstraint,
  isLanguageError,
  parseConstraints,
  TRISTATE,
} from './helpers.ts';

/** One compiler for the file: constraints of one shape share its generated code. */
const compileShaped = createShapedCompiler();

type Ref =
  | { t: 'and' | 'or'; items: Ref[] }
  | { t: 'not'; item: Ref }
  | { t: 'present'; name: string }
  | { t: 'cmp'; name: string; op: '=' | '<' | '<=' | '>' | '>='; value: string };

const NAMES = ['a', 'b.c', 'golem.inf.mem.gib', 'x-y'];
const WORDS = ['vm', 'wasm', 'wasmtime', 'abc', 'a', ''];

const refArb: fc.Arbitrary<Ref> = fc.letrec<{ node: Ref }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ t: fc.constant('present' as const), name: fc.constantFrom(...NAMES) }),
    fc.record({
      t: fc.constant('cmp' as const),
      name: fc.constantFrom(...NAMES),
      op: fc.constantFrom('=' as const, '<' as const, '<=' as const, '>' as const, '>=' as const),
      value: fc.oneof(
        fc.integer({ min: -5, max: 5 }).map(String),
        fc.constantFrom('vm', 'wasm', 'abc', 'true', 'false', '1.5', ''),
      ),
    }),
    fc.record({
      t: fc.constantFrom('and' as const, 'or' as const),
      items: fc.array(tie('node'), { maxLength: 4 }),
    }),
    fc.record({ t: fc.constant('not' as const), item: tie('node') }),
  ),
})).node;

const valueArb = fc.oneof(
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom(1.5, -0.5),
  fc.constantFrom(...WORDS),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(...WORDS)), { maxLength: 3 }),
);

const propsArb: fc.Arbitrary<FlatProperties> = fc.dictionary(fc.constantFrom(...NAMES), valueArb, {
  maxKeys: 4,
});

function render(node: Ref): string {
  switch (node.t) {
    case 'and':
      return `(&${node.items.map(render).join('')})`;
    case 'or':
      return `(|${node.items.map(render).join('\n  ')})`;
    case 'not':
      return `(! ${render(node.item)})`;
    case 'present':
      return `(${node.name}=*)`;
    case 'cmp':
      return `(${node.name}${node.op}${node.value})`;
  }
}

type V = 'T' | 'F' | 'U';

function refCompareScalar(op: string, prop: unknown, value: string): boolean {
  if (typeof prop === 'string') {
    if (op === '=') return prop === value;
    const c = prop < value ? -1 : prop > value ? 1 : 0;
    return op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : c >= 0;
  }
  if (typeof prop === 'number') {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value)) return false;
    const n = Number(value);
    return op === '='
      ? prop === n
      : op === '<'
        ? prop < n
        : op === '<='
          ? prop <= n
          : op === '>'
            ? prop > n
            : prop >= n;
  }
  if (typeof prop === 'boolean')
    return op === '=' && (value === 'true' || value === 'false') && String(prop) === value;
  return false;
}

function refEval(node: Ref, props: FlatProperties): V {
  switch (node.t) {
    case 'present':
      return node.name in props ? 'T' : 'F';
    case 'cmp': {
      if (!(node.name in props)) return 'U';
      const prop = props[node.name];
      if (prop === null) return 'U';
      if (Array.isArray(prop))
        return node.op === '=' && prop.some((item) => refCompareScalar('=', item, node.value)) ? 'T' : 'F';
      return refCompareScalar(node.op, prop, node.value) ? 'T' : 'F';
    }
    case 'not': {
      const r = refEval(node.item, props);
      return r === 'U' ? 'U' : r === 'T' ? 'F' : 'T';
    }
    case 'and': {
      const results = node.items.map((item) => refEval(item, props));
      return results.includes('F') ? 'F' : results.includes('U') ? 'U' : 'T';
    }
    case 'or': {
      const results = node.items.map((item) => refEval(item, props));
      return results.includes('T') ? 'T' : results.includes('U') ? 'U' : 'F';
    }
  }
}

/** Property sets with every kind of value under the names random texts tend to use. */
const ODD_PROPERTY_SETS: FlatProperties[] = [
  {},
  { a: 'a*1', v: 1, '1': true, 'a a': null, aa: ['a', 1, true], 'v.1': '1.0.0' },
  { a: 1, v: 'v', '1': '~', aa: [], 'a.': false },
];

/** Reference wildcard match by dynamic programming over (text, pattern) positions: obviously right, slow. */
function refWildcard(pattern: string, text: string): boolean {
  let row = Array.from({ length: text.length + 1 }, (_, j) => j === 0);
  for (const p of pattern) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    next[0] = p === '*' && row[0]!;
    for (let j = 1; j <= text.length; j++)
      next[j] = p === '*' ? row[j]! || next[j - 1]! : row[j - 1]! && text[j - 1] === p;
    row = next;
  }
  return row[text.length]!;
}

const asTristate = { T: 'true', F: 'false', U: 'undefined' } as const;

describe('language, property-based', () => {
  it('evaluates like the reference evaluator', () => {
    fc.assert(
      fc.property(refArb, propsArb, (ref, props) => {
        const text = render(ref);
        const compiled = compileConstraints(text);
        const expected = asTristate[refEval(ref, props)];
        assert.equal(compiled.evaluate(props), expected, text);
        // The explanation path agrees: nothing fails exactly when the whole expression is true.
        assert.equal(compiled.failing(props).length === 0, expected === 'true', text);
        // The canonical text of the AST, and the AST itself, mean the same.
        assert.equal(compileConstraints(formatConstraint(compiled.root)).evaluate(props), expected, text);
        assert.equal(compileConstraints(parseConstraints(text)).evaluate(props), expected, text);
        // So do the forms used for offers: closures, and shared code per shape with the constraint's values.
        assert.equal(TRISTATE[compilePredicate(text)(props)], expected, text);
        const shaped = compileShaped(text);
        assert.equal(TRISTATE[shaped.shape(props, shaped.values)], expected, text);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws anything but its parse error on random text, and always ends', () => {
    const alphabet = fc.constantFrom(
      '(',
      ')',
      '&',
      '|',
      '!',
      '=',
      '<',
      '>',
      '*',
      '$',
      '[',
      ']',
      '\\',
      ' ',
      '\n',
      'a',
      '1',
      'v',
      '~',
      '.',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(alphabet, { maxLength: 200 }).map((cs) => cs.join('')),
        ),
        (text) => {
          let root: ReturnType<typeof parseConstraints>;
          try {
            root = parseConstraints(text);
          } catch (error) {
            assert.ok(isLanguageError(error), `unexpected ${String(error)} for ${JSON.stringify(text)}`);
            return;
          }
          // Whatever parses also compiles and evaluates, in every form, to one of the three answers.
          const compiled = compileConstraints(root);
          const shaped = compileShaped(root);
          for (const props of ODD_PROPERTY_SETS) {
            const answer = compiled.evaluate(props);
            assert.ok(['true', 'false', 'undefined'].includes(answer));
            assert.equal(TRISTATE[shaped.shape(props, shaped.values)], answer, text);
            compiled.explain(props);
          }
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('fails only with a parse error on truncated and mutated valid constraints', () => {
    fc.assert(
      fc.property(refArb, fc.nat(), fc.nat(), (ref, cut, flip) => {
        const text = render(ref);
        const truncated = text.slice(0, cut % (text.length + 1));
        const index = flip % text.length;
        const mutated = `${text.slice(0, index)})${text.slice(index + 1)}`;
        for (const candidate of [truncated, mutated]) {
          try {
            compileConstraints(candidate);
          } catch (error) {
            assert.ok(isLanguageError(error));
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('matches wildcards like a reference matcher, without regular expressions', () => {
    const letters = fc.constantFrom('a', 'b', '.', '?', '+', '(', '[', '^', '$', '|');
    const text = fc.array(letters, { maxLength: 12 }).map((cs) => cs.join(''));
    const pattern = fc
      .array(fc.oneof(letters, fc.constant('*')), { minLength: 1, maxLength: 8 })
      .map((cs) => cs.join(''))
      .filter((p) => p.includes('*'));
    fc.assert(
      fc.property(pattern, text, (p, t) => {
        const escaped = p.replace(/[()\\]/g, (c) => `\\${c}`);
        const got = compileConstraints(`(name=${escaped})`).evaluate({ name: t });
        assert.equal(got, refWildcard(p, t) ? 'true' : 'false', `${p} ~ ${t}`);
      }),
      { numRuns: 3000 },
    );
  });
});
