/**
 * Offer propagation. Only offers travel: each is signed by its provider and announced at once, whole, over a
 * broadcast topic. A node that meets a peer (and, periodically, a random peer) reconciles offer ids and pulls
 * what it lacks, which repairs anything gossip missed. Unsubscriptions are signed tombstones kept until the
 * offer would have expired, so a late copy cannot bring an offer back. Storage is bounded per provider and overall.
 */
import { createHash } from 'node:crypto';
import type { StatementSync } from 'node:sqlite';
import type { BroadcastVerdict, Bus, Unbind } from '../bus/index.ts';
import { sha256, toHex } from '../crypto/index.ts';
import type { Database, SqlValue } from '../db/index.ts';
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
import { CountsByProvider } from './counts-by-provider.ts';
import { MarketErrorCode } from './errors.ts';
import { SUBSCRIPTION_ID, subscriptionId } from './ids.ts';
import {
  checkOfferForm,
  checkTombstoneForm,
  type OfferContent,
  offerContent,
  offerSignatureValid,
  offerSigningMessage,
  tombstoneSignatureValid,
  unsubscribeSigningMessage,
} from './offer-check.ts';
import { SignaturePool } from './signature-pool.ts';

export interface DiscoveryOptions {
  /** Offers kept per provider (a flood from one node cannot push out the rest). */
  perProviderLimit: number;
  /** Offers kept in all. */
  totalLimit: number;
  /** Mean interval of anti-entropy rounds with a random peer (0 turns them off). */
  antiEntropyMs: number;
  /** Largest offer accepted (bytes of its JSON). */
  maxOfferBytes: number;
  /** Bytes of offers (their JSON) kept per provider, and in all. */
  perProviderBytesLimit: number;
  totalBytesLimit: number;
  /** Latest expiry accepted, from now: an offer cannot claim the store for longer (a subscription lives an hour). */
  maxOfferTtlMs: number;
  /**
   * Tombstones kept in all (per provider they are bounded by `perProviderLimit`). When full, a new one takes the
   * place of the soonest-expiring tombstone of the provider holding the most, unless its own provider holds as many.
   */
  tombstoneLimit: number;
  /** Worker threads checking signatures of offers taken in batches (0: one per core the process may use). */
  verifyThreads: number;
}

export const DEFAULT_DISCOVERY_OPTIONS: DiscoveryOptions = {
  perProviderLimit: 256,
  totalLimit: 100_000,
  antiEntropyMs: 30_000,
  maxOfferBytes: 64 * 1024,
  perProviderBytesLimit: 4 * 1024 * 1024,
  totalBytesLimit: 256 * 1024 * 1024,
  maxOfferTtlMs: 2 * 60 * 60 * 1000,
  tombstoneLimit: 100_000,
  verifyThreads: 0,
};

/** Most bytes one page of a public reply carries (offers, tombstones), well under a bus frame. */
const MAX_PAGE_BYTES = 4 * 1024 * 1024;

const PAGE = 1000;
const MAX_ISO_DATE = '9999-12-31T23:59:59.999Z';
const FETCH_BATCH = 200;
/**
 * Offers accepted from gossip are written in batches: one transaction, so one fsync, per batch instead of per
 * offer (a commit costs ~9 ms on this machine's disk, which under a flood stalled the event loop for seconds).
 */
const GOSSIP_BATCH_MS = 20;
/** Fewer offers than this are checked on the event loop: a hop to a worker would cost more than it saves. */
const POOL_MIN_BATCH = 32;
const GOSSIP_BATCH_MAX = 500;

