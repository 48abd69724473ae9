import type { ModuleMigrations } from '../db/index.ts';

export const netMigrations: ModuleMigrations = {
  module: 'net',
  migrations: [
    {
      version: 1,
      description: 'known peers',
      up: `CREATE TABLE net_peer (
        node_id TEXT PRIMARY KEY,
        peer_id TEXT NOT NULL,
        addrs TEXT NOT NULL,
        last_seen TEXT NOT NULL
      )`,
    },
  ],
};
