/**
 * Matching on the requestor's node, in memory: every alive offer is kept parsed with its constraints compiled,
 * in step with discovery (added as accepted, dropped when unsubscribed, expired or evicted), and every live
 * demand keeps its compiled matcher. A new demand is matched against the offers held here, never re-read from
 * SQLite; offers arriving are gathered and matched in batches, each batch's proposals written in one go.
 */

import { OfferConstraintCache, type PreparedOffer, prepareOffer } from '../../language/index.ts';
import type { Logger } from '../log/index.ts';
import type { SignedOffer } from '../model/market.ts';
import { createMatcher, type Matcher } from './matching.ts';

export interface Match {
  demandId: string;
  offer: SignedOffer;
}

export interface LiveDemand {
  demandId: string;
  requestorId: string;
  properties: Record<string, unknown>;
  constraints: string;
  expiresAt: string;
}

interface KnownOffer {
  offer: SignedOffer;
  prepared: PreparedOffer;
  expiresAtMs: number;
}

interface Matching {
  demand: LiveDemand;
  expiresAtMs: number;
  matcher: Matcher;
}

export interface LiveMatchingComponents {
  /** Offers of this node's own identities never match its demands. */
  isOwnNode: (nodeId: string) => boolean;
  clock: () => number;
  /** Writes a batch of matches (one transaction); called for new demands and for batches of new offers. */
  record: (matches: Match[]) => void;
  logger: Logger;
}

export class LiveMatching {
  #offers = new Map<string, KnownOffer>();
  #demands = new Map<string, Matching>();
  #arrived: KnownOffer[] = [];
  #flushing: Promise<void> | undefined;
  #components: LiveMatchingComponents;
  /** Offers of one constraint shape share generated code (the language keeps no cache of its own). */
  #offerConstraints = new OfferConstraintCache();

  constructor(components: LiveMatchingComponents) {
    this.#components = components;
  }

  /** An alive offer held in memory. */
  offer(offerId: string): SignedOffer | undefined {
    const known = this.#offers.get(offerId);
    return known !== undefined && known.expiresAtMs > this.#components.clock() ? known.offer : undefined;
  }

  /** An offer held from before (at start): kept for the demands to come, not matched against the live ones. */
  offerKnown(offer: SignedOffer): void {
    this.#know(offer);
  }

  /** An offer discovery accepted: held, and matched with the next batch. */
  offerArrived(offer: SignedOffer): void {
    const known = this.#know(offer);
    if (known === undefined) return;
    this.#arrived.push(known);
    this.#flushing ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.#flushing = undefined;
        try {
          this.#flush();
        } finally {
          resolve();
        }
      }),
    );
  }

  offerRemoved(offerId: string): void {
    this.#offers.delete(offerId);
  }

  /** A demand to keep matching; returns its matches among the offers held now. */
  demandAdded(demand: LiveDemand): Match[] {
    const matching = { demand, expiresAtMs: Date.parse(demand.expiresAt), matcher: createMatcher(demand) };
    this.#demands.set(demand.demandId, matching);
    const now = this.#components.clock();
    const matches: Match[] = [];
    for (const known of this.#offers.values())
      if (this.#matches(matching, known, now))
        matches.push({ demandId: demand.demandId, offer: known.offer });
    return matches;
  }

  demandRemoved(demandId: string): void {
    this.#demands.delete(demandId);
  }

  /** Resolves once the offers arrived so far are matched and their proposals written. */
  async settled(): Promise<void> {
    await this.#flushing;
  }

  #know(offer: SignedOffer): KnownOffer | undefined {
    let prepared: PreparedOffer;
    try {
      prepared = prepareOffer(
        { properties: offer.properties as never, constraints: offer.constraints },
        this.#offerConstraints,
      );
    } catch (error) {
      // Discovery checked the signature, not the language: such an offer can match nothing.
      this.#components.logger.debug('an offer with constraints that do not compile', {
        offerId: offer.offerId,
        error,
      });
      return undefined;
    }
    const known = { offer, prepared, expiresAtMs: Date.parse(offer.expiresAt) };
    this.#offers.set(offer.offerId, known);
    return known;
  }

  #matches(matching: Matching, known: KnownOffer, now: number): boolean {
    return (
      known.expiresAtMs > now &&
      !this.#components.isOwnNode(known.offer.providerId) &&
      matching.matcher(known.prepared) === 'yes'
    );
  }

  #flush(): void {
    const arrived = this.#arrived.splice(0);
    const now = this.#components.clock();
    const matches: Match[] = [];
    for (const [demandId, matching] of this.#demands) {
      if (matching.expiresAtMs <= now) {
        this.#demands.delete(demandId);
        continue;
      }
      // Removed since it arrived: it is matched no more.
      for (const known of arrived)
        if (this.#offers.get(known.offer.offerId) === known && this.#matches(matching, known, now))
          matches.push({ demandId, offer: known.offer });
    }
    if (matches.length > 0) this.#components.record(matches);
  }
}
