/**
 * Offer propagation. Only offers travel: each is signed by its provider and announced at once, whole, over a
 * broadcast topic. A node that meets a peer (and, periodically, a random peer) reconciles offer ids and pulls
 * what it lacks, which repairs anything gossip missed. Unsubscriptions are signed tombstones kept until the
 * offer would have expired, so a late copy cannot bring an offer back. Storage is bounded per provider and overall.
 */
import { createHash } from 'node:crypto';
import type { Bus, Unbind } from '../bus/index.ts';
import { canonicalJson, fromHex, sha256, toHex, verifyByPublicKey } from '../crypto/index.ts';
import type { Database } from '../db/index.ts';
import { GolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { IdentityAddress } from '../model/identity.ts';
import {
  DiscoveryAddress,
  OFFERS_TOPIC,
  type SignedOffer,
  type SignedUnsubscribe,
  UNSUBSCRIBES_TOPIC,
} from '../model/market.ts';
import { NET_EVENTS_TOPIC, NetAddress, type NetEvent, type PeerInfo } from '../model/net.ts';
import { subscriptionId, verifySubscriptionId } from './ids.ts';

export interface DiscoveryOptions {
  /** Offers kept per provider (a flood from one node cannot push out the rest). */
  perProviderLimit: number;
  /** Offers kept in all. */
  totalLimit: number;
  /** Mean interval of anti-entropy rounds with a random peer (0 turns them off). */
  antiEntropyMs: number;
  /** Largest offer accepted (bytes of its JSON). */
  maxOfferBytes: number;
}

export const DEFAULT_DISCOVERY_OPTIONS: DiscoveryOptions = {
  perProviderLimit: 256,
  totalLimit: 100_000,
  antiEntropyMs: 30_000,
  maxOfferBytes: 64 * 1024,
};

const PAGE = 1000;
const MAX_ISO_DATE = '9999-12-31T23:59:59.999Z';
/** No tombstone outlives the longest an offer can live (its subscription TTL is one hour). */
const MAX_TOMBSTONE_TTL_MS = 2 * 60 * 60 * 1000;
const FETCH_BATCH = 200;

export type OfferContent = Pick<
  SignedOffer,
  'providerId' | 'properties' | 'constraints' | 'createdAt' | 'expiresAt'
>;
export type RemovalReason = 'unsubscribed' | 'expired' | 'evicted';

function offerContent(offer: OfferContent): OfferContent {
  return {
    providerId: offer.providerId,
    properties: offer.properties,
    constraints: offer.constraints,
    createdAt: offer.createdAt,
    expiresAt: offer.expiresAt,
  };
}

/** What an offer's signature covers: the offer id, itself a hash of the whole content. */
export const offerSigningMessage = (offerId: string) => canonicalJson({ offer: offerId });
export const unsubscribeSigningMessage = (offerId: string) => canonicalJson({ unsubscribe: offerId });

interface OfferRow {
  offer_id: string;
  provider_id: string;
  body: string;
  expires_at: string;
  own: number;
  unsubscribed: number;
  tombstone: string | null;
}

export class OfferDiscovery {
  #bus: Bus;
  #db: Database;
  #log: Logger;
  #options: DiscoveryOptions;
  #unbinds: Unbind[] = [];
  #offerListeners = new Set<(offer: SignedOffer) => void>();
  #removedListeners = new Set<(offerId: string, reason: RemovalReason) => void>();
  #timers: NodeJS.Timeout[] = [];
  #antiEntropyTimer: NodeJS.Timeout | undefined;
  #reconciling = new Set<string>();
  #ownPublicKeys = new Map<string, string>();
  /** Offers not unsubscribed, per provider: kept in memory because counting rows on every insert is O(n). */
  #aliveByProvider: Map<string, number> | undefined;
  #aliveTotal = 0;
  /** Digest of the offer and tombstone ids this node serves, until any of them changes or expires. */
  #setDigest: { digest: string; validUntil: string } | undefined;
  #reconciliations = { rounds: 0, inSync: 0, pulled: 0 };

  constructor(
    components: { bus: Bus; db: Database; logger: Logger },
    options: Partial<DiscoveryOptions> = {},
  ) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('market:discovery');
    this.#options = { ...DEFAULT_DISCOVERY_OPTIONS, ...options };
  }

  start(): void {
    const bus = this.#bus;
    this.#unbinds.push(
      bus.subscribe<unknown>(OFFERS_TOPIC, (message, context) => {
        if (Array.isArray(message)) this.receiveMany(message, context.from);
        else this.receive(message, context.from);
      }),
      bus.subscribe<unknown>(UNSUBSCRIBES_TOPIC, (message) => {
        this.receiveTombstone(message);
      }),
      bus.subscribe<NetEvent>(NET_EVENTS_TOPIC, (event) => {
        if (event.type === 'peer-connected') void this.reconcileWith(event.nodeId);
      }),
      bus.bind(DiscoveryAddress.Ids, (message) => this.#pageIds(message)),
      bus.bind(DiscoveryAddress.Get, (message) => this.#getMany(message)),
      bus.bind(DiscoveryAddress.Tombstones, (message) => this.#pageTombstones(message)),
    );
    const sweep = setInterval(() => this.sweepExpired(), 10_000);
    sweep.unref();
    this.#timers.push(sweep);
    if (this.#options.antiEntropyMs > 0) this.#scheduleAntiEntropy();
  }

  /** Rounds at random intervals around the mean, so nodes do not synchronise. */
  #scheduleAntiEntropy(): void {
    this.#antiEntropyTimer = setTimeout(
      () => {
        void this.#antiEntropy().finally(() => {
          if (this.#antiEntropyTimer !== undefined) this.#scheduleAntiEntropy();
        });
      },
      this.#options.antiEntropyMs * (0.5 + Math.random()),
    );
    this.#antiEntropyTimer.unref();
  }

  stop(): void {
    clearTimeout(this.#antiEntropyTimer);
    this.#antiEntropyTimer = undefined;
    for (const timer of this.#timers.splice(0)) clearTimeout(timer);
    for (const unbind of this.#unbinds.splice(0)) unbind();
  }

  onOffer(listener: (offer: SignedOffer) => void): () => void {
    this.#offerListeners.add(listener);
    return () => this.#offerListeners.delete(listener);
  }

  onOfferRemoved(listener: (offerId: string, reason: RemovalReason) => void): () => void {
    this.#removedListeners.add(listener);
    return () => this.#removedListeners.delete(listener);
  }

  /** Signs, stores and announces an offer of this node. */
  async publish(content: OfferContent): Promise<SignedOffer> {
    const body = offerContent(content);
    const offerId = subscriptionId(body);
    const offer: SignedOffer = {
      offerId,
      ...body,
      publicKey: await this.#publicKey(content.providerId),
      signature: await this.#sign(content.providerId, offerSigningMessage(offerId)),
    };
    this.#store(offer, true);
    await this.#bus.publish(OFFERS_TOPIC, offer);
    return offer;
  }

  /** Withdraws an own offer with a signed tombstone that travels like offers do. */
  async unsubscribe(offerId: string): Promise<void> {
    const row = this.#row(offerId);
    if (row === undefined || row.own !== 1) {
      throw new GolemError('MARKET_OFFER_NOT_FOUND', `offer ${offerId} is not an offer of this node`, {
        httpStatus: 404,
      });
    }
    if (row.unsubscribed === 1)
      throw new GolemError('MARKET_OFFER_GONE', `offer ${offerId} was already unsubscribed`, {
        httpStatus: 410,
      });
    const tombstone: SignedUnsubscribe = {
      offerId,
      providerId: row.provider_id,
      expiresAt: row.expires_at,
      publicKey: await this.#publicKey(row.provider_id),
      signature: await this.#sign(row.provider_id, unsubscribeSigningMessage(offerId)),
    };
    this.#applyTombstone(tombstone);
    await this.#bus.publish(UNSUBSCRIBES_TOPIC, tombstone);
  }

  get(offerId: string): SignedOffer | undefined {
    const row = this.#row(offerId);
    if (row === undefined || row.unsubscribed === 1 || row.expires_at <= new Date().toISOString())
      return undefined;
    return JSON.parse(row.body) as SignedOffer;
  }

  /** Alive offers (not expired, not unsubscribed). */
  list(): SignedOffer[] {
    return this.#db
      .all<{ body: string }>(
        'SELECT body FROM market_offer WHERE unsubscribed = 0 AND expires_at > ? ORDER BY offer_id',
        new Date().toISOString(),
      )
      .map((row) => JSON.parse(row.body) as SignedOffer);
  }

  count(): number {
    this.#alive();
    return this.#aliveTotal;
  }

  /** Validates and stores an offer from anywhere; true if it was new. */
  receive(input: unknown, from?: string): boolean {
    const claimedId = (input as { offerId?: unknown } | null)?.offerId;
    const existing = typeof claimedId === 'string' ? this.#row(claimedId) : undefined;
    // A copy of an offer already held alive needs no signature check (the costly part).
    if (existing?.unsubscribed === 0) return false;
    const offer = this.#validate(input);
    if (offer === undefined) {
      this.#log.debug('dropped an invalid offer', { from });
      return false;
    }
    if (existing !== undefined) {
      // Only the offer's own provider can withdraw it: a tombstone signed by anyone else never blocks it.
      if (existing.provider_id === offer.providerId) return false;
      this.#db.run('DELETE FROM market_offer WHERE offer_id = ?', offer.offerId);
      this.#setDigest = undefined;
    }
    return this.#store(offer, false);
  }

  /** Validates and stores many offers in one transaction (a reconciliation batch, a gossiped array); how many were new. */
  receiveMany(inputs: readonly unknown[], from?: string): number {
    let stored = 0;
    this.#countingTransaction(() => {
      for (const input of inputs) if (this.receive(input, from)) stored++;
    });
    return stored;
  }

  receiveTombstone(input: unknown): boolean {
    const tombstone = input as SignedUnsubscribe;
    if (
      tombstone === null ||
      typeof tombstone !== 'object' ||
      typeof tombstone.offerId !== 'string' ||
      typeof tombstone.providerId !== 'string' ||
      typeof tombstone.signature !== 'string' ||
      typeof tombstone.publicKey !== 'string' ||
      typeof tombstone.expiresAt !== 'string'
    ) {
      return false;
    }
    if (
      !verifyByPublicKey(
        tombstone.providerId,
        safeHex(tombstone.publicKey),
        unsubscribeSigningMessage(tombstone.offerId),
        safeHex(tombstone.signature),
      )
    ) {
      this.#log.debug('dropped an unsubscribe not signed by the provider', { offerId: tombstone.offerId });
      return false;
    }
    const row = this.#row(tombstone.offerId);
    if (row !== undefined && (row.provider_id !== tombstone.providerId || row.unsubscribed === 1))
      return false;
    if (row === undefined) {
      // A tombstone for an offer not seen yet is bounded like offers: per provider, and no longer than an offer lives.
      const held =
        this.#db.get<{ n: number }>(
          'SELECT COUNT(*) AS n FROM market_offer WHERE provider_id = ? AND unsubscribed = 1',
          tombstone.providerId,
        )?.n ?? 0;
      if (held >= this.#options.perProviderLimit) return false;
    }
    const latest = new Date(Date.now() + MAX_TOMBSTONE_TTL_MS).toISOString();
    this.#applyTombstone({
      ...tombstone,
      // biome-ignore lint/complexity/useMathMinMax: ISO timestamps, compared as strings (Math.min would give NaN)
      expiresAt: tombstone.expiresAt < latest ? tombstone.expiresAt : latest,
    });
    return true;
  }

  /** Pulls every offer and tombstone a peer has that this node lacks. */
  async reconcileWith(nodeId: string): Promise<number> {
    if (this.#reconciling.has(nodeId) || this.#bus.isLocalNode(nodeId)) return 0;
    this.#reconciling.add(nodeId);
    this.#reconciliations.rounds++;
    let pulled = 0;
    try {
      let after: string | undefined;
      const maxPages = Math.ceil(this.#options.totalLimit / PAGE) + 1;
      for (let pages = 0; pages < maxPages; pages++) {
        const page = await this.#bus.call<{ ids: string[]; next?: string; same?: boolean }>(
          `/net/${nodeId}/market/discovery/Ids`,
          // The first page carries a digest of everything this node holds: a peer holding the same answers in one line.
          { after, limit: PAGE, digest: after === undefined ? this.setDigest() : undefined },
          { timeoutMs: 10_000 },
        );
        if (page === null || typeof page !== 'object' || !Array.isArray(page.ids)) break;
        if (page.same === true) {
          this.#reconciliations.inSync++;
          return 0;
        }
        const missing = page.ids.filter((id) => typeof id === 'string' && this.#row(id) === undefined);
        for (let i = 0; i < missing.length; i += FETCH_BATCH) {
          const offers = await this.#bus.call<unknown[]>(
            `/net/${nodeId}/market/discovery/Get`,
            { ids: missing.slice(i, i + FETCH_BATCH) },
            { timeoutMs: 10_000 },
          );
          if (Array.isArray(offers)) pulled += this.receiveMany(offers, nodeId);
        }
        // A cursor that does not move forward would loop forever: stop there.
        if (typeof page.next !== 'string' || (after !== undefined && page.next <= after)) break;
        after = page.next;
      }
      let tombstoneCursor = '';
      for (let pages = 0; pages < maxPages; pages++) {
        const tombstones = await this.#bus.call<unknown[]>(
          `/net/${nodeId}/market/discovery/Tombstones`,
          { after: tombstoneCursor, limit: PAGE },
          { timeoutMs: 10_000 },
        );
        if (!Array.isArray(tombstones) || tombstones.length === 0) break;
        for (const tombstone of tombstones) this.receiveTombstone(tombstone);
        const last = (tombstones[tombstones.length - 1] as { offerId?: unknown } | null)?.offerId;
        if (tombstones.length < PAGE || typeof last !== 'string' || last <= tombstoneCursor) break;
        tombstoneCursor = last;
      }
    } catch (error) {
      this.#log.debug('reconciliation failed', { nodeId, error });
    } finally {
      this.#reconciling.delete(nodeId);
    }
    this.#reconciliations.pulled += pulled;
    if (pulled > 0) this.#log.debug('reconciled offers', { nodeId, pulled });
    return pulled;
  }

  /** Forgets expired offers and tombstones. */
  sweepExpired(): void {
    const now = new Date().toISOString();
    const expired = this.#db.all<{ offer_id: string; provider_id: string; unsubscribed: number }>(
      'SELECT offer_id, provider_id, unsubscribed FROM market_offer WHERE expires_at <= ?',
      now,
    );
    if (expired.length === 0) return;
    this.#db.run('DELETE FROM market_offer WHERE expires_at <= ?', now);
    this.#setDigest = undefined;
    for (const row of expired) if (row.unsubscribed === 0) this.#countAlive(row.provider_id, -1);
    for (const row of expired) if (row.unsubscribed === 0) this.#emitRemoved(row.offer_id, 'expired');
  }

  /**
   * sha256 over the sorted ids of the offers and tombstones this node serves to reconciling peers. Cached until
   * the set changes or its first offer expires, so a round between nodes in sync costs one short call.
   */
  setDigest(): string {
    const now = new Date().toISOString();
    if (this.#setDigest !== undefined && this.#setDigest.validUntil > now) return this.#setDigest.digest;
    const hash = createHash('sha256');
    let validUntil = MAX_ISO_DATE;
    for (const row of this.#db.all<{ offer_id: string; unsubscribed: number; expires_at: string }>(
      `SELECT offer_id, unsubscribed, expires_at FROM market_offer
       WHERE (unsubscribed = 0 AND expires_at > ?) OR (unsubscribed = 1 AND tombstone IS NOT NULL) ORDER BY offer_id`,
      now,
    )) {
      hash.update(`${row.unsubscribed === 1 ? 't' : 'o'}:${row.offer_id}\n`);
      if (row.unsubscribed === 0 && row.expires_at < validUntil) validUntil = row.expires_at;
    }
    this.#setDigest = { digest: hash.digest('hex'), validUntil };
    return this.#setDigest.digest;
  }

  /** Reconciliation rounds this node started, how many found the peer in sync, and offers pulled in all. */
  reconciliationStats(): { rounds: number; inSync: number; pulled: number } {
    return { ...this.#reconciliations };
  }

  // ---- internals ----

  /** Signs sha256(message), the scheme `verifyByPublicKey` checks. */
  async #sign(nodeId: string, message: string): Promise<string> {
    return this.#bus.call<string>(IdentityAddress.Sign, { nodeId, digest: toHex(sha256(message)) });
  }

  async #publicKey(nodeId: string): Promise<string> {
    let key = this.#ownPublicKeys.get(nodeId);
    if (key === undefined) {
      key = await this.#bus.call<string>(IdentityAddress.GetPubKey, { nodeId });
      this.#ownPublicKeys.set(nodeId, key);
    }
    return key;
  }

  #validate(input: unknown): SignedOffer | undefined {
    if (input === null || typeof input !== 'object') return undefined;
    const offer = input as SignedOffer;
    if (
      typeof offer.offerId !== 'string' ||
      typeof offer.providerId !== 'string' ||
      typeof offer.constraints !== 'string' ||
      typeof offer.createdAt !== 'string' ||
      typeof offer.expiresAt !== 'string' ||
      typeof offer.signature !== 'string' ||
      typeof offer.publicKey !== 'string' ||
      offer.properties === null ||
      typeof offer.properties !== 'object' ||
      Array.isArray(offer.properties)
    ) {
      return undefined;
    }
    if (JSON.stringify(offer).length > this.#options.maxOfferBytes) return undefined;
    if (!(offer.expiresAt > new Date().toISOString())) return undefined;
    const clean: SignedOffer = {
      offerId: offer.offerId,
      ...offerContent(offer),
      publicKey: offer.publicKey,
      signature: offer.signature,
    };
    if (!verifySubscriptionId(clean.offerId, offerContent(clean))) return undefined;
    if (
      !verifyByPublicKey(
        clean.providerId,
        safeHex(clean.publicKey),
        offerSigningMessage(clean.offerId),
        safeHex(clean.signature),
      )
    )
      return undefined;
    return clean;
  }

  #store(offer: SignedOffer, own: boolean): boolean {
    const alive = this.#alive();
    const stored = this.#countingTransaction(() => {
      if ((alive.get(offer.providerId) ?? 0) >= this.#options.perProviderLimit) {
        if (!own) return false;
        this.#evictOldest('provider_id = ?', offer.providerId);
      }
      if (this.#aliveTotal >= this.#options.totalLimit) {
        // Evict from the provider holding the most offers, soonest to expire first, so no single node crowds out others.
        const heaviest = this.#db.get<{ provider_id: string }>(
          'SELECT provider_id FROM market_offer WHERE unsubscribed = 0 AND own = 0 GROUP BY provider_id ORDER BY COUNT(*) DESC LIMIT 1',
        );
        if (heaviest === undefined) return false;
        this.#evictOldest('provider_id = ? AND own = 0', heaviest.provider_id);
      }
      this.#db.run(
        'INSERT INTO market_offer (offer_id, provider_id, body, expires_at, received_at, own) VALUES (?, ?, ?, ?, ?, ?)',
        offer.offerId,
        offer.providerId,
        JSON.stringify(offer),
        offer.expiresAt,
        new Date().toISOString(),
        own ? 1 : 0,
      );
      this.#countAlive(offer.providerId, +1);
      this.#setDigest = undefined;
      return true;
    });
    if (stored) for (const listener of this.#offerListeners) listener(offer);
    return stored;
  }

  #evictOldest(where: string, value: string): void {
    const victim = this.#db.get<{ offer_id: string; provider_id: string }>(
      `SELECT offer_id, provider_id FROM market_offer WHERE ${where} AND unsubscribed = 0 ORDER BY expires_at LIMIT 1`,
      value,
    );
    if (victim === undefined) return;
    this.#db.run('DELETE FROM market_offer WHERE offer_id = ?', victim.offer_id);
    this.#countAlive(victim.provider_id, -1);
    this.#setDigest = undefined;
    this.#emitRemoved(victim.offer_id, 'evicted');
  }

  #applyTombstone(tombstone: SignedUnsubscribe): void {
    const existed = this.#row(tombstone.offerId);
    this.#db.run(
      `INSERT INTO market_offer (offer_id, provider_id, body, expires_at, received_at, own, unsubscribed, tombstone)
       VALUES (?, ?, '{}', ?, ?, 0, 1, ?)
       ON CONFLICT(offer_id) DO UPDATE SET unsubscribed = 1, tombstone = excluded.tombstone`,
      tombstone.offerId,
      tombstone.providerId,
      tombstone.expiresAt,
      new Date().toISOString(),
      JSON.stringify(tombstone),
    );
    this.#setDigest = undefined;
    if (existed !== undefined && existed.unsubscribed === 0) {
      this.#countAlive(existed.provider_id, -1);
      this.#emitRemoved(tombstone.offerId, 'unsubscribed');
    }
  }

  #alive(): Map<string, number> {
    if (this.#aliveByProvider === undefined) {
      this.#aliveByProvider = new Map();
      this.#aliveTotal = 0;
      for (const row of this.#db.all<{ provider_id: string; n: number }>(
        'SELECT provider_id, COUNT(*) AS n FROM market_offer WHERE unsubscribed = 0 GROUP BY provider_id',
      )) {
        this.#aliveByProvider.set(row.provider_id, row.n);
        this.#aliveTotal += row.n;
      }
    }
    return this.#aliveByProvider;
  }

  /** A transaction that rolled back leaves the counts wrong: they are reloaded from the table then. */
  #countingTransaction<T>(work: () => T): T {
    try {
      return this.#db.transaction(work);
    } catch (error) {
      this.#aliveByProvider = undefined;
      throw error;
    }
  }

  #countAlive(providerId: string, delta: number): void {
    const alive = this.#alive();
    const n = (alive.get(providerId) ?? 0) + delta;
    if (n > 0) alive.set(providerId, n);
    else alive.delete(providerId);
    this.#aliveTotal += delta;
  }

  #emitRemoved(offerId: string, reason: RemovalReason): void {
    for (const listener of this.#removedListeners) listener(offerId, reason);
  }

  #row(offerId: string): OfferRow | undefined {
    return this.#db.get<OfferRow>('SELECT * FROM market_offer WHERE offer_id = ?', offerId);
  }

  #pageIds(message: unknown): { ids: string[]; next?: string; same?: true } {
    const { after, limit } = pageArgs(message);
    const digest = (message as { digest?: unknown } | null)?.digest;
    if (after === '' && typeof digest === 'string' && digest === this.setDigest())
      return { ids: [], same: true };
    const ids = this.#db
      .all<{ offer_id: string }>(
        'SELECT offer_id FROM market_offer WHERE unsubscribed = 0 AND expires_at > ? AND offer_id > ? ORDER BY offer_id LIMIT ?',
        new Date().toISOString(),
        after,
        limit,
      )
      .map((row) => row.offer_id);
    return ids.length === limit ? { ids, next: ids[ids.length - 1]! } : { ids };
  }

  #getMany(message: unknown): SignedOffer[] {
    const ids = (message as { ids?: unknown } | null)?.ids;
    if (!Array.isArray(ids)) throw new GolemError('MARKET_BAD_REQUEST', 'Get takes {ids: string[]}');
    return ids
      .slice(0, FETCH_BATCH)
      .filter((id): id is string => typeof id === 'string')
      .map((id) => this.get(id))
      .filter((offer): offer is SignedOffer => offer !== undefined);
  }

  #pageTombstones(message: unknown): SignedUnsubscribe[] {
    const { after, limit } = pageArgs(message);
    return this.#db
      .all<{ tombstone: string }>(
        'SELECT tombstone FROM market_offer WHERE unsubscribed = 1 AND tombstone IS NOT NULL AND offer_id > ? ORDER BY offer_id LIMIT ?',
        after,
        limit,
      )
      .map((row) => JSON.parse(row.tombstone) as SignedUnsubscribe);
  }

  async #antiEntropy(): Promise<void> {
    try {
      const peers = await this.#bus.call<PeerInfo[]>(NetAddress.Peers, {}, { timeoutMs: 5_000 });
      const peer = peers[Math.floor(Math.random() * peers.length)];
      if (peer !== undefined) await this.reconcileWith(peer.nodeId);
    } catch {
      // no network: nothing to repair
    }
  }
}

function pageArgs(message: unknown): { after: string; limit: number } {
  const request = (message ?? {}) as { after?: unknown; limit?: unknown };
  const limit = Math.min(PAGE, Math.max(1, Number(request.limit ?? PAGE) | 0));
  return { after: typeof request.after === 'string' ? request.after : '', limit };
}

function safeHex(hex: string): Uint8Array {
  try {
    return fromHex(hex);
  } catch {
    return new Uint8Array(0);
  }
}
