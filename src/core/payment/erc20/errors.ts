import { GolemError } from '../../errors/index.ts';

/** Error codes of the erc20 payment driver. */
export const Erc20ErrorCode = {
  UnknownPlatform: 'ERC20_UNKNOWN_PLATFORM',
  NetworkNotConfigured: 'ERC20_NETWORK_NOT_CONFIGURED',
  BadAmount: 'ERC20_BAD_AMOUNT',
  BadAddress: 'ERC20_BAD_ADDRESS',
  OrderConflict: 'ERC20_ORDER_CONFLICT',
  TxNotFound: 'ERC20_TX_NOT_FOUND',
  TxFailed: 'ERC20_TX_FAILED',
  TxNotConfirmed: 'ERC20_TX_NOT_CONFIRMED',
  NoMatchingTransfer: 'ERC20_NO_MATCHING_TRANSFER',
  AmountTooSmall: 'ERC20_AMOUNT_TOO_SMALL',
  BadSignature: 'ERC20_BAD_SIGNATURE',
  DepositNotFound: 'ERC20_DEPOSIT_NOT_FOUND',
  DepositReleased: 'ERC20_DEPOSIT_RELEASED',
  Rpc: 'ERC20_RPC',
  NotStarted: 'ERC20_NOT_STARTED',
} as const;

export type Erc20ErrorCodeValue = (typeof Erc20ErrorCode)[keyof typeof Erc20ErrorCode];

declare module '../../errors/index.ts' {
  interface ErrorCodes {
    erc20: Erc20ErrorCodeValue;
  }
}

export function erc20Error(
  code: Erc20ErrorCodeValue,
  message: string,
  details?: Record<string, unknown>,
  options: { cause?: unknown; httpStatus?: number } = {},
): GolemError {
  return new GolemError(code, message, {
    details,
    cause: options.cause,
    httpStatus: options.httpStatus ?? 400,
  });
}
