/**
 * Per-peer bounds of what the network may make this node hold: open bus streams, calls in progress, bytes of
 * frames not yet complete, gossip messages per second. A peer that breaks them on purpose (a stream that never
 * sends its request, a frame left unfinished, malformed input, a gossip flood) earns strikes; enough strikes
 * within a window cut it off: its connections are closed and it cannot connect again until the ban ends.
 * Other peers never share a bound with it, so they do not notice.
 *
 * Identities are free, so one attacker may come as many peers (a sybil swarm). Bounds shared by all peers (calls
 * in progress, bytes of unfinished frames) therefore keep a small reserve for every peer outside the shared pool,
 * and the shared pool is split in fair shares among the peers using it: however many identities take the pool,
 * an honest peer's first calls and frames still go through.
 */
import type { Logger } from '../log/index.ts';
import type { NetGuardCounters, NetOffence } from '../model/net.ts';

export interface PeerLimits {
  /** Bus streams one peer may hold open at once (waiting for their request or being served). */
  maxStreamsPerPeer: number;
  /** Bus calls one peer may have in progress at once (beyond: BUS_BUSY). */
  maxCallsPerPeer: number;
  /** Bus calls in progress over all peers, in the shared pool (beyond: BUS_BUSY). */
  maxCalls: number;
  /**
   * Calls every peer may have in progress outside the shared pool: a swarm of identities holding the whole pool
   * cannot make another peer's call answer BUS_BUSY. (At most this many per connected peer on top of `maxCalls`.)
   */
  reservedCallsPerPeer: number;
  /** Bytes of unfinished incoming frames one peer may make this node buffer. */
  maxBufferedBytesPerPeer: number;
  /** Bytes of unfinished incoming frames over all peers, in the shared pool. */
  maxBufferedBytes: number;
  /** Bytes of unfinished frames every peer may hold outside the shared pool (as `reservedCallsPerPeer`). */
  reservedBufferedBytesPerPeer: number;
  /** A new bus stream must deliver its whole request within this time. */
  requestTimeoutMs: number;
  /** A frame under way must make progress (some bytes) within this time. */
  stallTimeoutMs: number;
  /** Gossip messages per second one peer may forward to us (sustained), and the burst above it. */
  gossipPerSecond: number;
  gossipBurst: number;
  /** Strikes within `strikeWindowMs` that cut a peer off, and for how long. */
  strikesToBan: number;
  strikeWindowMs: number;
  banMs: number;
}

export const DEFAULT_PEER_LIMITS: PeerLimits = {
  maxStreamsPerPeer: 128,
  maxCallsPerPeer: 64,
  maxCalls: 1024,
  reservedCallsPerPeer: 2,
  maxBufferedBytesPerPeer: 32 * 1024 * 1024,
  maxBufferedBytes: 256 * 1024 * 1024,
  reservedBufferedBytesPerPeer: 1024 * 1024,
  requestTimeoutMs: 10_000,
  stallTimeoutMs: 10_000,
  gossipPerSecond: 50,
  gossipBurst: 500,
  strikesToBan: 5,
  strikeWindowMs: 60_000,
  banMs: 10 * 60_000,
};

export type Offence = NetOffence;
/** `peer`: over the peer's own bound (its offence); `all`: the shared pool is full (nobody's offence here). */
export type BufferVerdict = 'ok' | 'peer' | 'all';
export type GuardCounters = NetGuardCounters;

interface PeerState {
  streams: number;
  calls: number;
  buffered: number;
  strikes: number[];
  lastFloodStrike: number;
  tokens: number;
  refilledAt: number;
}

/** Warn about cut-off peers at most this often (a sybil swarm must not flood the log either). */
const BAN_LOG_INTERVAL_MS = 10_000;

