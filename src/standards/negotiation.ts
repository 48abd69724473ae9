import { DateTime, Decimal, type FlatProperties, type PropertyValue, Version } from '../language/index.ts';

export interface UnconfirmedNegotiable {
  key: string;
  /** My value. */
  proposed: PropertyValue;
  /** The other side's value, or undefined when it left the property out. */
  answered: PropertyValue | undefined;
  /** `absent`: the counter-proposal does not repeat the property; `different`: it states another value. */
  reason: 'absent' | 'different';
}

function asDecimal(value: PropertyValue): Decimal | undefined {
  if (value instanceof Decimal) return value;
  return typeof value === 'number' ? Decimal.fromNumber(value) : undefined;
}

/**
 * Whether two values state the same thing: numbers and decimals compare by value (`120`, `120.0` and `d"120"`
 * agree), versions and datetimes by what they denote, lists item by item, everything else strictly.
 */
export function sameValue(a: PropertyValue | undefined, b: PropertyValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
    );
  }
  const decimalA = asDecimal(a);
  const decimalB = asDecimal(b);
  if (decimalA !== undefined && decimalB !== undefined) return decimalA.compare(decimalB) === 0;
  if (a instanceof Version && b instanceof Version) return a.compare(b) === 0;
  if (a instanceof DateTime && b instanceof DateTime) return a.epochMs === b.epochMs;
  return false;
}

/**
 * Negotiable properties (names ending with `?`) bind only when both sides state the same value. Given my
 * proposal's properties and the other side's counter-proposal's, lists each negotiable property I proposed that
 * the counter did not confirm (left out, or answered with another value), with both values, in my order.
 */
export function unconfirmedNegotiables(
  proposal: FlatProperties,
  counter: FlatProperties,
): UnconfirmedNegotiable[] {
  const out: UnconfirmedNegotiable[] = [];
  for (const key of Object.keys(proposal)) {
    if (!key.endsWith('?')) continue;
    const proposed = proposal[key] as PropertyValue;
    const answered = Object.hasOwn(counter, key) ? counter[key] : undefined;
    if (answered === undefined) out.push({ key, proposed, answered, reason: 'absent' });
    else if (!sameValue(proposed, answered)) out.push({ key, proposed, answered, reason: 'different' });
  }
  return out;
}
