/** The per-peer bounds and cut-off of `PeerGuard`, on a clock the test moves. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Logger } from '../../../../src/core/log/index.ts';
import { PeerGuard } from '../../../../src/core/net/index.ts';

function recordingLogger(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log = {
    trace: () => {},
    debug: () => {},
    info: () => {},
    warn: (msg: string) => warnings.push(msg),
    error: () => {},
    child: () => log,
  } as unknown as Logger;
  return { log, warnings };
}

describe('PeerGuard', () => {
  it('cuts a peer off after enough strikes within the window, warns at most every 10 s, and lets it back later', () => {
    let now = 1_000_000;
    const { log, warnings } = recordingLogger();
    const banned: string[] = [];
    const guard = new PeerGuard({
      limits: { strikesToBan: 3, strikeWindowMs: 60_000, banMs: 600_000 },
      log,
      onBan: (peer) => banned.push(peer),
      now: () => now,
    });
    assert.equal(guard.strike('a', 'malformed'), false);
    now += 61_000; // the first strike has aged out of the window
    assert.equal(guard.strike('a', 'malformed'), false);
    assert.equal(guard.strike('a', 'stalledFrame'), false);
    assert.equal(guard.strike('a', 'requestTimeout'), true);
    assert.deepEqual(banned, ['a']);
    assert.equal(guard.isBanned('a'), true);
    assert.equal(guard.openStream('a'), false, 'a cut-off peer gets no stream');
    for (const peer of ['b', 'c', 'd']) for (let i = 0; i < 3; i++) guard.strike(peer, 'malformed');
    assert.equal(warnings.length, 1, 'one warning for four peers cut off within 10 s');
    now += 10_000;
    for (let i = 0; i < 3; i++) guard.strike('e', 'malformed');
    assert.equal(warnings.length, 2);
    const counters = guard.counters();
    assert.equal(counters.bans, 5);
    assert.equal(counters.banned, 5);
    assert.equal(counters.offences.malformed, 14);
    now += 600_001;
    assert.equal(guard.isBanned('a'), false, 'the ban ends');
    guard.prune();
    assert.equal(guard.counters().banned, 0);
  });

  it('bounds streams and calls per peer and in all, and bytes of unfinished frames', () => {
    const { log } = recordingLogger();
    const guard = new PeerGuard({
      limits: {
        maxStreamsPerPeer: 2,
        maxCallsPerPeer: 1,
        maxCalls: 2,
        maxBufferedBytesPerPeer: 100,
        maxBufferedBytes: 150,
        reservedCallsPerPeer: 0,
        reservedBufferedBytesPerPeer: 0,
      },
      log,
    });
    assert.equal(guard.openStream('a'), true);
    assert.equal(guard.openStream('a'), true);
    assert.equal(guard.openStream('a'), false);
    assert.equal(guard.openStream('b'), true, 'another peer is not affected');
    assert.equal(guard.startCall('a'), true);
    assert.equal(guard.startCall('a'), false, 'per peer');
    assert.equal(guard.startCall('b'), true);
    assert.equal(guard.startCall('c'), false, 'in all');
    guard.endCall('a');
    assert.equal(guard.startCall('c'), true);
    assert.equal(guard.buffer('a', 100), 'ok');
    assert.equal(guard.buffer('a', 1), 'peer', 'per peer');
    assert.equal(guard.buffer('b', 60), 'all', 'in all');
    guard.buffer('a', -100);
    assert.equal(guard.buffer('b', 60), 'ok');
    assert.equal(guard.counters().bufferedBytes, 60);
  });

  it('keeps a reserve of calls and frame bytes for every peer, and splits the shared pool in fair shares', () => {
    const { log } = recordingLogger();
    const guard = new PeerGuard({
      limits: {
        maxCallsPerPeer: 10,
        maxCalls: 8,
        reservedCallsPerPeer: 1,
        maxBufferedBytesPerPeer: 100,
        maxBufferedBytes: 100,
        reservedBufferedBytesPerPeer: 10,
      },
      log,
    });
    // Twenty identities of one attacker, each asking for all it may have.
    const sybils = Array.from({ length: 20 }, (_, i) => `sybil-${i}`);
    const taken = new Map(sybils.map((peer) => [peer, 0]));
    for (let round = 0; round < 10; round++)
      for (const peer of sybils) if (guard.startCall(peer)) taken.set(peer, taken.get(peer)! + 1);
    const total = [...taken.values()].reduce((sum, n) => sum + n, 0);
    // Each has its reserved call; the shared pool (8) is all there is beyond them.
    assert.equal(total, 20 + 8);
    // An honest peer still gets its reserved call, and only that.
    assert.equal(guard.startCall('honest'), true, 'the honest peer is served');
    assert.equal(guard.startCall('honest'), false, 'the shared pool is full');
    // One peer alone in the pool may take it whole; a second one then gets an equal share (4 of 8).
    const fresh = new PeerGuard({
      limits: { maxCallsPerPeer: 10, maxCalls: 8, reservedCallsPerPeer: 0 },
      log,
    });
    let first = 0;
    for (let i = 0; i < 6; i++) if (fresh.startCall('first')) first++;
    assert.equal(first, 6);
    let second = 0;
    for (let i = 0; i < 6; i++) if (fresh.startCall('second')) second++;
    assert.equal(second, 2, 'what is left of the pool');
    for (let i = 0; i < 4; i++) fresh.endCall('first');
    second = 0;
    for (let i = 0; i < 6; i++) if (fresh.startCall('second')) second++;
    assert.equal(second, 2, 'up to its fair share (4 of 8 with two holders), though the pool has 4 free');
    assert.equal(fresh.startCall('first'), true, 'the first peer gets back up to its share');
    assert.equal(fresh.startCall('first'), true);
    assert.equal(fresh.startCall('first'), false, 'the pool is full');
    // Bytes: the sybils fill the shared pool; the honest peer's first bytes fit in its reserve.
    for (const peer of sybils) guard.buffer(peer, 30);
    assert.equal(guard.buffer('honest', 10), 'ok', "within the honest peer's reserve");
    assert.equal(guard.buffer('honest', 1), 'all', 'beyond it the shared pool is full');
    assert.equal(guard.buffer('sybil-0', 71), 'peer', 'over its own bound');
  });

  it('admits gossip at the configured rate after a burst, and strikes a flooding origin at most once a second', () => {
    let now = 0;
    const { log } = recordingLogger();
    const guard = new PeerGuard({ limits: { gossipPerSecond: 10, gossipBurst: 20 }, log, now: () => now });
    let admitted = 0;
    for (let i = 0; i < 100; i++) if (guard.admitGossip('a')) admitted++;
    assert.equal(admitted, 20);
    now += 1_000;
    for (let i = 0; i < 100; i++) if (guard.admitGossip('a')) admitted++;
    assert.equal(admitted, 30);
    for (let i = 0; i < 10; i++) guard.floodStrike('a');
    assert.equal(guard.counters().offences.gossipFlood, 1);
    now += 1_000;
    guard.floodStrike('a');
    assert.equal(guard.counters().offences.gossipFlood, 2);
    assert.equal(guard.counters().gossipThrottled, 170);
  });
});
