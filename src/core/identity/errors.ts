/** The identity module's error codes (identities, keystores and app-keys), declared once. */
export const IdentityErrorCode = {
  NotFound: 'IDENTITY_NOT_FOUND',
  Exists: 'IDENTITY_EXISTS',
  AliasTaken: 'IDENTITY_ALIAS_TAKEN',
  BadAlias: 'IDENTITY_BAD_ALIAS',
  BadDigest: 'IDENTITY_BAD_DIGEST',
  BadKey: 'IDENTITY_BAD_KEY',
  BadKeystore: 'IDENTITY_BAD_KEYSTORE',
  UnsupportedKeystore: 'IDENTITY_UNSUPPORTED_KEYSTORE',
  BadRequest: 'IDENTITY_BAD_REQUEST',
  DefaultLock: 'IDENTITY_DEFAULT_LOCK',
  DefaultLocked: 'IDENTITY_DEFAULT_LOCKED',
  DropDefault: 'IDENTITY_DROP_DEFAULT',
  EmptyPassword: 'IDENTITY_EMPTY_PASSWORD',
  Locked: 'IDENTITY_LOCKED',
  WrongPassword: 'IDENTITY_WRONG_PASSWORD',
  AppKeyAutoconf: 'APPKEY_AUTOCONF',
  AppKeyBadName: 'APPKEY_BAD_NAME',
  AppKeyNameTaken: 'APPKEY_NAME_TAKEN',
  AppKeyNotFound: 'APPKEY_NOT_FOUND',
} as const;
export type IdentityErrorCode = (typeof IdentityErrorCode)[keyof typeof IdentityErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    identity: IdentityErrorCode;
  }
}
