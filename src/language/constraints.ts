/**
 * Parser of constraint expressions (LDAP-like prefix filters), for everything Golem's resolver accepts:
 * `()`, `(&…)`, `(|…)`, `(!…)`, presence `(a=*)`, `(a=v)`, `(a<v)`, `(a<=v)`, `(a>v)`, `(a>=v)`, wildcards,
 * aspects `a[aspect]`, typed references `a$v`, `a$d`, `a$t`, white space and newlines between filters.
 * Deviations from Golem's parser are listed in docs/language.md.
 */
import { LanguageError } from './errors.ts';

export type Operator = '=' | '<' | '<=' | '>' | '>=';
export type Cast = 'v' | 'd' | 't';

interface Span {
  /** Offsets of the clause in the source text, for explanations. */
  start: number;
  end: number;
}

export type Constraint =
  | ({ kind: 'true' } & Span)
  | ({ kind: 'and' | 'or'; items: Constraint[] } & Span)
  | ({ kind: 'not'; item: Constraint } & Span)
  | ({ kind: 'present'; name: string; aspect: string | undefined } & Span)
  | ({
      kind: 'compare';
      name: string;
      aspect: string | undefined;
      cast: Cast | undefined;
      op: Operator;
      /** Value text with escapes removed. */
      value: string;
      /** Positions in `value` of unescaped `*` (wildcards). */
      wildcards: number[];
    } & Span);

/** The text each parsed root came from, for clause texts in explanations (ASTs built by hand have none). */
const sources = new WeakMap<Constraint, string>();

/** The source text of a root returned by `parseConstraints`, if it came from one. */
export function constraintSource(root: Constraint): string | undefined {
  return sources.get(root);
}

const MAX_DEPTH = 256;
const OPEN = 40; // (
const CLOSE = 41; // )
const STAR = 42; // *
const BACKSLASH = 92;

/** Characters that end a property name: = < > ~ [ ] $ ( ). */
function endsName(c: number): boolean {
  return (
    c === 61 ||
    c === 60 ||
    c === 62 ||
    c === 126 ||
    c === 91 ||
    c === 93 ||
    c === 36 ||
    c === OPEN ||
    c === CLOSE
  );
}

class Parser {
  readonly text: string;
  pos = 0;
  depth = 0;

  constructor(text: string) {
    this.text = text;
  }

  fail(expected: string, at = this.pos): never {
    throw new LanguageError('constraint', this.text, at, expected);
  }

