import { randomBytes } from 'node:crypto';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { canonicalJson } from '../crypto/index.ts';

/** `<32 hex nonce>-<64 hex sha3-256 of the canonical content>`, the format of yagna's subscription ids. */
export function subscriptionId(content: unknown, nonce = randomBytes(16).toString('hex')): string {
  return `${nonce}-${contentHash(nonce, content)}`;
}

export function contentHash(nonce: string, content: unknown): string {
  return bytesToHex(sha3_256(new TextEncoder().encode(`${nonce}${canonicalJson(content)}`)));
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