export type { OfferContent };
export { offerSigningMessage, unsubscribeSigningMessage };
export type RemovalReason = 'unsubscribed' | 'expired' | 'evicted';

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
  /**
   * Offers not unsubscribed, per provider (count and bytes of their JSON), and tombstones per provider: kept in
   * memory because counting rows on every insert is O(n), and so that eviction finds the heaviest provider without
   * a table scan. Built from the table at first use, and again after a transaction that rolled back.
   */
  #aliveByProvider: Map<string, { count: number; bytes: number }> | undefined;
  #aliveTotal = 0;
  #aliveBytes = 0;
  #tombstones = new CountsByProvider();
  #ownProviders = new Set<string>();
  /** Offers from gossip, checked and counted against their provider's quota, waiting for the next batch write. */
  #pending = new Map<string, SignedOffer>();
  #statements = new Map<string, StatementSync>();
  #pendingByProvider = new Map<string, { count: number; bytes: number }>();
  #flushTimer: NodeJS.Timeout | undefined;
  /** Digest of the offer and tombstone ids this node serves, until any of them changes or expires. */
  #setDigest: { digest: string; validUntil: string } | undefined;
  #reconciliations = { rounds: 0, inSync: 0, pulled: 0 };
  /** Worker threads checking signatures of offers pulled in batches; started at the first batch. */
  #pool: SignaturePool | undefined;
  /** Set by stop: a reconciliation still running then starts no new pool. */
  #stopped = false;

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
    this.#stopped = false;
    const bus = this.#bus;
    this.#unbinds.push(
      bus.subscribe<unknown>(OFFERS_TOPIC, (message, context) => {
        if (Array.isArray(message)) this.receiveMany(message, context.from);
        else this.receive(message, context.from);
      }),
      bus.subscribe<unknown>(UNSUBSCRIBES_TOPIC, (message) => {
        this.receiveTombstone(message);
      }),
      // Gossip from the network is judged before it is delivered or forwarded: whatever the verdict stores is
      // found again by the listeners above (a duplicate costs one lookup), and a rejected message goes nowhere.
      bus.setBroadcastValidator<unknown>(OFFERS_TOPIC, (message, context) =>
        Array.isArray(message)
          ? this.#judgeMany(message, context.from)
          : this.judgeGossip(message, context.from),
      ),
      bus.setBroadcastValidator<unknown>(UNSUBSCRIBES_TOPIC, (message) => this.judgeTombstone(message)),
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
    this.#flush();
    this.#stopped = true;
    void this.#pool?.close();
    this.#pool = undefined;
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
      throw new GolemError(MarketErrorCode.OfferNotFound, `offer ${offerId} is not an offer of this node`, {
        httpStatus: 404,
      });
    }
    if (row.unsubscribed === 1)
      throw new GolemError(MarketErrorCode.OfferGone, `offer ${offerId} was already unsubscribed`, {
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
    return this.judgeOffer(input, from) === 'accept';
  }

  /**
   * Validates and stores an offer: `accept` when it was new and is stored, `ignore` when it is known already or
   * over a quota, `reject` when it is invalid (what gossip then counts against the peer that sent it).
   */
  judgeOffer(input: unknown, from?: string): BroadcastVerdict {
    const checked = this.#checkNew(input, from);
    if (typeof checked === 'string') return checked;
    return this.#admit(checked.offer) ? 'accept' : 'ignore';
  }

  /**
   * An offer not held yet and valid in every respect, with its row (a tombstone) if there is one; or the verdict
   * when it is neither. A copy of an offer held alive (or waiting to be written) needs no signature check.
   */
  #checkNew(
    input: unknown,
    from: string | undefined,
    checkSignature = true,
  ): BroadcastVerdict | { offer: SignedOffer; existing: OfferRow | undefined } {
    const claimedId = (input as { offerId?: unknown } | null)?.offerId;
    if (typeof claimedId !== 'string' || !SUBSCRIPTION_ID.test(claimedId)) return 'reject';
    if (this.#pending.has(claimedId)) return 'ignore';
    const existing = this.#row(claimedId);
    if (existing?.unsubscribed === 0) return 'ignore';
    // A provider at its quota gets nothing more stored whatever the check says: skip the check (a flood of one
    // identity past its quota then costs a lookup per offer, not a signature check). Safe on a claimed provider:
    // a forgery naming a provider at its quota would be refused anyway.
    const claimedProvider = (input as { providerId?: unknown }).providerId;
    if (typeof claimedProvider === 'string' && this.#atQuota(claimedProvider)) return 'ignore';
    const form = checkOfferForm(input, this.#options);
    const offer = form !== undefined && (!checkSignature || offerSignatureValid(form)) ? form : undefined;
    if (offer === undefined) {
      this.#log.debug('dropped an invalid offer', { from });
      return 'reject';
    }
    return { offer, existing };
  }

  /**
   * The verdict on an offer that came by gossip, as `judgeOffer`, but the write waits for the next batch: the
   * provider's quota is checked in memory, counting the offers already waiting.
   */
  judgeGossip(input: unknown, from?: string): BroadcastVerdict {
    const checked = this.#checkNew(input, from);
    if (typeof checked === 'string') return checked;
    const { offer, existing } = checked;
    // Only the offer's own provider can withdraw it: its own tombstone stays.
    if (existing !== undefined && existing.provider_id === offer.providerId) return 'ignore';
    const size = JSON.stringify(offer).length;
    const held = this.#alive().get(offer.providerId) ?? { count: 0, bytes: 0 };
    const waiting = this.#pendingByProvider.get(offer.providerId) ?? { count: 0, bytes: 0 };
    if (
      held.count + waiting.count >= this.#options.perProviderLimit ||
      held.bytes + waiting.bytes + size > this.#options.perProviderBytesLimit
    )
      return 'ignore';
    this.#pending.set(offer.offerId, offer);
    this.#pendingByProvider.set(offer.providerId, {
      count: waiting.count + 1,
      bytes: waiting.bytes + size,
    });
    if (this.#pending.size >= GOSSIP_BATCH_MAX) this.#flush();
    else this.#flushTimer ??= setTimeout(() => this.#flush(), GOSSIP_BATCH_MS);
    return 'accept';
  }

  #atQuota(providerId: string): boolean {
    if (this.#ownProviders.has(providerId)) return false;
    const held = this.#alive().get(providerId)?.count ?? 0;
    const waiting = this.#pendingByProvider.get(providerId)?.count ?? 0;
    return held + waiting >= this.#options.perProviderLimit;
  }

  /** Writes the offers waiting from gossip, in one transaction. */
  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending.values()];
    this.#pending.clear();
    this.#pendingByProvider.clear();
    this.#withoutDiskSync(() =>
      this.#countingTransaction(() => {
        for (const offer of batch) this.#admit(offer);
      }),
    );
  }

  /**
   * Runs `work` with commits that do not wait for the disk (`synchronous = NORMAL`; the database is in WAL mode).
   * For offers from gossip only: a sync at every batch commit held the event loop 10–200 ms on a busy disk (traced
   * in the hostile bench: the victim's longest stalls during a flood were these commits). Such a commit still
   * survives a crash of this process; a power loss may take the last batches back, which reconciliation with any
   * peer fetches again, and the next commit at the database's own setting (any payment, agreement or own offer)
   * syncs them along with itself. The database stays consistent either way.
   */
  #withoutDiskSync(work: () => void): void {
    const setting = this.#get<{ synchronous: number }>('PRAGMA synchronous')?.synchronous;
    if (setting === undefined || setting <= 1) {
      work();
      return;
    }
    this.#db.exec('PRAGMA synchronous = NORMAL');
    try {
      work();
    } finally {
      this.#db.exec(`PRAGMA synchronous = ${setting}`);
    }
  }

  /** Stores a validated offer of another node unless a copy is held (or the provider withdrew it); true if stored. */
  #admit(offer: SignedOffer): boolean {
    const existing = this.#row(offer.offerId);
    if (existing !== undefined) {
      if (existing.unsubscribed === 0) return false;
      // Only the offer's own provider can withdraw it: a tombstone signed by anyone else never blocks it.
      if (existing.provider_id === offer.providerId) return false;
      this.#run('DELETE FROM market_offer WHERE offer_id = ?', offer.offerId);
      this.#alive();
      this.#tombstones.add(existing.provider_id, -1);
      this.#setDigest = undefined;
    }
    return this.#store(offer, false);
  }

  /**
   * As `receiveMany`, but the signatures are checked in worker threads (see `SignaturePool`), off the event loop:
   * every other check runs here first, so the pool sees only offers that would be stored if signed; then the
   * signed ones are stored in the order given (so per provider too), in one transaction.
   */
  async ingest(inputs: readonly unknown[], from?: string): Promise<number> {
    const candidates: SignedOffer[] = [];
    const ids = new Set<string>();
    for (const input of inputs) {
      const checked = this.#checkNew(input, from, false);
      if (typeof checked === 'string' || ids.has(checked.offer.offerId)) continue;
      ids.add(checked.offer.offerId);
      candidates.push(checked.offer);
    }
    if (candidates.length === 0) return 0;
    let signed: boolean[];
    if (candidates.length < POOL_MIN_BATCH) signed = candidates.map((offer) => offerSignatureValid(offer));
    else {
      if (this.#stopped) return 0;
      this.#pool ??= new SignaturePool({ threads: this.#options.verifyThreads || undefined });
      signed = await this.#pool.verify(candidates);
    }
    let stored = 0;
    this.#countingTransaction(() => {
      for (const [i, offer] of candidates.entries()) {
        if (!signed[i]) {
          this.#log.debug('dropped an offer not signed by its provider', { from });
          continue;
        }
        // Checked again: a copy may have arrived (or the quota filled) while the signatures were checked.
        if (this.#pending.has(offer.offerId)) continue;
        if (this.#admit(offer)) stored++;
      }
    });
    return stored;
  }

  /** Validates and stores many offers in one transaction (a reconciliation batch, a gossiped array); how many were new. */
  receiveMany(inputs: readonly unknown[], from?: string): number {
    let stored = 0;
    this.#countingTransaction(() => {
      for (const input of inputs) if (this.receive(input, from)) stored++;
    });
    return stored;
  }

  #judgeMany(inputs: readonly unknown[], from: string): BroadcastVerdict {
    let accepted = 0;
    let rejected = 0;
    this.#countingTransaction(() => {
      for (const input of inputs) {
        const verdict = this.judgeGossip(input, from);
        if (verdict === 'accept') accepted++;
        else if (verdict === 'reject') rejected++;
      }
    });
    return accepted > 0 ? 'accept' : rejected > 0 ? 'reject' : 'ignore';
  }

  receiveTombstone(input: unknown): boolean {
    return this.judgeTombstone(input) === 'accept';
  }

  /**
   * Validates and applies a tombstone. Only its known fields are kept, each checked for form and size first, so
   * a tombstone cannot carry junk into the store or into the pages served to other nodes.
   */
  judgeTombstone(input: unknown): BroadcastVerdict {
    const tombstone = checkTombstoneForm(input, this.#options);
    if (tombstone === undefined) return 'reject';
    if (tombstone === 'expired') return 'ignore';
    const row = this.#row(tombstone.offerId);
    if (row !== undefined && (row.provider_id !== tombstone.providerId || row.unsubscribed === 1))
      return 'ignore';
    // A tombstone for an offer not seen yet is bounded like offers: per provider, in all (fairly, see
    // #tombstoneFits), and no longer than an offer lives. Decided before the signature check, which a flood from a
    // provider that would get no place then never costs. A tombstone of an offer held here is always applied.
    if (row === undefined && !this.#tombstoneFits(tombstone.providerId)) return 'ignore';
    if (!tombstoneSignatureValid(tombstone)) {
      this.#log.debug('dropped an unsubscribe not signed by the provider', { offerId: tombstone.offerId });
      return 'reject';
    }
    this.#applyTombstone(tombstone);
    return 'accept';
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
        let missing = page.ids.filter(
          (id) => typeof id === 'string' && SUBSCRIPTION_ID.test(id) && this.#row(id) === undefined,
        );
        while (missing.length > 0) {
          const batch = missing.slice(0, FETCH_BATCH);
          const offers = await this.#bus.call<unknown[]>(
            `/net/${nodeId}/market/discovery/Get`,
            { ids: batch },
            { timeoutMs: 10_000 },
          );
          if (!Array.isArray(offers) || offers.length === 0) {
            missing = missing.slice(batch.length);
            continue;
          }
          pulled += await this.ingest(offers, nodeId);
          // The reply keeps the order asked for; ids after its last offer were cut by the peer's page byte bound
          // (those before it that are absent are gone there): ask for them again.
          const lastId = (offers[offers.length - 1] as { offerId?: unknown } | null)?.offerId;
          const cut = batch.indexOf(lastId as string);
          missing = [...batch.slice(cut + 1), ...missing.slice(batch.length)];
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
    const expired = this.#all<{
      offer_id: string;
      provider_id: string;
      unsubscribed: number;
      bytes: number;
    }>(
      'SELECT offer_id, provider_id, unsubscribed, LENGTH(body) AS bytes FROM market_offer WHERE expires_at <= ?',
      now,
    );
    if (expired.length === 0) return;
    this.#alive();
    this.#run('DELETE FROM market_offer WHERE expires_at <= ?', now);
    this.#setDigest = undefined;
    for (const row of expired) {
      if (row.unsubscribed === 0) this.#countAlive(row.provider_id, -1, -row.bytes);
      else this.#tombstones.add(row.provider_id, -1);
    }
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
    for (const row of this.#all<{ offer_id: string; unsubscribed: number; expires_at: string }>(
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

  #store(offer: SignedOffer, own: boolean): boolean {
    const alive = this.#alive();
    const body = JSON.stringify(offer);
    const size = body.length;
    if (own) this.#ownProviders.add(offer.providerId);
    const stored = this.#countingTransaction(() => {
      const mine = alive.get(offer.providerId) ?? { count: 0, bytes: 0 };
      if (
        mine.count >= this.#options.perProviderLimit ||
        mine.bytes + size > this.#options.perProviderBytesLimit
      ) {
        if (!own) return false;
        // A node's own offers evict its own oldest, until the new one fits.
        while (
          (alive.get(offer.providerId)?.count ?? 0) >= this.#options.perProviderLimit ||
          (alive.get(offer.providerId)?.bytes ?? 0) + size > this.#options.perProviderBytesLimit
        ) {
          if (!this.#evictOldest('provider_id = ?', offer.providerId)) break;
        }
      }
      while (
        this.#aliveTotal >= this.#options.totalLimit ||
        this.#aliveBytes + size > this.#options.totalBytesLimit
      ) {
        // Evict from the provider holding the most bytes, soonest to expire first, so no single node crowds out others.
        const heaviest = this.#heaviestForeignProvider();
        if (heaviest === undefined || !this.#evictOldest('provider_id = ? AND own = 0', heaviest))
          return false;
      }
      this.#run(
        'INSERT INTO market_offer (offer_id, provider_id, body, expires_at, received_at, own) VALUES (?, ?, ?, ?, ?, ?)',
        offer.offerId,
        offer.providerId,
        body,
        offer.expiresAt,
        new Date().toISOString(),
        own ? 1 : 0,
      );
      this.#countAlive(offer.providerId, +1, size);
      this.#setDigest = undefined;
      return true;
    });
    if (stored) for (const listener of this.#offerListeners) listener(offer);
    return stored;
  }

  /** The provider (not this node) holding the most bytes of offers: a walk over providers in memory, no table scan. */
  #heaviestForeignProvider(): string | undefined {
    let heaviest: string | undefined;
    let most = 0;
    for (const [provider, held] of this.#alive()) {
      if (held.bytes > most && !this.#ownProviders.has(provider)) {
        heaviest = provider;
        most = held.bytes;
      }
    }
    return heaviest;
  }

  #evictOldest(where: string, value: string): boolean {
    const victim = this.#get<{ offer_id: string; provider_id: string; bytes: number }>(
      `SELECT offer_id, provider_id, LENGTH(body) AS bytes FROM market_offer WHERE ${where} AND unsubscribed = 0 ORDER BY expires_at LIMIT 1`,
      value,
    );
    if (victim === undefined) return false;
    this.#run('DELETE FROM market_offer WHERE offer_id = ?', victim.offer_id);
    this.#countAlive(victim.provider_id, -1, -victim.bytes);
    this.#setDigest = undefined;
    this.#emitRemoved(victim.offer_id, 'evicted');
    return true;
  }

  /**
   * Stores a tombstone (of an offer held here, or one `#tombstoneFits` let in), first making room for it: a
   * provider at its own limit loses its soonest-expiring tombstone, and a full store that of the heaviest provider.
   */
  #applyTombstone(tombstone: SignedUnsubscribe): void {
    const existed = this.#row(tombstone.offerId);
    this.#alive();
    const provider = tombstone.providerId;
    const newTombstone = existed === undefined || existed.unsubscribed === 0;
    this.#countingTransaction(() => {
      if (newTombstone) {
        if (
          !this.#ownProviders.has(provider) &&
          this.#tombstones.count(provider) >= this.#options.perProviderLimit
        )
          this.#evictTombstone(provider);
        else if (this.#tombstones.total >= this.#options.tombstoneLimit) {
          const heaviest = this.#heaviestTombstoneHolder();
          if (heaviest !== undefined) this.#evictTombstone(heaviest);
        }
      }
      this.#run(
        `INSERT INTO market_offer (offer_id, provider_id, body, expires_at, received_at, own, unsubscribed, tombstone)
         VALUES (?, ?, '{}', ?, ?, 0, 1, ?)
         ON CONFLICT(offer_id) DO UPDATE SET unsubscribed = 1, tombstone = excluded.tombstone`,
        tombstone.offerId,
        provider,
        tombstone.expiresAt,
        new Date().toISOString(),
        JSON.stringify(tombstone),
      );
    });
    this.#setDigest = undefined;
    if (newTombstone) this.#tombstones.add(provider, +1);
    if (existed !== undefined && existed.unsubscribed === 0) {
      this.#countAlive(existed.provider_id, -1, -existed.body.length);
      this.#emitRemoved(tombstone.offerId, 'unsubscribed');
    }
  }

  /**
   * Whether a tombstone of an offer not seen here gets a place. Per provider: below `perProviderLimit`. In all:
   * below `tombstoneLimit`, or else it takes the place of one of the provider holding the most (not this node),
   * unless its own provider already holds as many. So however many identities fill the store, a provider with
   * fewer tombstones than the heaviest one always gets its next one kept.
   */
  #tombstoneFits(providerId: string): boolean {
    this.#alive();
    const held = this.#tombstones.count(providerId);
    if (held >= this.#options.perProviderLimit) return false;
    if (this.#tombstones.total < this.#options.tombstoneLimit) return true;
    const heaviest = this.#heaviestTombstoneHolder();
    return heaviest !== undefined && this.#tombstones.count(heaviest) > held;
  }

  /** The provider (not this node) holding the most tombstones: from counts in memory, no table scan. */
  #heaviestTombstoneHolder(): string | undefined {
    return this.#tombstones.heaviest((providerId) => this.#ownProviders.has(providerId));
  }

  /** Deletes the soonest-expiring tombstone a provider (not this node) has here. */
  #evictTombstone(providerId: string): void {
    const victim = this.#get<{ offer_id: string }>(
      'SELECT offer_id FROM market_offer WHERE provider_id = ? AND unsubscribed = 1 AND own = 0 ORDER BY expires_at LIMIT 1',
      providerId,
    );
    if (victim === undefined) return;
    this.#run('DELETE FROM market_offer WHERE offer_id = ?', victim.offer_id);
    this.#tombstones.add(providerId, -1);
    this.#setDigest = undefined;
  }

  #alive(): Map<string, { count: number; bytes: number }> {
    if (this.#aliveByProvider === undefined) {
      this.#aliveByProvider = new Map();
      this.#aliveTotal = 0;
      this.#aliveBytes = 0;
      for (const row of this.#all<{ provider_id: string; n: number; bytes: number; own: number }>(
        'SELECT provider_id, COUNT(*) AS n, SUM(LENGTH(body)) AS bytes, MAX(own) AS own FROM market_offer WHERE unsubscribed = 0 GROUP BY provider_id',
      )) {
        this.#aliveByProvider.set(row.provider_id, { count: row.n, bytes: row.bytes });
        this.#aliveTotal += row.n;
        this.#aliveBytes += row.bytes;
        if (row.own === 1) this.#ownProviders.add(row.provider_id);
      }
      this.#tombstones = new CountsByProvider();
      for (const row of this.#all<{ provider_id: string; n: number; own: number }>(
        'SELECT provider_id, COUNT(*) AS n, MAX(own) AS own FROM market_offer WHERE unsubscribed = 1 GROUP BY provider_id',
      )) {
        this.#tombstones.add(row.provider_id, row.n);
        if (row.own === 1) this.#ownProviders.add(row.provider_id);
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

  #countAlive(providerId: string, delta: number, bytes: number): void {
    const alive = this.#alive();
    const held = alive.get(providerId) ?? { count: 0, bytes: 0 };
    held.count += delta;
    held.bytes += bytes;
    if (held.count > 0) alive.set(providerId, held);
    else alive.delete(providerId);
    this.#aliveTotal += delta;
    this.#aliveBytes += bytes;
  }

  /** Bytes (of their JSON) of the offers held alive, and tombstones held: what the storage bounds count. */
  storageStats(): { offers: number; offerBytes: number; tombstones: number } {
    this.#alive();
    return { offers: this.#aliveTotal, offerBytes: this.#aliveBytes, tombstones: this.#tombstones.total };
  }

  #emitRemoved(offerId: string, reason: RemovalReason): void {
    for (const listener of this.#removedListeners) listener(offerId, reason);
  }

  /** Statements prepared once: preparing one costs about as much as running it on the receive path. */
  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.raw.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #run(sql: string, ...params: SqlValue[]): void {
    this.#statement(sql).run(...params);
  }

  #get<T>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.#statement(sql).get(...params) as T | undefined;
  }

  #all<T>(sql: string, ...params: SqlValue[]): T[] {
    return this.#statement(sql).all(...params) as T[];
  }

  #row(offerId: string): OfferRow | undefined {
    return this.#get<OfferRow>('SELECT * FROM market_offer WHERE offer_id = ?', offerId);
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
    if (!Array.isArray(ids)) throw new GolemError(MarketErrorCode.BadRequest, 'Get takes {ids: string[]}');
    const offers: SignedOffer[] = [];
    let bytes = 0;
    for (const id of ids.slice(0, FETCH_BATCH)) {
      if (typeof id !== 'string') continue;
      const offer = this.get(id);
      if (offer === undefined) continue;
      // Bounded by bytes too: the asker asks again for whatever comes after the last offer it got.
      bytes += JSON.stringify(offer).length;
      if (bytes > MAX_PAGE_BYTES && offers.length > 0) break;
      offers.push(offer);
    }
    return offers;
  }

  #pageTombstones(message: unknown): SignedUnsubscribe[] {
    const { after, limit } = pageArgs(message);
    const page: SignedUnsubscribe[] = [];
    let bytes = 0;
    for (const row of this.#all<{ tombstone: string }>(
      'SELECT tombstone FROM market_offer WHERE unsubscribed = 1 AND tombstone IS NOT NULL AND offer_id > ? ORDER BY offer_id LIMIT ?',
      after,
      limit,
    )) {
      // Bounded by bytes, so a page always fits a reply; the asker pages on from the last id it got.
      bytes += row.tombstone.length;
      if (bytes > MAX_PAGE_BYTES && page.length > 0) break;
      page.push(JSON.parse(row.tombstone) as SignedUnsubscribe);
    }
    return page;
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
