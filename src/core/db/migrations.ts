import { GolemError } from '../errors/index.ts';
import type { Database } from './database.ts';
import { DbErrorCode } from './errors.ts';

/** One step of a module's schema. Versions of a module start at 1 and grow by one. */
export interface Migration {
  version: number;
  description: string;
  up: string | ((db: Database) => void);
}

export interface ModuleMigrations {
  module: string;
  migrations: readonly Migration[];
}

const LEDGER = `CREATE TABLE IF NOT EXISTS schema_migrations (
  module TEXT NOT NULL,
  version INTEGER NOT NULL,
  description TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (module, version)
)`;

export function schemaVersion(db: Database, module: string): number {
  db.exec(LEDGER);
  const row = db.get<{ v: number | null }>(
    'SELECT MAX(version) AS v FROM schema_migrations WHERE module = ?',
    module,
  );
  return row?.v ?? 0;
}

/**
 * Brings `module`'s schema up to `targetVersion` (default: the latest). Each step runs in its own transaction
 * together with its ledger entry, so a crash leaves the schema at a known version.
 */
export function migrate(db: Database, set: ModuleMigrations, targetVersion?: number): number {
  checkSequence(set);
  const latest = set.migrations.length;
  const target = targetVersion ?? latest;
  const current = schemaVersion(db, set.module);
  if (current > latest) {
    throw new GolemError(
      DbErrorCode.SchemaTooNew,
      `database schema of ${set.module} is version ${current}, this program knows up to ${latest}`,
      { details: { module: set.module, current, latest } },
    );
  }
  for (const migration of set.migrations) {
    if (migration.version <= current || migration.version > target) continue;
    db.transaction(() => {
      if (typeof migration.up === 'string') db.exec(migration.up);
      else migration.up(db);
      db.run(
        'INSERT INTO schema_migrations (module, version, description, applied_at) VALUES (?, ?, ?, ?)',
        set.module,
        migration.version,
        migration.description,
        new Date().toISOString(),
      );
    });
  }
  return schemaVersion(db, set.module);
}

function checkSequence(set: ModuleMigrations): void {
  set.migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new GolemError(
        DbErrorCode.BadMigrations,
        `migrations of ${set.module} must be numbered 1, 2, 3, …`,
        {
          details: { module: set.module, index, version: migration.version },
        },
      );
    }
  });
}
