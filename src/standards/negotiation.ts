import type { FlatProperties, PropertyValue } from '../language/index.ts';

export interface UnconfirmedNegotiable {
  key: string;
  proposed: PropertyValue;
  /** The other side's value, or undefined when it left the property out. */
  answered: PropertyValue | undefined;
}

function same(a: PropertyValue | undefined, b: PropertyValue | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Negotiable properties (`…?`) bind only when both sides state the same value. Given my proposal and the other
 * side's counter-proposal, lists the negotiable properties I proposed that the counter did not confirm.
 */
export function unconfirmedNegotiables(
  proposal: FlatProperties,
  counter: FlatProperties,
): UnconfirmedNegotiable[] {
  const out: UnconfirmedNegotiable[] = [];
  for (const [key, proposed] of Object.entries(proposal)) {
    if (!key.endsWith('?')) continue;
    const answered = counter[key];
    if (!same(proposed, answered)) out.push({ key, proposed, answered });
  }
  return out;
}
