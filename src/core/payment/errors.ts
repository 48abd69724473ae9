/** Error codes of the payment module, declared once; HTTP statuses as yagna answers them. */
import { type ErrorDetails, GolemError } from '../errors/index.ts';

export const PaymentErrorCode = {
  BadRequest: 'PAYMENT_BAD_REQUEST',
  BadAmount: 'PAYMENT_BAD_AMOUNT',
  BadPlatform: 'PAYMENT_BAD_PLATFORM',
  AccountNotRegistered: 'PAYMENT_ACCOUNT_NOT_REGISTERED',
  InsufficientFunds: 'PAYMENT_INSUFFICIENT_FUNDS',
  AllocationNotFound: 'PAYMENT_ALLOCATION_NOT_FOUND',
  AllocationReleased: 'PAYMENT_ALLOCATION_RELEASED',
  AllocationInvalid: 'PAYMENT_ALLOCATION_INVALID',
  DepositInvalid: 'PAYMENT_DEPOSIT_INVALID',
  DocumentNotFound: 'PAYMENT_DOCUMENT_NOT_FOUND',
  DocumentState: 'PAYMENT_DOCUMENT_STATE',
  AmountMismatch: 'PAYMENT_AMOUNT_MISMATCH',
  NotEnoughAllocated: 'PAYMENT_NOT_ENOUGH_ALLOCATED',
  AgreementUnknown: 'PAYMENT_AGREEMENT_UNKNOWN',
  ActivityUnknown: 'PAYMENT_ACTIVITY_UNKNOWN',
  NotCounterparty: 'PAYMENT_NOT_COUNTERPARTY',
  Forbidden: 'PAYMENT_FORBIDDEN',
  LimitExceeded: 'PAYMENT_LIMIT_EXCEEDED',
  BadSignature: 'PAYMENT_BAD_SIGNATURE',
  PaymentInvalid: 'PAYMENT_INVALID',
  DoubleClaim: 'PAYMENT_DOUBLE_CLAIM',
  NoDriver: 'PAYMENT_NO_DRIVER',
  PeerUnreachable: 'PAYMENT_PEER_UNREACHABLE',
  NotImplemented: 'PAYMENT_NOT_IMPLEMENTED',
} as const;

export type PaymentErrorCode = (typeof PaymentErrorCode)[keyof typeof PaymentErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    payment: PaymentErrorCode;
  }
}

export function paymentError(
  code: PaymentErrorCode,
  message: string,
  httpStatus: number,
  details?: ErrorDetails,
  cause?: unknown,
): GolemError {
  return new GolemError(code, message, { httpStatus, details, cause });
}

/** Problem kinds of the allocation endpoints (`type` and `instance` of their RFC 7807 answers, as yagna's). */
export const AllocationProblem = {
  [PaymentErrorCode.BadPlatform]: { type: 'bad-payment-platform', instance: 'bad-payment-platform' },
  [PaymentErrorCode.InsufficientFunds]: { type: 'validation-error', instance: 'insufficient-account-funds' },
  [PaymentErrorCode.AllocationInvalid]: { type: 'validation-error', instance: 'invalid-allocation' },
  [PaymentErrorCode.DepositInvalid]: { type: 'validation-error', instance: 'deposit-validation' },
  [PaymentErrorCode.AccountNotRegistered]: {
    type: 'account-not-registered',
    instance: 'account-not-registered',
  },
  [PaymentErrorCode.BadAmount]: { type: 'validation-error', instance: 'bad-amount' },
  [PaymentErrorCode.BadRequest]: { type: 'bad-request', instance: 'bad-request' },
  [PaymentErrorCode.AllocationNotFound]: { type: 'not-found', instance: 'allocation-not-found' },
  [PaymentErrorCode.AllocationReleased]: { type: 'gone', instance: 'allocation-released' },
} as const satisfies Partial<Record<PaymentErrorCode, { type: string; instance: string }>>;
