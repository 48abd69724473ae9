/** The signing primitives' error codes, declared once. */
export const CryptoErrorCode = {
  BadHex: 'CRYPTO_BAD_HEX',
  BadDigest: 'CRYPTO_BAD_DIGEST',
  BadSignature: 'CRYPTO_BAD_SIGNATURE',
  NotCanonical: 'CRYPTO_NOT_CANONICAL',
} as const;
export type CryptoErrorCode = (typeof CryptoErrorCode)[keyof typeof CryptoErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    crypto: CryptoErrorCode;
  }
}
