/** The database's error codes, declared once. */
export const DbErrorCode = {
  OpenFailed: 'DB_OPEN_FAILED',
  SchemaTooNew: 'DB_SCHEMA_TOO_NEW',
  BadMigrations: 'DB_BAD_MIGRATIONS',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

declare module '../errors/index.ts' {
  interface ErrorCodes {
    db: DbErrorCode;
  }
}
