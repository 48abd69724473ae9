/** The database's error codes, declared once. */
export const DbErrorCode = {
  OpenFailed: 'DB_OPEN_FAILED',
  SchemaTooNew: 'DB_SCHEMA_TOO_NEW',
  BadMigrations: 'DB_BAD_MIGRATIONS',
  /** `transaction()` was given async work (a programming error, refused rather than committed half-way). */
  AsyncTransaction: 'DB_ASYNC_TRANSACTION',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    db: DbErrorCode;
  }
}
