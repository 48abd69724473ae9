/**
 * The requestor's own memory of providers: per provider node, runs that succeeded or failed, the time they took
 * and payment disputes (invoices rejected, documents above the offer). Kept in one JSON file, written whole
 * through a temp file so a crash never leaves half of it. The score is in (0, 1]: a provider never seen scores
 * like one with one success in two (0.5), so newcomers get work but proven ones come first.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface ProviderRecord {
  successes: number;
  failures: number;
  disputes: number;
  /** Mean wall time of successful runs, seconds. */
  meanSeconds: number;
}

export class Reputation {
  readonly file: string;
  readonly #records: Record<string, ProviderRecord>;

  constructor(file: string) {
    this.file = file;
    let records: Record<string, ProviderRecord> = {};
    if (existsSync(file)) {
      try {
        records = JSON.parse(readFileSync(file, 'utf8')) as Record<string, ProviderRecord>;
      } catch {
        records = {}; // an unreadable file is a fresh start, not a failure of the run
      }
    }
    this.#records = records;
  }

  get(providerId: string): ProviderRecord {
    return this.#records[providerId] ?? { successes: 0, failures: 0, disputes: 0, meanSeconds: 0 };
  }

  /** Laplace-smoothed success rate, halved per dispute. */
  score(providerId: string): number {
    const r = this.get(providerId);
    return ((r.successes + 1) / (r.successes + r.failures + 2)) * 0.5 ** r.disputes;
  }

  record(providerId: string, outcome: { ok: boolean; seconds?: number; dispute?: boolean }): void {
    const r = { ...this.get(providerId) };
    if (outcome.ok) {
      r.meanSeconds = (r.meanSeconds * r.successes + (outcome.seconds ?? 0)) / (r.successes + 1);
      r.successes += 1;
    } else r.failures += 1;
    if (outcome.dispute) r.disputes += 1;
    this.#records[providerId] = r;
  }

  save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.tmp`;
    writeFileSync(temp, `${JSON.stringify(this.#records, null, 2)}\n`);
    renameSync(temp, this.file);
  }
}

/**
 * Price of an offer for ranking: start price plus one minute of duration and CPU, from the linear coefficients
 * in the order of the usage vector (start price last).
 */
export function offerPrice(properties: Record<string, unknown>): number {
  const coeffs = properties['golem.com.pricing.model.linear.coeffs'];
  const usage = properties['golem.com.usage.vector'];
  if (!Array.isArray(coeffs) || !Array.isArray(usage)) return Number.POSITIVE_INFINITY;
  const start = Number(coeffs.at(-1) ?? 0);
  let perMinute = 0;
  usage.forEach((counter, i) => {
    if (counter === 'golem.usage.duration_sec' || counter === 'golem.usage.cpu_sec')
      perMinute += 60 * Number(coeffs[i] ?? 0);
  });
  return start + perMinute;
}

/**
 * Ranks offers: providers that never overcharged first (a payment dispute is a breach of trust no price makes
 * up for; they are tried only when no other is left), then cheapest first, each price divided by the provider's
 * score (a weak provider looks dearer).
 */
export function rankOffers<T extends { providerId: string; properties: Record<string, unknown> }>(
  offers: T[],
  reputation: Reputation,
): T[] {
  const disputed = (o: T) => (reputation.get(o.providerId).disputes > 0 ? 1 : 0);
  const cost = (o: T) => (offerPrice(o.properties) + 1e-9) / reputation.score(o.providerId);
  return [...offers].sort((a, b) => disputed(a) - disputed(b) || cost(a) - cost(b));
}
