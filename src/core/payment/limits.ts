/**
 * Per-peer bounds on what the network can send the payment module: message size, message rate (a token bucket
 * per caller) and how many documents one agreement may carry. A peer over its bounds gets a coded error; the
 * node's own state is untouched.
 */
import { canonicalJson } from '../crypto/index.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';

export interface PeerLimits {
  /** Largest message (canonical JSON bytes). */
  maxMessageBytes: number;
  /** Sustained messages per second per peer. */
  ratePerSecond: number;
  /** Burst above the rate. */
  burst: number;
  maxDebitNotesPerAgreement: number;
  maxInvoicesPerAgreement: number;
  /** Peers tracked at once (the oldest bucket is dropped beyond it). */
  maxPeers: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = {
  maxMessageBytes: 64 * 1024,
  ratePerSecond: 20,
  burst: 200,
  maxDebitNotesPerAgreement: 10_000,
  maxInvoicesPerAgreement: 4,
  maxPeers: 10_000,
};

interface Bucket {
  tokens: number;
  at: number;
}

export class PeerLimiter {
  readonly limits: PeerLimits;
  #buckets = new Map<string, Bucket>();

  constructor(limits: Partial<PeerLimits> = {}) {
    this.limits = { ...DEFAULT_PEER_LIMITS, ...limits };
  }

  /** Charges one message of `peer`; throws when it is too large or the peer sends too fast. */
  admit(peer: string, message: unknown): void {
    const bytes = Buffer.byteLength(canonicalJson(message ?? null));
    if (bytes > this.limits.maxMessageBytes)
      throw paymentError(PaymentErrorCode.LimitExceeded, 'payment message too large', 413, {
        bytes,
        max: this.limits.maxMessageBytes,
      });
    const now = Date.now();
    let bucket = this.#buckets.get(peer);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.limits.maxPeers) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      bucket = { tokens: this.limits.burst, at: now };
      this.#buckets.set(peer, bucket);
    }
    bucket.tokens = Math.min(
      this.limits.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.limits.ratePerSecond,
    );
    bucket.at = now;
    if (bucket.tokens < 1)
      throw paymentError(PaymentErrorCode.LimitExceeded, 'too many payment messages from this node', 429, {
        peer,
        ratePerSecond: this.limits.ratePerSecond,
      });
    bucket.tokens -= 1;
  }

  checkCount(what: 'debitNotes' | 'invoices', count: number, agreementId: string): void {
    const max =
      what === 'debitNotes' ? this.limits.maxDebitNotesPerAgreement : this.limits.maxInvoicesPerAgreement;
    if (count >= max)
      throw paymentError(PaymentErrorCode.LimitExceeded, `too many ${what} for one agreement`, 409, {
        agreementId,
        max,
      });
  }
}
