/**
 * Messages to other nodes (payment's debit notes, invoices, acceptances and payments; the market's termination,
 * cancellation and rejection notices), persisted in the same transaction as the state change they announce and
 * delivered until the peer acknowledges: a restart or an unreachable peer delays a message, never loses it. Retries back off exponentially up to a ceiling. A peer that
 * answers with an error of its own (not a transport failure) refused the message: it is dropped and reported.
 */
import type { Bus } from '../bus/index.ts';
import { BusErrorCode } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import { errorMessage, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';

export interface OutboxOptions {
  /** First retry delay (`GOLEM_PAYMENT_RETRY_INITIAL_MS`, default 1 s). */
  initialDelayMs: number;
  /** Retry delay ceiling (`GOLEM_PAYMENT_RETRY_MAX_MS`, default 10 min, as yagna's error delay). */
  maxDelayMs: number;
  /** Deadline of one delivery attempt. */
  callTimeoutMs: number;
}

/** Where an outbox keeps its rows (a table of its module's) and how it addresses a peer. */
export interface OutboxPlace {
  /** A table with the outbox columns (payment_outbox's; a constant of the module, never input). */
  table: string;
  addressOf: (nodeId: string, address: string) => string;
  /** Bounds on what waits for one peer: the oldest beyond `perTarget` and anything older than `maxAgeMs` go. */
  limits?: { perTarget: number; maxAgeMs: number };
}

interface OutboxRow {
  key: string;
  target_id: string;
  sender_id: string;
  address: string;
  message: string;
  attempts: number;
  next_attempt_at: number;
}

/** Transport failures: the message may not have arrived, so it is tried again. */
const TRANSIENT = new Set<string>([
  BusErrorCode.Unreachable,
  BusErrorCode.Timeout,
  BusErrorCode.NoHandler,
  BusErrorCode.Cancelled,
  'NET_NOT_STARTED',
]);

export function isTransient(error: unknown): boolean {
  return (
    !isGolemError(error) ||
    TRANSIENT.has(error.code) ||
    (error.httpStatus ?? 0) >= 500 ||
    error.httpStatus === 429
  );
}

export type DeliveryOutcome = { delivered: true } | { delivered: false; error: unknown; permanent: boolean };

export type DeliveredHook = (message: unknown, reply: unknown) => void;
export type RefusedHook = (message: unknown, error: unknown) => void;

export class Outbox {
  #db: Database;
  #bus: Bus;
  #log: Logger;
  #options: OutboxOptions;
  #delivered = new Map<string, DeliveredHook>();
  #refused = new Map<string, RefusedHook>();
  #inFlight = new Map<string, Promise<DeliveryOutcome>>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #place: OutboxPlace;

  constructor(db: Database, bus: Bus, log: Logger, options: OutboxOptions, place: OutboxPlace) {
    this.#db = db;
    this.#bus = bus;
    this.#log = log.child('outbox');
    this.#options = options;
    this.#place = place;
  }

  /** What to record once `address` was acknowledged / refused (runs in a transaction with the row's removal). */
  on(address: string, delivered: DeliveredHook, refused?: RefusedHook): void {
    this.#delivered.set(address, delivered);
    if (refused !== undefined) this.#refused.set(address, refused);
  }

  /** Queues a message (call inside the transaction of the change it announces). The same key is queued once. */
  enqueue(key: string, target: string, sender: string, address: string, message: unknown): void {
    this.#db.run(
      `INSERT OR IGNORE INTO ${this.#place.table} (key, target_id, sender_id, address, message, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      key,
      target,
      sender,
      address,
      JSON.stringify(message),
      Date.now(),
      new Date().toISOString(),
    );
    const limits = this.#place.limits;
    if (limits !== undefined) {
      const dropped = this.#db.run(
        `DELETE FROM ${this.#place.table} WHERE target_id = ? AND key NOT IN (SELECT key FROM ${this.#place.table} WHERE target_id = ? ORDER BY created_at DESC, key DESC LIMIT ?)`,
        target,
        target,
        limits.perTarget,
      ).changes;
      if (Number(dropped) > 0)
        this.#log.warn('too many messages wait for one peer; dropped the oldest', { target, dropped });
    }
    this.#arm(0);
  }

  has(key: string): boolean {
    return this.#db.get(`SELECT 1 FROM ${this.#place.table} WHERE key = ?`, key) !== undefined;
  }

  start(): void {
    this.#running = true;
    this.#arm(0);
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Tries `key` now (a REST call waiting for the peer's answer); a failure stays queued unless refused. */
  deliverNow(key: string, timeoutMs = this.#options.callTimeoutMs): Promise<DeliveryOutcome> {
    const row = this.#db.get<OutboxRow>(`SELECT * FROM ${this.#place.table} WHERE key = ?`, key);
    if (row === undefined) return Promise.resolve({ delivered: true });
    return this.#attempt(row, timeoutMs);
  }

  #attempt(row: OutboxRow, timeoutMs: number): Promise<DeliveryOutcome> {
    const pending = this.#inFlight.get(row.key);
    if (pending !== undefined) return pending;
    const attempt = this.#deliver(row, timeoutMs).finally(() => this.#inFlight.delete(row.key));
    this.#inFlight.set(row.key, attempt);
    return attempt;
  }

  async #deliver(row: OutboxRow, timeoutMs: number): Promise<DeliveryOutcome> {
    const message: unknown = JSON.parse(row.message);
    try {
      const reply = await this.#bus.call(this.#place.addressOf(row.target_id, row.address), message, {
        as: row.sender_id,
        timeoutMs,
      });
      this.#db.transaction(() => {
        if (this.#db.run(`DELETE FROM ${this.#place.table} WHERE key = ?`, row.key).changes === 1)
          this.#delivered.get(row.address)?.(message, reply);
      });
      return { delivered: true };
    } catch (error) {
      if (!isTransient(error)) {
        this.#log.warn('peer refused a message', {
          key: row.key,
          target: row.target_id,
          error: errorMessage(error),
        });
        this.#db.transaction(() => {
          if (this.#db.run(`DELETE FROM ${this.#place.table} WHERE key = ?`, row.key).changes === 1)
            this.#refused.get(row.address)?.(message, error);
        });
        return { delivered: false, error, permanent: true };
      }
      const attempts = row.attempts + 1;
      const delay = Math.min(
        this.#options.maxDelayMs,
        this.#options.initialDelayMs * 2 ** Math.min(attempts - 1, 20),
      );
      this.#db.run(
        `UPDATE ${this.#place.table} SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE key = ?`,
        attempts,
        Date.now() + delay,
        errorMessage(error),
        row.key,
      );
      this.#log.debug('message not delivered, will retry', {
        key: row.key,
        attempts,
        delayMs: delay,
      });
      return { delivered: false, error, permanent: false };
    }
  }

  #arm(delayMs: number): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), Math.max(0, delayMs));
    this.#timer.unref?.();
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    const limits = this.#place.limits;
    if (limits !== undefined) {
      const cutoff = new Date(now - limits.maxAgeMs).toISOString();
      const expired = this.#db.run(`DELETE FROM ${this.#place.table} WHERE created_at < ?`, cutoff).changes;
      if (Number(expired) > 0) this.#log.warn('messages undelivered for too long were dropped', { expired });
    }
    const due = this.#db.all<OutboxRow>(
      `SELECT * FROM ${this.#place.table} WHERE next_attempt_at <= ? ORDER BY created_at, key LIMIT 64`,
      now,
    );
    // In order per target: a later message to a peer waits for the earlier ones (an acceptance after its note).
    const byTarget = new Map<string, OutboxRow[]>();
    for (const row of due) byTarget.set(row.target_id, [...(byTarget.get(row.target_id) ?? []), row]);
    await Promise.all(
      [...byTarget.values()].map(async (rows) => {
        for (const row of rows) {
          const outcome = await this.#attempt(row, this.#options.callTimeoutMs);
          if (!outcome.delivered && !outcome.permanent) break;
        }
      }),
    );
    if (!this.#running) return;
    const next = this.#db.get<{ at: number | null }>(
      `SELECT MIN(next_attempt_at) AS at FROM ${this.#place.table}`,
    );
    if (next?.at !== null && next?.at !== undefined) this.#arm(next.at - Date.now());
  }
}
