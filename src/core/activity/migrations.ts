import type { ModuleMigrations } from '../db/index.ts';

export const activityMigrations: ModuleMigrations = {
  module: 'activity',
  migrations: [
    {
      version: 1,
      description: 'activities of both roles: parties, state pair, last usage',
      up: `
        CREATE TABLE activity (
          activity_id TEXT NOT NULL,
          role TEXT NOT NULL CHECK (role IN ('requestor', 'provider')),
          agreement_id TEXT NOT NULL,
          requestor_id TEXT NOT NULL,
          provider_id TEXT NOT NULL,
          state TEXT NOT NULL,
          pending TEXT,
          reason TEXT,
          error_message TEXT,
          usage TEXT,
          usage_at INTEGER,
          created_at TEXT NOT NULL,
          updated_at TEXT NOT NULL,
          PRIMARY KEY (activity_id, role)
        );
        CREATE INDEX activity_agreement ON activity(agreement_id);
      `,
    },
  ],
};
