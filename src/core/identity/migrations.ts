import type { ModuleMigrations } from '../db/index.ts';

export const identityMigrations: ModuleMigrations = {
  module: 'identity',
  migrations: [
    {
      version: 1,
      description: 'identities and app-keys',
      up: `
        CREATE TABLE identity (
          node_id TEXT PRIMARY KEY,
          alias TEXT UNIQUE,
          keystore TEXT NOT NULL,
          is_default INTEGER NOT NULL DEFAULT 0,
          created_at TEXT NOT NULL
        );
        CREATE TABLE app_key (
          key TEXT PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          node_id TEXT NOT NULL REFERENCES identity(node_id) ON DELETE CASCADE,
          allow_origins TEXT NOT NULL DEFAULT '[]',
          created_at TEXT NOT NULL
        );
        CREATE INDEX app_key_node ON app_key(node_id);
      `,
    },
  ],
};
