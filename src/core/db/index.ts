export {
  Database,
  type DatabaseOptions,
  openDatabase,
  type Row,
  type SqlValue,
  STATEMENT_CACHE_LIMIT,
} from './database.ts';
export { DbErrorCode } from './errors.ts';
export { type Migration, type ModuleMigrations, migrate, schemaVersion } from './migrations.ts';
