/**
 * Property sets: nested or flat-dotted JSON (equivalent), the `@tag` convention (a value for the parent node),
 * and the flat textual syntax `name=literal`, one property per line.
 */
import { LanguageError } from './errors.ts';
import {
  DateTime,
  Decimal,
  type FlatProperties,
  type PropertyValue,
  parseNumber,
  setPropertyOf,
  Version,
} from './values.ts';

const TAG = '@tag';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Version) &&
    !(value instanceof Decimal) &&
    !(value instanceof DateTime)
  );
}

function toPropertyValue(value: unknown): PropertyValue | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Version || value instanceof Decimal || value instanceof DateTime) return value;
  if (Array.isArray(value)) {
    const items: PropertyValue[] = [];
    for (const item of value) {
      const converted = toPropertyValue(item);
      // A list that holds objects has no meaning in the language: the property is dropped, as Golem does.
      if (converted === undefined || isPlainObject(item)) return undefined;
      items.push(converted);
    }
    return items;
  }
  return undefined;
}

/**
 * Flattens nested or flat-dotted JSON into `name → value`. `{"a": {"b": 1}}`, `{"a.b": 1}` and
 * `{"a": {"@tag": "x", "b": 1}}` (which also sets `a = "x"`) are all accepted, mixed freely. JSON `null` is a
 * value-less property; empty objects and lists holding objects carry no property.
 */
export function flattenProperties(json: unknown): FlatProperties {
  const out: FlatProperties = {};
  if (json === undefined || json === null) return out;
  if (typeof json === 'string') return flattenProperties(JSON.parse(json));
  if (!isPlainObject(json)) throw new TypeError('properties must be a JSON object');
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      if (key === TAG) {
        if (prefix === '') continue;
        const tagged = toPropertyValue(value);
        if (tagged !== undefined) setPropertyOf(out, prefix, tagged);
        continue;
      }
      const name = prefix === '' ? key : `${prefix}.${key}`;
      if (isPlainObject(value)) {
        walk(value, name);
        continue;
      }
      const converted = toPropertyValue(value);
      if (converted !== undefined) setPropertyOf(out, name, converted);
    }
  };
  walk(json, '');
  return out;
}

/** Nested JSON of a flat property set; a name that is also a parent keeps its value under `@tag`. */
export function expandProperties(flat: FlatProperties): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  const names = Object.keys(flat).sort();
  for (const name of names) {
    const parts = name.split('.');
    let node = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      const child = Object.hasOwn(node, part) ? node[part] : undefined;
      if (isPlainObject(child)) node = child;
      else {
        const created: Record<string, unknown> = child === undefined ? {} : { [TAG]: child };
        setPropertyOf(node, part, created);
        node = created;
      }
    }
    const last = parts[parts.length - 1]!;
    const value = toJsonValue(flat[name]!);
    const existing = Object.hasOwn(node, last) ? node[last] : undefined;
    if (isPlainObject(existing)) existing[TAG] = value;
    else setPropertyOf(node, last, value);
  }
  return root;
}

function toJsonValue(value: PropertyValue): unknown {
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Version || value instanceof Decimal || value instanceof DateTime) return value.raw;
  return value;
}

/** Flat property set as plain JSON (typed values as their text). */
export function propertiesToJson(flat: FlatProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(flat)) setPropertyOf(out, name, toJsonValue(value));
  return out;
}

// ---- flat textual syntax ----

class LiteralReader {
  readonly text: string;
  pos: number;
  readonly what: string;

  constructor(text: string, pos: number, what: string) {
    this.text = text;
    this.pos = pos;
    this.what = what;
  }

  fail(expected: string): never {
    throw new LanguageError(this.what, this.text, this.pos, expected);
  }

  skipSpaces(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }

  quoted(): string {
    if (this.text[this.pos] !== '"') this.fail('"');
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === '\n') this.fail('closing "');
      this.pos++;
      if (c === '"') return out;
      if (c === '\\') {
        const e = this.text[this.pos++];
        const decoded =
          e === 'n' ? '\n' : e === 't' ? '\t' : e === '0' ? '\0' : e === '"' || e === '\\' ? e : undefined;
        if (decoded === undefined) {
          this.pos--;
          this.fail('an escape (\\" \\\\ \\n \\t \\0)');
        }
        out += decoded;
      } else out += c;
    }
  }

  literal(): PropertyValue {
    this.skipSpaces();
    const c = this.text[this.pos];
    const start = this.pos;
    if (c === '"') return this.quoted();
    if ((c === 'v' || c === 't' || c === 'd') && this.text[this.pos + 1] === '"') {
      this.pos++;
      const body = this.quoted();
      const value = c === 'v' ? Version.parse(body) : c === 'd' ? Decimal.parse(body) : DateTime.parse(body);
      if (value === undefined) {
        this.pos = start;
        this.fail(
          c === 'v'
            ? 'a version like v"1.2.3"'
            : c === 'd'
              ? 'a decimal like d"1.5"'
              : 'an RFC 3339 datetime',
        );
      }
      return value;
    }
    if (c === '[') {
      this.pos++;
      const items: PropertyValue[] = [];
      this.skipSpaces();
      if (this.text[this.pos] === ']') {
        this.pos++;
        return items;
      }
      for (;;) {
        items.push(this.literal());
        this.skipSpaces();
        const next = this.text[this.pos];
        if (next === ',') {
          this.pos++;
          continue;
        }
        if (next === ']') {
          this.pos++;
          return items;
        }
        this.fail('"," or "]"');
      }
    }
    const match = /^[^,\]\s]+/.exec(this.text.slice(this.pos));
    const word = match?.[0] ?? '';
    if (/^(true|True|TRUE)$/.test(word)) {
      this.pos += word.length;
      return true;
    }
    if (/^(false|False|FALSE)$/.test(word)) {
      this.pos += word.length;
      return false;
    }
    const number = parseNumber(word);
    if (word !== '' && number !== undefined) {
      this.pos += word.length;
      return number;
    }
    this.fail('a literal (string, number, boolean, list, v"…", d"…" or t"…")');
  }
}

/**
 * Reads the flat textual syntax: one `name=literal` per line, or a bare `name` for a value-less property.
 * Blank lines and lines starting with `#` are skipped.
 */
export function parseFlatProperties(text: string): FlatProperties {
  const out: FlatProperties = {};
  let offset = 0;
  for (const line of text.split('\n')) {
    const lineStart = offset;
    offset += line.length + 1;
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (name === '') throw new LanguageError('property', text, lineStart, 'a property name');
    if (eq < 0) {
      setPropertyOf(out, name, null);
      continue;
    }
    const reader = new LiteralReader(text, lineStart + eq + 1, 'property');
    setPropertyOf(out, name, reader.literal());
    reader.skipSpaces();
    if (reader.pos < lineStart + line.length && text[reader.pos] !== '\r') reader.fail('end of line');
  }
  return out;
}

function formatLiteral(value: PropertyValue): string {
  if (value === null) return '';
  if (typeof value === 'string')
    return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\0/g, '\\0')}"`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Version) return `v"${value.raw}"`;
  if (value instanceof Decimal) return `d"${value.raw}"`;
  if (value instanceof DateTime) return `t"${value.raw}"`;
  return `[${value.map(formatLiteral).join(',')}]`;
}

/** Writes the flat textual syntax (sorted by name); `parseFlatProperties` reads it back to an equal set. */
export function formatFlatProperties(flat: FlatProperties): string {
  return Object.keys(flat)
    .sort()
    .map((name) => (flat[name] === null ? name : `${name}=${formatLiteral(flat[name]!)}`))
    .join('\n');
}
