/**
 * The proposal event queues REST clients drain (`GET /demands/{id}/events`, `GET /offers/{id}/events`): one
 * queue per subscription, persisted, read destructively, waiters woken when something is queued.
 */

import type { Notifier } from '../api/index.ts';
import type { Database } from '../db/index.ts';
import type { Reason } from './agreements.ts';
import { isRecord, parseStored, Statements } from './statements.ts';
import type { Role } from './views.ts';

/**
 * What a queue holds. `matched` lists offers that matched a demand, one row per batch: their Initial proposals
 * are written as they are collected, so a demand matching thousands of offers costs one row, not thousands.
 */
export type SubscriptionEvent =
  | { kind: 'proposal'; id: string; role: Role; at: string }
  | { kind: 'rejected'; proposalId: string; reason: Reason; at: string }
  | { kind: 'agreement'; agreementId: string; at: string }
  | { kind: 'matched'; offerIds: string[]; at: string };

/** One event as taken off a queue: a `matched` batch comes out one offer at a time. */
export type TakenEvent =
  | Exclude<SubscriptionEvent, { kind: 'matched' }>
  | { kind: 'matched'; offerId: string; at: string };

function checkEvent(value: unknown): SubscriptionEvent | undefined {
  if (!isRecord(value) || typeof value.at !== 'string') return undefined;
  if (
    value.kind === 'proposal' &&
    typeof value.id === 'string' &&
    (value.role === 'requestor' || value.role === 'provider')
  )
    return value as SubscriptionEvent;
  if (
    value.kind === 'rejected' &&
    typeof value.proposalId === 'string' &&
    (value.reason === null || isRecord(value.reason))
  )
    return value as SubscriptionEvent;
  if (value.kind === 'agreement' && typeof value.agreementId === 'string') return value as SubscriptionEvent;
  if (
    value.kind === 'matched' &&
    Array.isArray(value.offerIds) &&
    value.offerIds.every((id) => typeof id === 'string')
  )
    return value as SubscriptionEvent;
  return undefined;
}

export const subscriptionTopic = (subscriptionId: string) => `sub:${subscriptionId}`;

export class SubscriptionEvents {
  #db: Database;
  #sql: Statements;
  #notifier: Notifier;
  #woken = new Set<string>();

  constructor(db: Database, notifier: Notifier) {
    this.#db = db;
    this.#sql = new Statements(db);
    this.#notifier = notifier;
  }

  /** Queues an event (inside the caller's transaction, if any); waiters are woken once it is committed. */
  queue(subscriptionId: string, event: SubscriptionEvent): void {
    this.#sql
      .get('INSERT INTO market_event (subscription_id, body) VALUES (?, ?)')
      .run(subscriptionId, JSON.stringify(event));
    if (this.#woken.size === 0) queueMicrotask(() => this.#wake());
    this.#woken.add(subscriptionId);
  }

  /**
   * Takes up to `max` events off a queue, oldest first; a `matched` batch is taken in part when it holds more
   * than fit, the rest staying queued. A damaged row is dropped, not served. Runs inside the caller's
   * transaction when there is one (what the caller writes for the events taken commits with their removal).
   */
  take(subscriptionId: string, max: number): TakenEvent[] {
    return this.#db.transaction(() => {
      const rows = this.#sql
        .get('SELECT seq, body FROM market_event WHERE subscription_id = ? ORDER BY seq LIMIT ?')
        .all(subscriptionId, max) as { seq: number; body: string }[];
      const taken: TakenEvent[] = [];
      let consumedUpTo: number | undefined;
      for (const row of rows) {
        const event = checkEvent(parseStored(row.body));
        if (event?.kind === 'matched') {
          const room = max - taken.length;
          for (const offerId of event.offerIds.slice(0, room))
            taken.push({ kind: 'matched', offerId, at: event.at });
          if (event.offerIds.length > room) {
            this.#sql
              .get('UPDATE market_event SET body = ? WHERE seq = ?')
              .run(JSON.stringify({ ...event, offerIds: event.offerIds.slice(room) }), row.seq);
            break;
          }
        } else if (event !== undefined) taken.push(event);
        consumedUpTo = row.seq;
        if (taken.length >= max) break;
      }
      if (consumedUpTo !== undefined)
        this.#sql
          .get('DELETE FROM market_event WHERE subscription_id = ? AND seq <= ?')
          .run(subscriptionId, consumedUpTo);
      return taken;
    });
  }

  /** Drops a subscription's queue (it was unsubscribed); its waiters are woken to learn so. */
  clear(subscriptionId: string): void {
    this.#sql.get('DELETE FROM market_event WHERE subscription_id = ?').run(subscriptionId);
    this.#notifier.notify(subscriptionTopic(subscriptionId));
  }

  #wake(): void {
    const woken = [...this.#woken];
    this.#woken.clear();
    for (const subscriptionId of woken) this.#notifier.notify(subscriptionTopic(subscriptionId));
  }
}
