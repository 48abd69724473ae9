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
    assert.equal(guard.buffer('a', 100), true);
    assert.equal(guard.buffer('a', 1), false, 'per peer');
    assert.equal(guard.buffer('b', 60), false, 'in all');
    guard.buffer('a', -100);
    assert.equal(guard.buffer('b', 60), true);
    assert.equal(guard.counters().bufferedBytes, 60);
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
