/**
 * Amounts as decimal strings on the wire and integers of 10^-18 GLM inside: the linear price of a usage vector is
 * computed without floats near money (a coefficient's decimal text is taken exactly; usage is rounded to µ-units).
 */
const SCALE = 10n ** 18n;
const USAGE_SCALE = 1_000_000n;

/** A number or decimal text → 10^-18 units (exact for the text JavaScript prints, exponents included). */
export function toUnits(value: number | string): bigint {
  const text = typeof value === 'number' ? value.toString() : value.trim();
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (match === null || (match[2] === '' && (match[3] ?? '') === ''))
    throw new RangeError(`not a number: ${text}`);
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  let digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, '') || '0';
  let shift = 18 - fraction.length + Number(exponent);
  if (shift >= 0) digits += '0'.repeat(shift);
  else {
    shift = -shift;
    // rounds half up at the 18th decimal
    const kept = digits.length > shift ? digits.slice(0, digits.length - shift) : '0';
    const next = digits.length >= shift ? Number(digits[digits.length - shift]) : 0;
    digits = (BigInt(kept) + (next >= 5 ? 1n : 0n)).toString();
  }
  const units = BigInt(digits);
  return sign === '-' ? -units : units;
}

export function formatUnits(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / SCALE;
  const fraction = (abs % SCALE).toString().padStart(18, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** `coeffs[last] + Σ coeffs[i]·usage[i]` in 10^-18 units (missing usage counts as 0). */
export function linearCost(coeffs: readonly (number | string)[], usage: readonly number[] | null): bigint {
  if (coeffs.length === 0) return 0n;
  let total = toUnits(coeffs[coeffs.length - 1]!);
  for (let i = 0; i < coeffs.length - 1; i++) {
    const amount = usage?.[i] ?? 0;
    if (!Number.isFinite(amount) || amount <= 0) continue;
    total += (toUnits(coeffs[i]!) * BigInt(Math.round(amount * Number(USAGE_SCALE)))) / USAGE_SCALE;
  }
  return total;
}
