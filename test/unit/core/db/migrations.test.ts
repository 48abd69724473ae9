import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ModuleMigrations,
  migrate,
  openDatabase,
  schemaVersion,
} from '../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';

const sample: ModuleMigrations = {
  module: 'sample',
  migrations: [
    {
      version: 1,
      description: 'items',
      up: 'CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)',
    },
    { version: 2, description: 'item price', up: 'ALTER TABLE item ADD COLUMN price TEXT' },
    {
      version: 3,
      description: 'default price',
      up: (db) => {
        db.run("UPDATE item SET price = '0' WHERE price IS NULL");
      },
    },
  ],
};

describe('migrations', () => {
  it('bring an empty database to the latest version', () => {
    const db = openDatabase(':memory:');
    assert.equal(migrate(db, sample), 3);
    db.run("INSERT INTO item (name, price) VALUES ('a', '1')");
    assert.equal(db.all('SELECT * FROM item').length, 1);
  });

  it('upgrade from every earlier version and keep the data', () => {
    for (let from = 0; from < sample.migrations.length; from++) {
      const db = openDatabase(':memory:');
      migrate(db, sample, from);
      assert.equal(schemaVersion(db, sample.module), from);
      if (from >= 1) db.run("INSERT INTO item (name) VALUES ('kept')");
      assert.equal(migrate(db, sample), 3);
      if (from >= 1) assert.equal(db.get<{ price: string }>('SELECT price FROM item')?.price, '0');
    }
  });

  it('refuse a database newer than the program', () => {
    const db = openDatabase(':memory:');
    migrate(db, sample);
    assert.throws(
      () => migrate(db, { module: 'sample', migrations: sample.migrations.slice(0, 2) }),
      (e) => isGolemError(e, 'DB_SCHEMA_TOO_NEW'),
    );
  });

  it('roll back a failing step and leave the version unchanged', () => {
    const db = openDatabase(':memory:');
    const broken: ModuleMigrations = {
      module: 'broken',
      migrations: [
        { version: 1, description: 'ok', up: 'CREATE TABLE t (a INTEGER)' },
        { version: 2, description: 'fails', up: 'ALTER TABLE missing ADD COLUMN b' },
      ],
    };
    assert.throws(() => migrate(db, broken));
    assert.equal(schemaVersion(db, 'broken'), 1);
  });
});