  skipWs(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.pos++;
      else return;
    }
  }

  expect(char: string): void {
    if (this.text[this.pos] !== char) this.fail(`"${char}"`);
    this.pos++;
  }

  filter(): Constraint {
    this.skipWs();
    const start = this.pos;
    this.expect('(');
    if (++this.depth > MAX_DEPTH) this.fail(`nesting of at most ${MAX_DEPTH} levels`);
    this.skipWs();
    const c = this.text[this.pos];
    let node: Constraint;
    if (c === ')') {
      this.pos++;
      node = { kind: 'true', start, end: this.pos };
    } else if (c === '&' || c === '|') {
      this.pos++;
      const items: Constraint[] = [];
      this.skipWs();
      while (this.text[this.pos] === '(') {
        items.push(this.filter());
        this.skipWs();
      }
      this.expect(')');
      node = { kind: c === '&' ? 'and' : 'or', items, start, end: this.pos };
    } else if (c === '!') {
      this.pos++;
      const item = this.filter();
      this.skipWs();
      this.expect(')');
      node = { kind: 'not', item, start, end: this.pos };
    } else {
      node = this.simple(start);
    }
    this.depth--;
    return node;
  }

  simple(start: number): Constraint {
    const nameStart = this.pos;
    const length = this.text.length;
    while (this.pos < length && !endsName(this.text.charCodeAt(this.pos))) this.pos++;
    const name = this.text.slice(nameStart, this.pos).trim();
    if (name === '') this.fail('a property name or one of "&", "|", "!"', nameStart);
    let aspect: string | undefined;
    if (this.text[this.pos] === '[') {
      this.pos++;
      const aspectStart = this.pos;
      while (this.pos < this.text.length && this.text[this.pos] !== ']' && this.text[this.pos] !== ')')
        this.pos++;
      aspect = this.text.slice(aspectStart, this.pos).trim();
      this.expect(']');
    }
    let cast: Cast | undefined;
    if (this.text[this.pos] === '$') {
      this.pos++;
      const c = this.text[this.pos];
      if (c !== 'v' && c !== 'd' && c !== 't')
        this.fail('a type after "$": v (version), d (decimal) or t (datetime)');
      cast = c;
      this.pos++;
    }
    this.skipWs();
    const opStart = this.pos;
    let op: Operator;
    const c = this.text[this.pos];
    const next = this.text[this.pos + 1];
    if (c === '=') op = '=';
    else if (c === '<') op = next === '=' ? '<=' : '<';
    else if (c === '>') op = next === '=' ? '>=' : '>';
    else if (c === '~') this.fail('an operator (=, <, <=, >, >=); approximate match "~=" is not supported');
    else this.fail('an operator (=, <, <=, >, >=)');
    this.pos += op.length;
    // Presence: `=*` directly followed by `)`.
    if (op === '=' && this.text[this.pos] === '*') {
      let look = this.pos + 1;
      while (this.text[look] === ' ' || this.text[look] === '\t') look++;
      if (this.text[look] === ')') {
        // Golem accepts a typed reference before `=*`; presence does not depend on the type.
        this.pos = look + 1;
        return { kind: 'present', name, aspect, start, end: this.pos };
      }
    }
    const { value, wildcards } = this.value();
    this.expect(')');
    if (op !== '=' && wildcards.length > 0)
      this.fail(`a value without "*" (wildcards only work with "=")`, opStart);
    return { kind: 'compare', name, aspect, cast, op, value, wildcards, start, end: this.pos };
  }

  /** Value up to the closing `)`; `\` escapes the next character (`\)`, `\*`, `\\`); `*` is a wildcard. */
  value(): { value: string; wildcards: number[] } {
    const text = this.text;
    const start = this.pos;
    let stars: number[] | undefined;
    let escaped = false;
    // Fast path: one scan; the value is a slice unless it holds an escape.
    let i = start;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === CLOSE) break;
      if (c === BACKSLASH) {
        escaped = true;
        break;
      }
      if (c === OPEN) this.fail('")" (a value cannot contain "(" unescaped)', i);
      if (c === STAR) {
        stars ??= [];
        stars.push(i - start);
      }
    }
    let value = text.slice(start, i);
    this.pos = i;
    if (!escaped) {
      if (i >= text.length) this.fail('")"', i);
    } else {
      for (;;) {
        const c = text[this.pos];
        if (c === undefined) this.fail('")"');
        if (c === ')') break;
        if (c === '\\') {
          const next = text[this.pos + 1];
          if (next === undefined) this.fail('a character after "\\"', this.pos + 1);
          value += next;
          this.pos += 2;
          continue;
        }
        if (c === '(') this.fail('")" (a value cannot contain "(" unescaped)');
        if (c === '*') {
          stars ??= [];
          stars.push(value.length);
        }
        value += c;
        this.pos++;
      }
    }
    // Surrounding white space is layout, not part of the value (see docs/language.md).
    const wildcards = stars ?? [];
    const trimmed = value.trim();
    if (trimmed.length === value.length) return { value, wildcards };
    const trimmedStart = value.length - value.trimStart().length;
    return {
      value: trimmed,
      wildcards: wildcards.map((w) => w - trimmedStart).filter((w) => w >= 0 && w < trimmed.length),
    };
  }
}

/**
 * Parses a constraint expression into its AST (nodes carry their offsets in the text). An empty text means
 * "no constraints" (`()`); anything after the first top-level filter other than white space is an error
 * (Golem silently ignores it).
 */
export function parseConstraints(text: string): Constraint {
  if (typeof text !== 'string') throw new LanguageError('constraint', String(text), 0, 'a constraint string');
  const parser = new Parser(text);
  parser.skipWs();
  let root: Constraint;
  if (parser.pos >= text.length) root = { kind: 'true', start: 0, end: text.length };
  else {
    root = parser.filter();
    parser.skipWs();
    if (parser.pos < text.length) {
      parser.fail('end of constraint (combine several filters with "(&…)")');
    }
  }
  sources.set(root, text);
  return root;
}

function escapeValue(value: string, wildcards: readonly number[]): string {
  let out = '';
  let next = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '*' && wildcards[next] === i) {
      next++;
      out += '*';
    } else out += c === '*' || c === ')' || c === '(' || c === '\\' ? `\\${c}` : c;
  }
  return out;
}

/** Canonical text of a constraint (no layout); parsing it gives the same AST apart from offsets. */
export function formatConstraint(node: Constraint): string {
  switch (node.kind) {
    case 'true':
      return '()';
    case 'and':
    case 'or':
      return `(${node.kind === 'and' ? '&' : '|'}${node.items.map(formatConstraint).join('')})`;
    case 'not':
      return `(!${formatConstraint(node.item)})`;
    case 'present':
      return `(${node.name}${node.aspect === undefined ? '' : `[${node.aspect}]`}=*)`;
    case 'compare':
      return `(${node.name}${node.aspect === undefined ? '' : `[${node.aspect}]`}${node.cast === undefined ? '' : `$${node.cast}`}${node.op}${escapeValue(node.value, node.wildcards)})`;
  }
}

/** Text of one clause: its source (layout collapsed) when the root was parsed from text, else canonical. */
export function clauseText(root: Constraint, node: Constraint): string {
  const source = sources.get(root);
  return source === undefined
    ? formatConstraint(node)
    : source.slice(node.start, node.end).replace(/\s+/g, ' ').trim();
}
