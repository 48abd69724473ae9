import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Database, openDatabase } from '../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';

/** Counts the statements SQLite is asked to prepare. */
function countPrepares(db: Database): string[] {
  const prepared: string[] = [];
  const original = db.raw.prepare.bind(db.raw);
  db.raw.prepare = ((sql: string) => {
    prepared.push(sql);
    return original(sql);
  }) as typeof db.raw.prepare;
  return prepared;
}

describe('Database statement cache', () => {
  it('prepares a SQL text once and answers every call with its own parameters', () => {
    const db = openDatabase(':memory:');
    db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    const prepared = countPrepares(db);
    for (let i = 0; i < 50; i++) db.run('INSERT INTO item (id, name) VALUES (?, ?)', i, `n${i}`);
    for (let i = 0; i < 50; i++)
      assert.equal(db.get<{ name: string }>('SELECT name FROM item WHERE id = ?', i)?.name, `n${i}`);
    assert.equal(db.all('SELECT id FROM item WHERE id < ?', 5).length, 5);
    assert.equal(db.all('SELECT id FROM item WHERE id < ?', 10).length, 10);
    assert.deepEqual(prepared, [
      'INSERT INTO item (id, name) VALUES (?, ?)',
      'SELECT name FROM item WHERE id = ?',
      'SELECT id FROM item WHERE id < ?',
    ]);
    db.close();
  });

  it('keeps at most its limit, dropping the least recently used first', () => {
    const db = openDatabase(':memory:', { statementCacheLimit: 3 });
    const prepared = countPrepares(db);
    const text = (n: number) => `SELECT ${n} AS n`;
    for (const n of [1, 2, 3, 1, 4]) assert.equal(db.get<{ n: number }>(text(n))?.n, n);
    assert.equal(db.cachedStatements, 3);
    // 2 was the least recently used when 4 came: it is prepared again; 1, 3 and 4 are not.
    for (const n of [1, 3, 4, 2]) db.get(text(n));
    assert.deepEqual(
      prepared.map((sql) => Number(sql.split(' ')[1])),
      [1, 2, 3, 4, 2],
    );
    db.close();
    assert.equal(db.cachedStatements, 0);
  });

  it('a cached statement follows a schema change; a text that does not prepare is not kept', () => {
    const db = openDatabase(':memory:');
    db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)');
    db.run('INSERT INTO item (id) VALUES (1)');
    assert.deepEqual(Object.keys(db.get('SELECT * FROM item') ?? {}), ['id']);
    db.exec("ALTER TABLE item ADD COLUMN price TEXT NOT NULL DEFAULT '0'");
    assert.deepEqual({ ...db.get<Record<string, unknown>>('SELECT * FROM item') }, { id: 1, price: '0' });
    const before = db.cachedStatements;
    assert.throws(() => db.get('SELECT * FROM nowhere'), /no such table/);
    assert.equal(db.cachedStatements, before);
    db.close();
  });
});

describe('Database transactions', () => {
  it('refuse async work and roll back what it did before its first await', async () => {
    const db = openDatabase(':memory:');
    db.exec('CREATE TABLE item (id INTEGER PRIMARY KEY)');
    let later: Promise<void> | undefined;
    assert.throws(
      () =>
        db.transaction(() => {
          db.run('INSERT INTO item (id) VALUES (1)');
          later = (async () => {
            await Promise.resolve();
          })();
          return later;
        }),
      (e) => isGolemError(e, 'DB_ASYNC_TRANSACTION'),
    );
    await later;
    assert.equal(db.all('SELECT id FROM item').length, 0);
    // Nested work is held to the same rule, and the outer transaction rolls back with it.
    assert.throws(
      () =>
        db.transaction(() => {
          db.run('INSERT INTO item (id) VALUES (2)');
          return db.transaction(async () => {});
        }),
      (e) => isGolemError(e, 'DB_ASYNC_TRANSACTION'),
    );
    assert.equal(db.all('SELECT id FROM item').length, 0);
    assert.equal(
      db.transaction(() => db.run('INSERT INTO item (id) VALUES (3)').changes),
      1,
    );
    db.close();
  });
});