export class PeerGuard {
  readonly limits: PeerLimits;
  #peers = new Map<string, PeerState>();
  #bannedUntil = new Map<string, number>();
  /** Calls and bytes over the peers' reserves (the shared pools), and how many peers hold some of each. */
  #sharedCalls = 0;
  #sharedCallHolders = 0;
  #sharedBuffered = 0;
  #buffered = 0;
  #counters: Omit<GuardCounters, 'banned' | 'bufferedBytes'> = {
    bans: 0,
    streamsRefused: 0,
    callsRefusedBusy: 0,
    gossipThrottled: 0,
    offences: {
      requestTimeout: 0,
      stalledFrame: 0,
      bufferExceeded: 0,
      malformed: 0,
      gossipFlood: 0,
      invalidGossip: 0,
    },
  };
  #log: Logger;
  #onBan: (peer: string) => void;
  #lastBanLog = 0;
  #bansSinceLog = 0;
  #now: () => number;

  constructor(options: {
    limits?: Partial<PeerLimits>;
    log: Logger;
    onBan?: (peer: string) => void;
    now?: () => number;
  }) {
    this.limits = { ...DEFAULT_PEER_LIMITS, ...options.limits };
    this.#log = options.log;
    this.#onBan = options.onBan ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  isBanned(peer: string): boolean {
    const until = this.#bannedUntil.get(peer);
    if (until === undefined) return false;
    if (until > this.#now()) return true;
    this.#bannedUntil.delete(peer);
    return false;
  }

  /** Takes a stream slot of `peer`; false (refuse the stream) when it holds too many or is cut off. */
  openStream(peer: string): boolean {
    if (this.isBanned(peer)) return false;
    const state = this.#state(peer);
    if (state.streams >= this.limits.maxStreamsPerPeer) {
      this.#counters.streamsRefused++;
      return false;
    }
    state.streams++;
    return true;
  }

  closeStream(peer: string): void {
    const state = this.#peers.get(peer);
    if (state === undefined) return;
    state.streams--;
    this.#forgetIfIdle(peer, state);
  }

  /**
   * Takes a call slot once a stream has delivered its request; false means answer BUS_BUSY. A peer's first
   * `reservedCallsPerPeer` calls are its own; beyond them it takes from the shared pool, at most its fair share
   * (the pool divided among the peers using it).
   */
  startCall(peer: string): boolean {
    const state = this.#state(peer);
    const reserved = this.limits.reservedCallsPerPeer;
    if (state.calls >= this.limits.maxCallsPerPeer) return this.#busy();
    if (state.calls >= reserved) {
      const holders = this.#sharedCallHolders + (state.calls > reserved ? 0 : 1);
      const fairShare = Math.max(1, Math.floor(this.limits.maxCalls / holders));
      if (this.#sharedCalls >= this.limits.maxCalls || state.calls - reserved >= fairShare)
        return this.#busy();
      if (state.calls === reserved) this.#sharedCallHolders++;
      this.#sharedCalls++;
    }
    state.calls++;
    return true;
  }

  endCall(peer: string): void {
    const state = this.#peers.get(peer);
    if (state === undefined || state.calls === 0) return;
    state.calls--;
    if (state.calls >= this.limits.reservedCallsPerPeer) {
      this.#sharedCalls--;
      if (state.calls === this.limits.reservedCallsPerPeer) this.#sharedCallHolders--;
    }
    this.#forgetIfIdle(peer, state);
  }

  #busy(): false {
    this.#counters.callsRefusedBusy++;
    return false;
  }

  /**
   * Accounts `delta` bytes of unfinished frames to `peer` (negative to release). Refused (`peer`) beyond the
   * peer's own bound, or (`all`) when the bytes beyond its reserve do not fit in the shared pool.
   */
  buffer(peer: string, delta: number): BufferVerdict {
    const state = this.#state(peer);
    const reserved = this.limits.reservedBufferedBytesPerPeer;
    const sharedDelta =
      Math.max(0, state.buffered + delta - reserved) - Math.max(0, state.buffered - reserved);
    if (delta > 0) {
      if (state.buffered + delta > this.limits.maxBufferedBytesPerPeer) return 'peer';
      if (this.#sharedBuffered + sharedDelta > this.limits.maxBufferedBytes) return 'all';
    }
    state.buffered += delta;
    this.#buffered += delta;
    this.#sharedBuffered += sharedDelta;
    this.#forgetIfIdle(peer, state);
    return 'ok';
  }

  /** One gossip message forwarded by `peer`: false when over its rate (token bucket). */
  admitGossip(peer: string): boolean {
    const state = this.#state(peer);
    const now = this.#now();
    state.tokens = Math.min(
      this.limits.gossipBurst,
      state.tokens + ((now - state.refilledAt) / 1000) * this.limits.gossipPerSecond,
    );
    state.refilledAt = now;
    if (state.tokens < 1) {
      this.#counters.gossipThrottled++;
      return false;
    }
    state.tokens--;
    return true;
  }

  /** A strike for flooding gossip of its own: at most one a second, however many messages it sends. */
  floodStrike(peer: string): void {
    const state = this.#state(peer);
    const now = this.#now();
    if (now - state.lastFloodStrike < 1000) return;
    state.lastFloodStrike = now;
    this.strike(peer, 'gossipFlood');
  }

  /** A strike against `peer`; cuts it off (and returns true) at the limit. */
  strike(peer: string, offence: Offence): boolean {
    this.#counters.offences[offence]++;
    if (this.isBanned(peer)) return true;
    const state = this.#state(peer);
    const now = this.#now();
    state.strikes = state.strikes.filter((at) => at > now - this.limits.strikeWindowMs);
    state.strikes.push(now);
    if (state.strikes.length < this.limits.strikesToBan) return false;
    state.strikes = [];
    this.#bannedUntil.set(peer, now + this.limits.banMs);
    this.#counters.bans++;
    this.#bansSinceLog++;
    if (now - this.#lastBanLog >= BAN_LOG_INTERVAL_MS) {
      this.#log.warn('peer cut off for abuse', {
        peer,
        offence,
        banMs: this.limits.banMs,
        cutOffSinceLastLine: this.#bansSinceLog,
      });
      this.#lastBanLog = now;
      this.#bansSinceLog = 0;
    }
    this.#onBan(peer);
    return true;
  }

  /** Forgets idle peers whose strikes are old and bans that ended (the maintenance timer calls it). */
  prune(): void {
    const now = this.#now();
    for (const [peer, until] of this.#bannedUntil) if (until <= now) this.#bannedUntil.delete(peer);
    for (const [peer, state] of this.#peers) {
      state.strikes = state.strikes.filter((at) => at > now - this.limits.strikeWindowMs);
      const refilled = state.tokens + ((now - state.refilledAt) / 1000) * this.limits.gossipPerSecond;
      if (refilled >= this.limits.gossipBurst) {
        state.tokens = this.limits.gossipBurst;
        state.refilledAt = now;
      }
      this.#forgetIfIdle(peer, state);
    }
  }

  counters(): GuardCounters {
    let banned = 0;
    const now = this.#now();
    for (const until of this.#bannedUntil.values()) if (until > now) banned++;
    return {
      ...this.#counters,
      offences: { ...this.#counters.offences },
      banned,
      bufferedBytes: this.#buffered,
    };
  }

  #state(peer: string): PeerState {
    let state = this.#peers.get(peer);
    if (state === undefined) {
      state = {
        streams: 0,
        calls: 0,
        buffered: 0,
        strikes: [],
        lastFloodStrike: 0,
        tokens: this.limits.gossipBurst,
        refilledAt: this.#now(),
      };
      this.#peers.set(peer, state);
    }
    return state;
  }

  /**
   * A peer that holds nothing is forgotten, so the map stays as small as the set of busy peers. Its strikes and
   * gossip tokens go with it, unless they still matter (recent strikes, a bucket not yet full).
   */
  #forgetIfIdle(peer: string, state: PeerState): void {
    if (state.streams > 0 || state.calls > 0 || state.buffered > 0 || state.strikes.length > 0) return;
    if (state.tokens < this.limits.gossipBurst) return;
    this.#peers.delete(peer);
  }
}
