/**
 * Typed property values of the language beyond JSON's: versions (semver), decimals (exact) and datetimes
 * (RFC 3339). They come from the flat textual syntax (`v"1.2.3"`, `d"0.1"`, `t"2024-01-01T00:00:00Z"`) or from a
 * typed reference in a constraint (`name$v`). Each keeps its source text, which is also its JSON form.
 */

export class Version {
  readonly raw: string;
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];

  constructor(raw: string, major: number, minor: number, patch: number, prerelease: (string | number)[]) {
    this.raw = raw;
    this.major = major;
    this.minor = minor;
    this.patch = patch;
    this.prerelease = prerelease;
  }

  /** Semver `1.2.3[-pre][+build]`; `1` and `1.2` are read as `1.0.0` and `1.2.0`. Undefined when not a version. */
  static parse(text: string): Version | undefined {
    const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(
      text.trim(),
    );
    if (match === null) return undefined;
    const prerelease = (match[4] ?? '')
      .split('.')
      .filter((part) => part !== '')
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
    return new Version(text, Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0), prerelease);
  }

  compare(other: Version): number {
    const core = this.major - other.major || this.minor - other.minor || this.patch - other.patch;
    if (core !== 0) return Math.sign(core);
    const a = this.prerelease;
    const b = other.prerelease;
    if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i];
      const y = b[i];
      if (x === undefined) return -1;
      if (y === undefined) return 1;
      if (x === y) continue;
      if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
      if (typeof x === 'number') return -1;
      if (typeof y === 'number') return 1;
      return x < y ? -1 : 1;
    }
    return 0;
  }

  toJSON(): string {
    return this.raw;
  }

  toString(): string {
    return this.raw;
  }
}

/** An exact decimal: `units × 10^-scale`. */
export class Decimal {
  readonly raw: string;
  readonly units: bigint;
  readonly scale: number;

  constructor(raw: string, units: bigint, scale: number) {
    this.raw = raw;
    this.units = units;
    this.scale = scale;
  }

  static parse(text: string): Decimal | undefined {
    const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,4}))?$/.exec(text.trim());
    if (match === null || (match[2] === '' && (match[3] ?? '') === '')) return undefined;
    const fraction = match[3] ?? '';
    const exponent = Number(match[4] ?? 0);
    let units = BigInt(`${match[2] || '0'}${fraction}`);
    let scale = fraction.length - exponent;
    if (scale < 0) {
      units *= 10n ** BigInt(-scale);
      scale = 0;
    }
    return new Decimal(text, match[1] === '-' ? -units : units, scale);
  }

  static fromNumber(value: number): Decimal | undefined {
    return Number.isFinite(value) ? Decimal.parse(String(value)) : undefined;
  }

  compare(other: Decimal): number {
    const scale = Math.max(this.scale, other.scale);
    const a = this.units * 10n ** BigInt(scale - this.scale);
    const b = other.units * 10n ** BigInt(scale - other.scale);
    return a < b ? -1 : a > b ? 1 : 0;
  }

  toJSON(): string {
    return this.raw;
  }

  toString(): string {
    return this.raw;
  }
}

export class DateTime {
  readonly raw: string;
  readonly epochMs: number;

  constructor(raw: string, epochMs: number) {
    this.raw = raw;
    this.epochMs = epochMs;
  }

  /** RFC 3339 / ISO 8601 with a zone (`Z` or an offset). */
  static parse(text: string): DateTime | undefined {
    const trimmed = text.trim();
    if (!/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/.test(trimmed))
      return undefined;
    const ms = Date.parse(trimmed.replace(' ', 'T'));
    return Number.isNaN(ms) ? undefined : new DateTime(text, ms);
  }

  compare(other: DateTime): number {
    return Math.sign(this.epochMs - other.epochMs);
  }

  toJSON(): string {
    return this.raw;
  }

  toString(): string {
    return this.raw;
  }
}

/** A property value: JSON's scalars, lists, the typed values above, or `null` for a value-less property. */
export type PropertyValue = string | number | boolean | Version | Decimal | DateTime | PropertyValue[] | null;

/** Properties keyed by their full dotted name. */
export type FlatProperties = Record<string, PropertyValue>;

const NUMBER_PATTERN = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A number as the language reads it (no hex, no Infinity, no empty string). */
export function parseNumber(text: string): number | undefined {
  const trimmed = text.trim();
  return NUMBER_PATTERN.test(trimmed) ? Number(trimmed) : undefined;
}

/** Whether a plain object would answer `name` from Object.prototype (`constructor`, `toString`, `__proto__` …). */
export function isInheritedName(name: string): boolean {
  return name in Object.prototype;
}

/** The value of a property of the set, never one inherited from Object.prototype. */
export function propertyOf(props: FlatProperties, name: string): PropertyValue | undefined {
  return isInheritedName(name) && !Object.hasOwn(props, name) ? undefined : props[name];
}

/** Sets a property, also one named `__proto__` (a plain assignment would change the prototype instead). */
export function setPropertyOf(props: Record<string, unknown>, name: string, value: unknown): void {
  if (name === '__proto__')
    Object.defineProperty(props, name, { value, enumerable: true, writable: true, configurable: true });
  else props[name] = value;
}
