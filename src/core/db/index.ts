export { Database, openDatabase, type Row, type SqlValue } from './database.ts';
export { type Migration, type ModuleMigrations, migrate, schemaVersion } from './migrations.ts';
