/**
 * The database's statement cache against preparing every statement on every call (what `Database` did before),
 * in the same run on the same file: point reads by key, and inserts inside one transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../src/core/db/index.ts';
import { type Benchmark, type Measurement, medianMs, percentile } from './harness.ts';

const ROWS = 20_000;
const READS = 50_000;

async function withDatabase<T>(work: (db: ReturnType<typeof openDatabase>) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'golem-ts-db-bench-'));
  const db = openDatabase(join(dir, 'bench.db'));
  try {
    db.exec(
      'CREATE TABLE offer (id TEXT PRIMARY KEY, provider TEXT NOT NULL, body TEXT NOT NULL, expires INTEGER)',
    );
    return await work(db);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const INSERT = 'INSERT OR REPLACE INTO offer (id, provider, body, expires) VALUES (?, ?, ?, ?)';
const SELECT = 'SELECT provider, body, expires FROM offer WHERE id = ?';

/** Medians of interleaved rounds, so a busy moment on the machine weighs on both alike. */
async function againstPreparePerCall(
  cached: () => unknown,
  preparePerCall: () => unknown,
): Promise<Measurement> {
  const value: number[] = [];
  const baseline: number[] = [];
  for (let round = 0; round < 5; round++) {
    value.push(await medianMs(cached, 1, round === 0 ? 1 : 0));
    baseline.push(await medianMs(preparePerCall, 1, round === 0 ? 1 : 0));
  }
  return {
    value: percentile(value, 50),
    baseline: percentile(baseline, 50),
    baselineName: 'prepare per call',
  };
}

export const benchmarks: Benchmark[] = [
  {
    name: `db: ${READS.toLocaleString('en')} point reads, statement cache vs prepare per call`,
    unit: 'ms',
    better: 'lower',
    run: () =>
      withDatabase(async (db) => {
        db.transaction(() => {
          for (let i = 0; i < ROWS; i++) db.run(INSERT, `offer-${i}`, `0x${i}`, '{"a":1}', i);
        });
        const allFound = (found: number) => {
          if (found !== READS) throw new Error(`reads found ${found} of ${READS} rows`);
        };
        const cached = () => {
          let found = 0;
          for (let i = 0; i < READS; i++) if (db.get(SELECT, `offer-${i % ROWS}`) !== undefined) found++;
          allFound(found);
        };
        const preparePerCall = () => {
          let found = 0;
          for (let i = 0; i < READS; i++)
            if (db.raw.prepare(SELECT).get(`offer-${i % ROWS}`) !== undefined) found++;
          allFound(found);
        };
        return againstPreparePerCall(cached, preparePerCall);
      }),
  },
  {
    name: `db: ${ROWS.toLocaleString('en')} inserts in one transaction, statement cache vs prepare per call`,
    unit: 'ms',
    better: 'lower',
    run: () =>
      withDatabase(async (db) => {
        const cached = () =>
          db.transaction(() => {
            for (let i = 0; i < ROWS; i++) db.run(INSERT, `offer-${i}`, `0x${i}`, '{"a":1}', i);
          });
        const preparePerCall = () =>
          db.transaction(() => {
            for (let i = 0; i < ROWS; i++) db.raw.prepare(INSERT).run(`offer-${i}`, `0x${i}`, '{"a":1}', i);
          });
        return againstPreparePerCall(cached, preparePerCall);
      }),
  },
];
