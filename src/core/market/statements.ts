import type { StatementSync } from 'node:sqlite';
import type { Database } from '../db/index.ts';

/** Prepared statements of one store, made once per SQL text (the market's hot paths run them thousands of times). */
export class Statements {
  #db: Database;
  #prepared = new Map<string, StatementSync>();

  constructor(db: Database) {
    this.#db = db;
  }

  get(sql: string): StatementSync {
    let statement = this.#prepared.get(sql);
    if (statement === undefined) {
      statement = this.#db.raw.prepare(sql);
      this.#prepared.set(sql, statement);
    }
    return statement;
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** JSON from a stored column; undefined when it does not parse (the caller decides what a damaged row means). */
export function parseStored(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
