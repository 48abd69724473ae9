import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { migrate, openDatabase, schemaVersion } from '../../../../src/core/db/index.ts';
import { identityMigrations } from '../../../../src/core/identity/index.ts';

const latest = identityMigrations.migrations.length;

describe('identity migrations', () => {
  it('bring an empty database and every earlier version to the latest schema', () => {
    for (let from = 0; from <= latest; from++) {
      const db = openDatabase(':memory:');
      try {
        migrate(db, identityMigrations, from);
        assert.equal(migrate(db, identityMigrations), latest);
        assert.equal(schemaVersion(db, 'identity'), latest);
        const now = new Date().toISOString();
        db.run(
          "INSERT INTO identity (node_id, alias, keystore, is_default, created_at) VALUES ('0xaa', 'main', '{}', 1, ?)",
          now,
        );
        // Aliases are unique, app-key names are unique, and an app-key needs an existing identity.
        assert.throws(() =>
          db.run(
            "INSERT INTO identity (node_id, alias, keystore, created_at) VALUES ('0xbb', 'main', '{}', ?)",
            now,
          ),
        );
        db.run("INSERT INTO app_key (key, name, node_id, created_at) VALUES ('k1', 'app', '0xaa', ?)", now);
        assert.throws(() =>
          db.run("INSERT INTO app_key (key, name, node_id, created_at) VALUES ('k2', 'app', '0xaa', ?)", now),
        );
        assert.throws(() =>
          db.run(
            "INSERT INTO app_key (key, name, node_id, created_at) VALUES ('k3', 'other', '0xcc', ?)",
            now,
          ),
        );
        // Dropping an identity takes its app-keys with it.
        db.run("DELETE FROM identity WHERE node_id = '0xaa'");
        assert.equal(db.all('SELECT * FROM app_key').length, 0);
      } finally {
        db.close();
      }
    }
  });
});
