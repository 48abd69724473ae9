import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { GolemError } from '../errors/index.ts';
import { DbErrorCode } from './errors.ts';

export type SqlValue = SQLInputValue;
export type Row = Record<string, SqlValue>;

/**
 * The node's SQLite database: one connection per daemon (the single writer), WAL journal, full sync so
 * that every acknowledged write survives a kill -9.
 */
export class Database {
  readonly path: string;
  readonly raw: DatabaseSync;
  #depth = 0;

  constructor(path: string) {
    this.path = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    try {
      this.raw = new DatabaseSync(path);
    } catch (cause) {
      throw new GolemError(DbErrorCode.OpenFailed, `cannot open database ${path}`, {
        cause,
        details: { path },
      });
    }
    this.raw.exec('PRAGMA journal_mode = WAL');
    this.raw.exec('PRAGMA synchronous = FULL');
    this.raw.exec('PRAGMA foreign_keys = ON');
    this.raw.exec('PRAGMA busy_timeout = 5000');
  }

  exec(sql: string): void {
    this.raw.exec(sql);
  }

  run(sql: string, ...params: SqlValue[]): { changes: number; lastInsertRowid: number } {
    const result = this.raw.prepare(sql).run(...params);
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  get<T = Row>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.raw.prepare(sql).get(...params) as T | undefined;
  }

  all<T = Row>(sql: string, ...params: SqlValue[]): T[] {
    return this.raw.prepare(sql).all(...params) as T[];
  }

  /** Runs `work` in one transaction (nested calls join the outer one). */
  transaction<T>(work: () => T): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return work();
      } finally {
        this.#depth--;
      }
    }
    this.raw.exec('BEGIN IMMEDIATE');
    this.#depth = 1;
    try {
      const result = work();
      this.raw.exec('COMMIT');
      return result;
    } catch (error) {
      this.raw.exec('ROLLBACK');
      throw error;
    } finally {
      this.#depth = 0;
    }
  }

  close(): void {
    if (this.raw.isOpen) this.raw.close();
  }
}

export function openDatabase(path: string): Database {
  return new Database(path);
}
