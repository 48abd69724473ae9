import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { GolemError } from '../errors/index.ts';
import { DbErrorCode } from './errors.ts';

export type SqlValue = SQLInputValue;
export type Row = Record<string, SqlValue>;

/** How many prepared statements a database keeps by default: the project's SQL texts are a few dozen. */
export const STATEMENT_CACHE_LIMIT = 200;

export interface DatabaseOptions {
  /** Prepared statements kept, least recently used dropped first (default `STATEMENT_CACHE_LIMIT`). */
  statementCacheLimit?: number;
}

/**
 * The node's SQLite database: one connection per daemon (the single writer), WAL journal. Any setting of
 * `synchronous` keeps an acknowledged write through a kill -9 of this process (the written pages are in the
 * operating system's cache); `FULL` syncs the WAL at every commit, so it also survives a power loss or an OS crash.
 * Statements are prepared once per SQL text and reused (bounded cache, per database).
 */
export class Database {
  readonly path: string;
  readonly raw: DatabaseSync;
  readonly statementCacheLimit: number;
  #depth = 0;
  /** By SQL text, in order of last use (a Map keeps insertion order: the first key is the least recent). */
  #statements = new Map<string, StatementSync>();

  constructor(path: string, options: DatabaseOptions = {}) {
    this.path = path;
    this.statementCacheLimit = Math.max(1, options.statementCacheLimit ?? STATEMENT_CACHE_LIMIT);
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

  /** How many prepared statements the cache holds now. */
  get cachedStatements(): number {
    return this.#statements.size;
  }

  /**
   * The prepared statement of `sql`, from the cache or prepared now (a text that fails to prepare is not kept).
   * Private: a statement shared by text must not be handed out, or an open iterator over it would be reset by the
   * next call with the same text.
   */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement !== undefined) {
      this.#statements.delete(sql);
    } else {
      statement = this.raw.prepare(sql);
      if (this.#statements.size >= this.statementCacheLimit) {
        const leastRecent = this.#statements.keys().next().value;
        if (leastRecent !== undefined) this.#statements.delete(leastRecent);
      }
    }
    this.#statements.set(sql, statement);
    return statement;
  }

  run(sql: string, ...params: SqlValue[]): { changes: number; lastInsertRowid: number } {
    const result = this.#prepare(sql).run(...params);
    return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
  }

  get<T = Row>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#prepare(sql).get(...params) as T | undefined;
  }

  all<T = Row>(sql: string, ...params: SqlValue[]): T[] {
    return this.#prepare(sql).all(...params) as T[];
  }

  /** Runs `work` in one transaction (nested calls join the outer one). */
  transaction<T>(work: () => T): T {
    if (this.#depth > 0) {
      this.#depth++;
      try {
        return synchronous(work());
      } finally {
        this.#depth--;
      }
    }
    this.raw.exec('BEGIN IMMEDIATE');
    this.#depth = 1;
    try {
      const result = synchronous(work());
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
    this.#statements.clear();
    if (this.raw.isOpen) this.raw.close();
  }
}

/**
 * A transaction's work must be synchronous: an async one would commit at its first await, and what it wrote after
 * would land outside the transaction (and others' writes inside it).
 */
function synchronous<T>(result: T): T {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw new GolemError(DbErrorCode.AsyncTransaction, 'a transaction runs synchronous work only', {
      details: { why: 'the work returned a promise; everything it did up to its first await is rolled back' },
    });
  }
  return result;
}

export function openDatabase(path: string, options: DatabaseOptions = {}): Database {
  return new Database(path, options);
}
