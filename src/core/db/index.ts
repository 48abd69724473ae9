export { Database, openDatabase, type Row, type SqlValue } from './database.ts';
export { DbErrorCode } from './errors.ts';
export { type Migration, type ModuleMigrations, migrate, schemaVersion } from './migrations.ts';
