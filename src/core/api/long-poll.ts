/**
 * The long-poll and event-feed pieces every REST module serves the same way (market, activity, payment): a
 * notifier that wakes waiters of a key, the `timeout` (seconds) and `maxEvents` query parameters as yagna parses
 * them, JSON string ids, and a signal that aborts when the client goes away.
 */
import type { FastifyReply } from 'fastify';
import { httpError } from '../errors/index.ts';

export type Query = Record<string, string | undefined>;

export const DEFAULT_POLL_TIMEOUT_S = 5;
export const MAX_POLL_TIMEOUT_S = 3600;

export const LongPollErrorCode = {
  BadTimeout: 'API_BAD_TIMEOUT',
  BadMaxEvents: 'API_BAD_MAX_EVENTS',
} as const;

/** `?timeout=<seconds>` → milliseconds (absent: `fallbackSeconds`; capped at an hour). */
export function pollTimeoutMs(query: Query, fallbackSeconds = DEFAULT_POLL_TIMEOUT_S): number {
  const raw = query.timeout;
  if (raw === undefined || raw === '') return fallbackSeconds * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0)
    throw httpError.badRequest(LongPollErrorCode.BadTimeout, 'timeout is a number of seconds');
  return Math.min(seconds, MAX_POLL_TIMEOUT_S) * 1000;
}

/** `?maxEvents=<n>`, an integer from 1 to `max` (absent: `fallback`). */
export function maxEventsOf(query: Query, fallback: number, max: number): number {
  const raw = query.maxEvents;
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw httpError.badRequest(
      LongPollErrorCode.BadMaxEvents,
      `maxEvents must be an integer from 1 to ${max}`,
    );
  return value;
}

/** Ids are answered as JSON strings (`"R-3f…"`), as yagna does. */
export function sendJsonId(reply: FastifyReply, status: number, id: string): void {
  reply.code(status).type('application/json').send(JSON.stringify(id));
}

/**
 * Aborted when the client goes away before its answer is sent, so a long poll ends with it and frees its waiter.
 * The response's `close` tells: the request's own `close` already comes once its body has been read, which would
 * end every long poll sent with a body (`POST …/wait` with `{}`) at once.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  if (response.destroyed) controller.abort();
  else
    response.once('close', () => {
      if (!response.writableFinished) controller.abort();
    });
  return controller.signal;
}

/** Wakes long-poll waiters of a key (a subscription, a node) when something new arrives. */
export class Notifier {
  #waiters = new Map<string, Set<() => void>>();

  /** How many long polls wait on `key` now. */
  waiting(key: string): number {
    return this.#waiters.get(key)?.size ?? 0;
  }

  notify(key: string): void {
    const waiters = this.#waiters.get(key);
    if (waiters === undefined) return;
    this.#waiters.delete(key);
    for (const wake of waiters) wake();
  }

  /** Resolves when `key` is notified, the time is up, or `signal` aborts; true if notified. */
  wait(key: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      let found = this.#waiters.get(key);
      if (found === undefined) {
        found = new Set();
        this.#waiters.set(key, found);
      }
      const set = found;
      const done = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        set.delete(wake);
        // The last waiter of a key takes the key along: keys of gone clients must not pile up.
        if (set.size === 0 && this.#waiters.get(key) === set) this.#waiters.delete(key);
        resolve(notified);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      set.add(wake);
    });
  }
}
