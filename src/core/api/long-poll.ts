/**
 * The long-poll and event-feed pieces every REST module serves the same way (market, activity, payment): a
 * notifier that wakes waiters of a key, the `timeout` (seconds) and `maxEvents` query parameters as yagna parses
 * them, JSON string ids, and a signal that aborts when the client goes away.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
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

/** Aborted when the client goes away, so long polls end with it. */
export function clientGone(request: FastifyRequest): AbortSignal {
  const controller = new AbortController();
  request.raw.once('close', () => controller.abort());
  return controller.signal;
}

/** Wakes long-poll waiters of a key (a subscription, a node) when something new arrives. */
export class Notifier {
  #waiters = new Map<string, Set<() => void>>();

  notify(key: string): void {
    const waiters = this.#waiters.get(key);
    if (waiters === undefined) return;
    this.#waiters.delete(key);
    for (const wake of waiters) wake();
  }

  /** Resolves when `key` is notified, the time is up, or `signal` aborts; true if notified. */
  wait(key: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (timeoutMs <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      let set = this.#waiters.get(key);
      if (set === undefined) {
        set = new Set();
        this.#waiters.set(key, set);
      }
      const done = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.get(key)?.delete(wake);
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
