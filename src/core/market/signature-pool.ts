/**
 * Offer signatures checked off the event loop: a few worker threads (one per core the process may use), each
 * taking batches of offers, so one message hop is paid per batch and not per offer. At most `maxInFlight` batches
 * per worker are queued; a caller beyond that waits for a slot (the queue cannot grow with a flood). Answers come
 * back in the order of the offers given, so the caller admits them in the order they arrived.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SignedOffer } from '../model/market.ts';

export type SignatureInput = Pick<SignedOffer, 'offerId' | 'providerId' | 'publicKey' | 'signature'>;
export interface SignatureJob {
  id: number;
  offers: SignatureInput[];
}

/** Offers per message to a worker. */
export const SIGNATURE_BATCH = 128;

interface Slot {
  worker: Worker;
  inFlight: Map<number, { resolve(valid: Uint8Array): void; reject(error: Error): void }>;
}

export class SignaturePool {
  #slots: Slot[] = [];
  #nextId = 1;
  #maxInFlight: number;
  #waiting: (() => void)[] = [];
  #closed = false;

  constructor(options: { threads?: number; maxInFlight?: number } = {}) {
    const threads = options.threads ?? availableParallelism();
    this.#maxInFlight = options.maxInFlight ?? 4;
    for (let i = 0; i < Math.max(1, threads); i++) this.#slots.push(this.#spawn());
  }

  get threads(): number {
    return this.#slots.length;
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./signature-worker.ts', import.meta.url));
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map() };
    worker.on('message', ({ id, valid }: { id: number; valid: Uint8Array }) => {
      const pending = slot.inFlight.get(id);
      slot.inFlight.delete(id);
      pending?.resolve(valid);
      this.#waiting.shift()?.();
    });
    worker.on('error', (error) => this.#fail(slot, error));
    worker.on('exit', () => this.#fail(slot, new Error('signature worker exited')));
    return slot;
  }

  #fail(slot: Slot, error: Error): void {
    for (const pending of slot.inFlight.values()) pending.reject(error);
    slot.inFlight.clear();
    const at = this.#slots.indexOf(slot);
    // A worker that died is replaced, unless the pool is closing.
    if (at >= 0 && !this.#closed) this.#slots[at] = this.#spawn();
    this.#waiting.shift()?.();
  }

  /** One flag per offer, in the order given: true if its provider signed it. */
  async verify(offers: readonly SignatureInput[]): Promise<boolean[]> {
    const batches: Promise<Uint8Array>[] = [];
    for (let at = 0; at < offers.length; at += SIGNATURE_BATCH)
      batches.push(this.#run(offers.slice(at, at + SIGNATURE_BATCH)));
    const results: boolean[] = [];
    for (const valid of await Promise.all(batches)) for (const flag of valid) results.push(flag === 1);
    return results;
  }

  async #run(offers: SignatureInput[]): Promise<Uint8Array> {
    for (;;) {
      if (this.#closed) throw new Error('signature pool closed');
      const slot = this.#slots.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
      if (slot.inFlight.size < this.#maxInFlight) {
        const id = this.#nextId++;
        const job: SignatureJob = {
          id,
          offers: offers.map(({ offerId, providerId, publicKey, signature }) => ({
            offerId,
            providerId,
            publicKey,
            signature,
          })),
        };
        return new Promise<Uint8Array>((resolve, reject) => {
          slot.inFlight.set(id, { resolve, reject });
          slot.worker.postMessage(job);
        });
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake();
    await Promise.all(this.#slots.map((slot) => slot.worker.terminate()));
  }
}
