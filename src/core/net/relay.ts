import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TopicValidatorResult } from '@libp2p/gossipsub';
import { peerIdFromString } from '@libp2p/peer-id';
import { fromHex, nodeIdFromSecret, toHex } from '../crypto/index.ts';
import type { Logger } from '../log/index.ts';
import { decodeBody } from './codec.ts';
import { createHost, DEFAULT_RELAY_LIMITS, guardGossip, type Host, type RelayLimits } from './host.ts';
import { tryNodeIdOfPeer } from './ids.ts';
import { answerLookup, LOOKUP_PROTOCOL, serveLookup } from './lookup.ts';
import { PeerGuard, type PeerLimits } from './peer-guard.ts';
import { GOSSIP_PREFIX } from './service.ts';

/** A relay's verdict on a gossip message of one topic (the bus message, decoded), before it forwards it. */
export type RelayGossipCheck = (message: unknown) => 'accept' | 'ignore' | 'reject';

export const DEFAULT_RELAY_LISTEN = ['/ip4/0.0.0.0/tcp/7477', '/ip4/0.0.0.0/tcp/7478/ws'];

export interface RelayOptions {
  dataDir: string;
  listen: string[];
  logger: Logger;
  limits?: Partial<RelayLimits>;
  /** Per-peer bounds of the gossip the relay forwards (defaults: DEFAULT_PEER_LIMITS). */
  peerLimits?: Partial<PeerLimits>;
  /**
   * Checks of gossip the relay forwards, by bus topic (the daemon's `net relay` passes the market's offer check):
   * a message rejected here is not forwarded and counts against the peer that sent it, so a relay does not pass a
   * flood of garbage on, and its neighbours do not score it down (and drop honest offers with it) for doing so.
   */
  validators?: Record<string, RelayGossipCheck>;
}

/**
 * The relay/bootstrap role (Golem's relay server): accepts circuit relay v2 reservations within limits, relays
 * for nodes that cannot be reached directly, answers node lookups for every node connected to it, and carries
 * gossip for every topic its peers use so that broadcasts reach nodes that only know the relay.
 */
export class RelayServer {
  #options: RelayOptions;
  #host: Host | undefined;
  #log: Logger;
  #nodeId = '';

  constructor(options: RelayOptions) {
    this.#options = options;
    this.#log = options.logger.child('relay');
  }

  get host(): Host | undefined {
    return this.#host;
  }

  get nodeId(): string {
    return this.#nodeId;
  }

  /** Addresses nodes put in `YA_NET_RELAY` (with the relay's peer id). */
  addresses(): string[] {
    return this.#host?.getMultiaddrs().map(String) ?? [];
  }

  async start(): Promise<void> {
    const secret = loadOrCreateKey(this.#options.dataDir);
    this.#nodeId = nodeIdFromSecret(secret);
    // The relay forwards gossip between nodes that know only it: a flooding peer is throttled and cut off here
    // too, so the relay does not pass a flood on at full speed.
    const guard = new PeerGuard({
      limits: this.#options.peerLimits,
      log: this.#log,
      onBan: (peer) => {
        for (const connection of this.#host?.getConnections(peerIdFromString(peer)) ?? [])
          connection.abort(new Error('cut off for abuse'));
      },
    });
    const host = await createHost({
      secret,
      listen: this.#options.listen,
      relay: { ...DEFAULT_RELAY_LIMITS, ...this.#options.limits },
      isBanned: (peer) => guard.isBanned(peer),
    });
    this.#host = host;
    guardGossip(host, guard);
    for (const [topic, check] of Object.entries(this.#options.validators ?? {})) {
      host.services.pubsub.topicValidators.set(GOSSIP_PREFIX + topic, async (source, message) => {
        let verdict: 'accept' | 'ignore' | 'reject' = 'reject';
        if (message.type === 'signed' && tryNodeIdOfPeer(message.from) !== undefined) {
          try {
            verdict = check((decodeBody(message.data) as { m?: unknown }).m);
          } catch {
            verdict = 'reject';
          }
        }
        if (verdict === 'reject') {
          guard.strike(source.toString(), 'invalidGossip');
          return TopicValidatorResult.Reject;
        }
        return verdict === 'accept' ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
      });
    }
    await host.handle(
      LOOKUP_PROTOCOL,
      (stream) => serveLookup(stream, (request) => answerLookup(host, undefined, request)),
      {
        runOnLimitedConnection: true,
      },
    );
    // Carry every topic a peer subscribes to, so the relay forwards gossip between nodes that know only it.
    host.services.pubsub.addEventListener('subscription-change', (event) => {
      for (const { topic, subscribe } of event.detail.subscriptions) {
        if (subscribe && !host.services.pubsub.getTopics().includes(topic))
          host.services.pubsub.subscribe(topic);
      }
    });
    host.addEventListener('peer:connect', (event) =>
      this.#log.debug('node connected', { nodeId: tryNodeIdOfPeer(event.detail) }),
    );
    this.#log.info('relay started', { nodeId: this.#nodeId, addresses: this.addresses() });
  }

  async stop(): Promise<void> {
    await this.#host?.stop();
    this.#host = undefined;
  }
}

/** The relay's own key: `<dataDir>/relay.key` (hex, mode 0600), created at first start. */
function loadOrCreateKey(dataDir: string): Uint8Array {
  const path = join(dataDir, 'relay.key');
  if (existsSync(path)) return fromHex(readFileSync(path, 'utf8').trim());
  mkdirSync(dataDir, { recursive: true });
  const secret = new Uint8Array(randomBytes(32));
  writeFileSync(path, `${toHex(secret)}\n`, { mode: 0o600 });
  return secret;
}
