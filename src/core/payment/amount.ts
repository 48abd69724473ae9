/**
 * Token amounts: decimal strings of whole tokens on the wire (`"1.5"`), integers of the smallest unit (18
 * decimals, as GLM) inside, so sums and comparisons are exact. Floats never carry money.
 */
import { PaymentErrorCode, paymentError } from './errors.ts';

export const TOKEN_DECIMALS = 18;
const SCALE = 10n ** BigInt(TOKEN_DECIMALS);
const DECIMAL = /^(\d{1,60})(?:\.(\d{1,18})0*)?$/;

/** `"1.5"` → 1500000000000000000n; refuses negatives, exponents, more than 18 decimals. */
export function parseAmount(value: unknown, field = 'amount'): bigint {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  const match = typeof text === 'string' ? DECIMAL.exec(text.trim()) : null;
  if (match === null)
    throw paymentError(
      PaymentErrorCode.BadAmount,
      `${field} must be a non-negative decimal string with at most ${TOKEN_DECIMALS} decimals`,
      400,
      { field, value },
    );
  const fraction = (match[2] ?? '').padEnd(TOKEN_DECIMALS, '0');
  return BigInt(match[1]!) * SCALE + BigInt(fraction);
}

/** 1500000000000000000n → `"1.5"`; 0n → `"0"`. */
export function formatAmount(units: bigint): string {
  const sign = units < 0n ? '-' : '';
  const abs = units < 0n ? -units : units;
  const whole = abs / SCALE;
  const fraction = (abs % SCALE).toString().padStart(TOKEN_DECIMALS, '0').replace(/0+$/, '');
  return fraction === '' ? `${sign}${whole}` : `${sign}${whole}.${fraction}`;
}

/** Stored form: the integer as a decimal string (SQLite integers stop at 2^63). */
export const units = (stored: string): bigint => BigInt(stored);
