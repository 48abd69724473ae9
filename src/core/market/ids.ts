import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../crypto/index.ts';

/** `<32 hex nonce>-<64 hex sha3-256 of the canonical content>`, the format of yagna's subscription ids. */
export function subscriptionId(content: unknown, nonce = randomBytes(16).toString('hex')): string {
  return `${nonce}-${contentHash(nonce, content)}`;
}

export function contentHash(nonce: string, content: unknown): string {
  return createHash('sha3-256')
    .update(`${nonce}${canonicalJson(content)}`)
    .digest('hex');
}

/** Whether `id` is the subscription id of `content` (the hash part is recomputed). */
export function verifySubscriptionId(id: string, content: unknown): boolean {
  const match = /^([0-9a-f]{32})-([0-9a-f]{64})$/.exec(id);
  return match !== null && contentHash(match[1]!, content) === match[2];
}

export const SUBSCRIPTION_ID = /^[0-9a-f]{32}-[0-9a-f]{64}$/;

/** A fresh 64-hex id for proposals and agreements. */
export function randomId(): string {
  return randomBytes(32).toString('hex');
}
