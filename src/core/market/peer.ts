/** How the market speaks to the other side's market and to the identity that signs for it. */

import type { Bus } from '../bus/index.ts';
import { digestOf, fromHex, toHex } from '../crypto/index.ts';
import { GolemError, isGolemError } from '../errors/index.ts';
import { IdentityAddress } from '../model/identity.ts';
import { marketAddressAt } from '../model/market.ts';
import type { Reason } from './agreements.ts';
import { MarketErrorCode } from './errors.ts';

export const PEER_CALL_TIMEOUT_MS = 30_000;

export async function sign(bus: Bus, nodeId: string, digest: Uint8Array): Promise<string> {
  return bus.call<string>(IdentityAddress.Sign, { nodeId, digest: toHex(digest) });
}

/** Calls `/public/market/…` on `nodeId`; a refusal (4xx) comes back as is, anything else as PEER_UNREACHABLE. */
export async function callPeer<T>(bus: Bus, nodeId: string, address: string, message: unknown): Promise<T> {
  try {
    return await bus.call<T>(marketAddressAt(nodeId, address), message, { timeoutMs: PEER_CALL_TIMEOUT_MS });
  } catch (error) {
    if (isGolemError(error) && error.httpStatus !== undefined && error.httpStatus < 500) throw error;
    throw new GolemError(
      MarketErrorCode.PeerUnreachable,
      `the other side (${nodeId}) did not answer: ${(error as Error).message}`,
      { cause: error, httpStatus: 500 },
    );
  }
}

/** What the requestor signs to commit to the provider's approval. */
export function commitDigest(agreementId: string, approvedSignature: string): Uint8Array {
  return digestOf({ commit: agreementId, approvedSignature });
}

export function terminationDigest(agreementId: string, reason: Reason, terminatedAt: string): Uint8Array {
  return digestOf({ terminate: agreementId, reason, terminatedAt });
}

/** Hex from the wire; anything else becomes empty bytes, which no signature check accepts. */
export function safeHex(hex: unknown): Uint8Array {
  try {
    return typeof hex === 'string' ? fromHex(hex) : new Uint8Array(0);
  } catch {
    return new Uint8Array(0);
  }
}
