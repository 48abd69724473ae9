/**
 * Hostile peers against one victim node, all in this process on loopback with real libp2p: attackers are raw
 * libp2p hosts (or whole nodes) built from the project's own modules. Each attack is checked for what the victim's
 * other peers see (their calls keep working), what the victim holds (bounded) and what happens to the attacker
 * (struck and cut off). The victim runs with small limits so that each bound is reached in a second, not a minute.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { isGolemError } from '../../src/core/errors/index.ts';
import type { NetStatus } from '../../src/core/model/net.ts';
import {
  BUS_PROTOCOL,
  createHost,
  DEFAULT_PEER_LIMITS,
  encodeFrame,
  type Host,
  type PeerLimits,
} from '../../src/core/net/index.ts';
import { eventually, startNode, startRelay, type TestNode } from '../support/net.ts';

const LIMITS: Partial<PeerLimits> = {
  maxStreamsPerPeer: 16,
  maxCallsPerPeer: 8,
  maxCalls: 8,
  maxBufferedBytesPerPeer: 4 * 1024 * 1024,
  maxBufferedBytes: 64 * 1024 * 1024,
  requestTimeoutMs: 800,
  stallTimeoutMs: 400,
  gossipPerSecond: 20,
  gossipBurst: 40,
  strikesToBan: 3,
  banMs: 60_000,
};

const ALONE = { YA_NET_NEIGHBOURS: '1', YA_NET_AUTONAT: '0' };

async function attackerHost(): Promise<Host> {
  return createHost({ secret: new Uint8Array(randomBytes(32)), listen: [], autonat: false });
}

async function openStreams(host: Host, target: string, count: number): Promise<Stream[]> {
  const streams: Stream[] = [];
  for (let i = 0; i < count; i++) {
    const stream = await host.dialProtocol(multiaddr(target), BUS_PROTOCOL).catch(() => undefined);
    if (stream !== undefined) streams.push(stream);
  }
  return streams;
}

describe('hostile peers against one victim (in-process, real sockets)', () => {
  let victim: TestNode;
  let honest: TestNode;
  let victimAddress: string;

  const status = (): NetStatus => victim.net.status();
  const honestPing = () =>
    honest.bus.call(`/net/${victim.nodeId}/net/Ping`, null, { timeoutMs: 5_000 }) as Promise<unknown>;

  before(async () => {
    victim = await startNode(undefined, undefined, ALONE, { limits: LIMITS });
    honest = await startNode(undefined, undefined, ALONE);
    victimAddress = victim.net.status().listenAddrs[0]!;
    await honest.net.host!.dial(multiaddr(victimAddress));
  });
  after(async () => {
    await Promise.all([victim?.stop(), honest?.stop()]);
  });

  it('streams that never send a request take no call slot, are reset at the deadline and cut their peer off', async () => {
    const attacker = await attackerHost();
    try {
      // More idle streams than the victim serves calls in all, one byte each, never finished.
      const streams = await openStreams(attacker, victimAddress, LIMITS.maxStreamsPerPeer! + 4);
      for (const stream of streams) stream.send(new Uint8Array([0]));
      // Meanwhile the honest node's calls go through: the idle streams hold no call slot.
      for (let i = 0; i < 5; i++) assert.deepEqual(await honestPing(), { pong: true, caller: honest.nodeId });
      await eventually(
        () => status().guard!.streamsRefused > 0,
        'streams beyond the per-peer bound refused',
        5_000,
      );
      // At the request deadline they are reset, each a strike: the attacker is cut off.
      await eventually(() => status().guard!.bans >= 1, 'the idle-stream attacker cut off', 5_000);
      await eventually(() => attacker.getConnections().length === 0, 'its connection closed', 5_000);
      // A cut-off peer cannot connect again: the victim refuses the connection once the peer is known.
      await attacker.dial(multiaddr(victimAddress)).catch(() => undefined);
      await eventually(
        () => victim.net.host!.getConnections(attacker.peerId).length === 0,
        'the new connection refused',
        5_000,
      );
      assert.equal((await openStreams(attacker, victimAddress, 1)).length, 0);
      assert.ok(status().guard!.offences.requestTimeout + status().guard!.offences.stalledFrame >= 3);
      assert.deepEqual(await honestPing(), { pong: true, caller: honest.nodeId });
    } finally {
      await attacker.stop();
    }
  });

  it('a swarm of identities holding every shared call slot leaves an honest peer its reserved calls', async () => {
    // A handler that holds its call until the caller goes away.
    const unbind = victim.bus.bind('/public/test/Hold', (_message, context) => {
      return new Promise((resolve) => context.signal.addEventListener('abort', () => resolve(null)));
    });
    // One attacker as six identities, each asking for as many calls as one peer may have.
    const sybils = await Promise.all(Array.from({ length: 6 }, () => attackerHost()));
    try {
      const before = status().guard!.callsRefusedBusy;
      const perPeer = LIMITS.maxCallsPerPeer!;
      for (const sybil of sybils)
        for (const stream of await openStreams(sybil, victimAddress, perPeer))
          stream.send(encodeFrame({ t: 'call', a: '/public/test/Hold', m: null }));
      // Each holds its reserved calls; the shared pool is all they get beyond them.
      const held = sybils.length * DEFAULT_PEER_LIMITS.reservedCallsPerPeer + LIMITS.maxCalls!;
      await eventually(
        () => status().guard!.callsRefusedBusy - before >= sybils.length * perPeer - held,
        'the swarm refused beyond the reserves and the shared pool',
        5_000,
      );
      // The honest node's calls are answered all the while.
      for (let i = 0; i < 3; i++) assert.deepEqual(await honestPing(), { pong: true, caller: honest.nodeId });
    } finally {
      await Promise.all(sybils.map((sybil) => sybil.stop()));
      unbind();
    }
  });

  it('frames announced large and left unfinished hold no more than the per-peer byte bound', async () => {
    const attacker = await attackerHost();
    try {
      const before = status().guard!;
      const streams = await openStreams(attacker, victimAddress, 8);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(16 * 1024 * 1024 - 8);
      const chunk = randomBytes(1024 * 1024);
      let peak = 0;
      for (const stream of streams) {
        try {
          stream.send(header);
          stream.send(chunk);
        } catch {
          // reset by the victim already
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        peak = Math.max(peak, status().guard!.bufferedBytes);
      }
      await eventually(
        () => status().guard!.offences.bufferExceeded > before.offences.bufferExceeded,
        'a stream past the per-peer byte bound reset',
        5_000,
      );
      assert.ok(peak <= LIMITS.maxBufferedBytesPerPeer!, `buffered ${peak} bytes`);
      assert.deepEqual(await honestPing(), { pong: true, caller: honest.nodeId });
      // The rest stall and are reset too; nothing stays buffered.
      await eventually(() => status().guard!.bufferedBytes === 0, 'unfinished frames released', 5_000);
    } finally {
      await attacker.stop();
    }
  });

  it('a frame that stops half-way is reset after the stall deadline', async () => {
    const attacker = await attackerHost();
    try {
      const before = status().guard!.offences.stalledFrame;
      const [stream] = await openStreams(attacker, victimAddress, 1);
      const request = encodeFrame({ t: 'call', a: '/public/net/Ping', m: null });
      stream!.send(request.subarray(0, request.length - 3));
      const closed = new Promise<void>((resolve) =>
        stream!.addEventListener('close', () => resolve(), { once: true }),
      );
      await closed;
      assert.equal(status().guard!.offences.stalledFrame, before + 1);
    } finally {
      await attacker.stop();
    }
  });

  it('a plain call to a stream handler cannot make the victim collect an unbounded reply', async () => {
    let produced = 0;
    const unbind = victim.bus.bindStream('/public/test/Big', async function* () {
      for (; produced < 10_000; produced++) yield new Uint8Array(64 * 1024);
    });
    await assert.rejects(honest.bus.call(`/net/${victim.nodeId}/test/Big`, null), (error) =>
      isGolemError(error, 'BUS_REPLY_TOO_LARGE'),
    );
    unbind();
    // Collection stopped at the reply bound (16 MiB, 256 such items), not after 640 MB.
    assert.ok(produced <= 300, `the handler produced ${produced} items`);
    assert.deepEqual(await honestPing(), { pong: true, caller: honest.nodeId });
  });

  it('a gossip flood is throttled per peer before it is checked, and its origin is cut off', async () => {
    const flooder = await startNode(undefined, undefined, ALONE);
    const bansBefore = status().guard!.bans;
    try {
      let heard = 0;
      const unsubscribe = victim.bus.subscribe('test/flood', () => {
        heard++;
      });
      const honestHeard: string[] = [];
      const unsubscribeHonest = victim.bus.subscribe('test/honest', (message) => {
        honestHeard.push(message as string);
      });
      flooder.bus.subscribe('test/flood', () => {});
      honest.bus.subscribe('test/honest', () => {});
      await flooder.net.host!.dial(multiaddr(victimAddress));
      await eventually(
        () =>
          flooder.net.host!.services.pubsub.getSubscribers('golem-ts/bus/test/flood').length > 0 &&
          honest.net.host!.services.pubsub.getSubscribers('golem-ts/bus/test/honest').length > 0,
        'the victim subscribed as seen by its peers',
      );
      const started = Date.now();
      // The flood goes on (up to 10 s) until the victim cuts the flooder off: strikes come at most one a second.
      // The flooder shares this process with the victim: it yields often, as a process of its own would run
      // beside it (the victim reads one RPC per pass of the event loop, in fair turns).
      const cutOff = () => status().guard!.bans > bansBefore;
      for (let i = 0; !cutOff() && Date.now() - started < 10_000; i++) {
        await flooder.bus.publish('test/flood', { i, pad: 'x'.repeat(200) });
        if (i === 1_000) await honest.bus.publish('test/honest', 'still heard');
        if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await eventually(() => honestHeard.includes('still heard'), 'the honest broadcast during the flood');
      await eventually(cutOff, 'the flooder cut off', 1_000);
      const seconds = (Date.now() - started) / 1000;
      const bound = LIMITS.gossipBurst! + LIMITS.gossipPerSecond! * (seconds + 1);
      assert.ok(heard <= bound, `delivered ${heard} flood messages, bound ${bound}`);
      assert.ok(status().guard!.gossipThrottled > 0, JSON.stringify({ heard, guard: status().guard }));
      unsubscribe();
      unsubscribeHonest();
    } finally {
      await flooder.stop();
    }
  });

  it('gossip rejected by a topic validator is neither delivered nor forwarded, and counts against its sender', async () => {
    // sender → relaying node (honest, validates) → victim: the victim must never see what the relaying node rejects.
    const sender = await startNode(undefined, undefined, ALONE);
    const unbind = honest.bus.setBroadcastValidator<{ bad?: boolean }>('test/validated', (message) =>
      message?.bad === true ? 'reject' : 'accept',
    );
    try {
      const seen: unknown[] = [];
      const unsubscribe = victim.bus.subscribe('test/validated', (message) => {
        seen.push(message);
      });
      honest.bus.subscribe('test/validated', () => {});
      sender.bus.subscribe('test/validated', () => {});
      await sender.net.host!.dial(honest.net.host!.getMultiaddrs()[0]!);
      assert.equal(sender.net.host!.getConnections(victim.net.host!.peerId).length, 0, 'no direct link');
      await eventually(
        () => sender.net.host!.services.pubsub.getSubscribers('golem-ts/bus/test/validated').length > 0,
        'the relaying node subscribed',
      );
      const offencesBefore = honest.net.status().guard!.offences.invalidGossip;
      await sender.bus.publish('test/validated', { bad: true });
      await sender.bus.publish('test/validated', { good: true });
      await eventually(() => seen.length > 0, 'the good message forwarded to the victim');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(seen, [{ good: true }]);
      assert.equal(honest.net.status().guard!.offences.invalidGossip, offencesBefore + 1);
      unsubscribe();
    } finally {
      unbind();
      await sender.stop();
    }
  });
});

describe('a relay under a gossip flood', () => {
  it('passes a flood on no faster than its per-peer gossip rate', async () => {
    const { relay, address } = await startRelay();
    // Nodes that know only the relay: no direct links, no neighbourhood upkeep.
    const flooder = await startNode(address, [], { YA_NET_NEIGHBOURS: '0' });
    // The listener itself lets everything through, so what it hears is what the relay passed on.
    const listener = await startNode(
      address,
      [],
      { YA_NET_NEIGHBOURS: '0' },
      { limits: { gossipPerSecond: 1_000_000, gossipBurst: 1_000_000 } },
    );
    try {
      let heard = 0;
      listener.bus.subscribe('test/relayed-flood', () => {
        heard++;
      });
      flooder.bus.subscribe('test/relayed-flood', () => {});
      await eventually(
        () =>
          flooder.net.host!.services.pubsub.getSubscribers('golem-ts/bus/test/relayed-flood').length > 0 &&
          relay.host!.services.pubsub.getSubscribers('golem-ts/bus/test/relayed-flood').length >= 2,
        'the relay carries the topic',
      );
      const started = Date.now();
      for (let i = 0; i < 1_500; i++) {
        await flooder.bus.publish('test/relayed-flood', { i });
        if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const seconds = (Date.now() - started) / 1000;
      // The relay's defaults: burst 500, 50 a second.
      const bound = 500 + 50 * (seconds + 1);
      assert.ok(heard > 0, 'gossip passes the relay');
      assert.ok(heard <= bound, `the relay passed on ${heard} of 1,500 messages (bound ${bound.toFixed(0)})`);
    } finally {
      await Promise.all([flooder.stop(), listener.stop()]);
      await relay.stop();
    }
  });
});

describe('lost neighbours', () => {
  it('two nodes whose connection drops find each other again within 10 s', async () => {
    const a = await startNode();
    const b = await startNode();
    try {
      const bAddress = b.net.status().listenAddrs[0]!;
      await a.net.host!.dial(multiaddr(bAddress));
      await eventually(() => a.net.peers().some((p) => p.nodeId === b.nodeId), 'connected');
      for (const connection of a.net.host!.getConnections(b.net.host!.peerId)) await connection.close();
      await eventually(() => !a.net.peers().some((p) => p.nodeId === b.nodeId), 'disconnected', 2_000);
      const dropped = Date.now();
      await eventually(
        () => a.net.peers().some((p) => p.nodeId === b.nodeId),
        'reconnected within 10 s',
        10_000,
      );
      assert.ok(Date.now() - dropped < 10_000);
      assert.deepEqual(await a.bus.call(`/net/${b.nodeId}/net/Ping`), { pong: true, caller: a.nodeId });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('net listen port already in use', () => {
  it('fails with NET_ADDRESS_IN_USE naming the address, the flag and the variable', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', () => resolve()));
    const port = (holder.address() as { port: number }).port;
    try {
      await assert.rejects(startNode(undefined, [`/ip4/127.0.0.1/tcp/${port}`]), (error) => {
        assert.ok(isGolemError(error, 'NET_ADDRESS_IN_USE'), String(error));
        assert.deepEqual(error.details, {
          address: `/ip4/127.0.0.1/tcp/${port}`,
          flag: '--net-listen',
          env: 'YA_NET_LISTEN',
        });
        return true;
      });
    } finally {
      holder.close();
    }
  });
});
