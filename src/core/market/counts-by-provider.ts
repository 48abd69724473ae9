/**
 * Rows held per provider (discovery's tombstones), kept in memory so that a full store finds the provider holding
 * the most without scanning the table. Providers sit in buckets by count, and counts move by small steps, so the
 * heaviest is found from the largest count down, not by walking every provider (a swarm may be 100,000 of them).
 */
export class CountsByProvider {
  #counts = new Map<string, number>();
  /** Providers by count; within a bucket, in the order they reached that count. */
  #buckets = new Map<number, Set<string>>();
  #max = 0;
  #total = 0;

  get total(): number {
    return this.#total;
  }

  count(providerId: string): number {
    return this.#counts.get(providerId) ?? 0;
  }

  add(providerId: string, delta: number): void {
    const before = this.count(providerId);
    const after = Math.max(0, before + delta);
    if (after === before) return;
    if (before > 0) this.#buckets.get(before)?.delete(providerId);
    if (after > 0) {
      let bucket = this.#buckets.get(after);
      if (bucket === undefined) {
        bucket = new Set();
        this.#buckets.set(after, bucket);
      }
      bucket.add(providerId);
      this.#counts.set(providerId, after);
    } else this.#counts.delete(providerId);
    this.#total += after - before;
    if (after > this.#max) this.#max = after;
    while (this.#max > 0 && (this.#buckets.get(this.#max)?.size ?? 0) === 0) this.#max--;
  }

  /**
   * The provider holding the most, among equals the one that has held that many longest (so a provider that just
   * joined the top is the last to lose); providers `skip` names are passed over.
   */
  heaviest(skip: (providerId: string) => boolean): string | undefined {
    for (let count = this.#max; count > 0; count--) {
      for (const providerId of this.#buckets.get(count) ?? []) if (!skip(providerId)) return providerId;
    }
    return undefined;
  }
}
