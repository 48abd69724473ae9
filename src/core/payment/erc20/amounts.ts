import { formatUnits, getAddress, isAddress, parseUnits } from 'viem';
import { Erc20ErrorCode, erc20Error } from './errors.ts';

export const TOKEN_DECIMALS = 18;
/** A packed payment carries its amount in 12 bytes. */
export const MAX_PACKED_AMOUNT = 2n ** 96n - 1n;

/**
 * `"1.5"` → 1.5e18 wei; rejects anything but a plain non-negative decimal with at most 18 significant fraction digits
 * (zeros beyond the 18th, as a BigDecimal may print them, are fine).
 */
export function toWei(amount: string, field = 'amount'): bigint {
  if (typeof amount === 'string') amount = amount.replace(/^(\d+\.\d{18})0+$/, '$1');
  if (typeof amount !== 'string' || !/^\d+(\.\d{1,18})?$/.test(amount)) {
    throw erc20Error(
      Erc20ErrorCode.BadAmount,
      `${field} must be a decimal number of tokens with at most 18 decimals`,
      {
        [field]: amount,
      },
    );
  }
  return parseUnits(amount, TOKEN_DECIMALS);
}

export function fromWei(wei: bigint): string {
  return formatUnits(wei, TOKEN_DECIMALS);
}

export function checkedAddress(value: string, field: string): `0x${string}` {
  if (typeof value !== 'string' || !isAddress(value, { strict: false })) {
    throw erc20Error(Erc20ErrorCode.BadAddress, `${field} is not an Ethereum address`, { [field]: value });
  }
  return getAddress(value);
}
