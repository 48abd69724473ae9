/** Two markets on a memory network, and the negotiation that brings them to an agreement. */
import assert from 'node:assert/strict';
import { LocalBus, type MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { type Database, openDatabase } from '../../../../src/core/db/index.ts';
import { IdentityService } from '../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { MarketService, type MarketServiceOptions } from '../../../../src/core/market/index.ts';

export interface Node {
  bus: LocalBus;
  db: Database;
  market: MarketService;
  nodeId: string;
  /** The market's clock (milliseconds). */
  now: () => number;
  stop(): Promise<void>;
}

export async function node(
  network: MemoryNetwork,
  db: Database = openDatabase(':memory:'),
  options: MarketServiceOptions = {},
): Promise<Node> {
  const bus = new LocalBus();
  const identity = new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) });
  await identity.start();
  const market = new MarketService(
    { bus, db, logger: silentLogger },
    { ...options, discovery: { antiEntropyMs: 0, ...options.discovery } },
  );
  await market.start();
  network.join(bus);
  return {
    bus,
    db,
    market,
    nodeId: bus.nodeId!,
    now: options.clock ?? Date.now,
    stop: async () => {
      await market.stop();
      await identity.stop();
    },
  };
}

export const offerBody = {
  properties: { 'golem.node.id.name': 'prov', 'golem.inf.mem.gib': 8, 'golem.com.pricing.model': 'linear' },
  constraints: '(golem.srv.comp.expiration>0)',
};
export const demandBody = (expiration = Date.now() + 600_000) => ({
  properties: { 'golem.srv.comp.expiration': expiration, 'golem.node.debug.subnet': 'test' },
  constraints: '(golem.inf.mem.gib>=4)',
});

export type Event = { eventType: string; proposal?: { proposalId: string; state: string; issuerId: string } };

export async function nextEvent(
  market: MarketService,
  owner: string,
  sub: string,
  role: 'requestor' | 'provider',
) {
  const events = (await market.collectEvents(owner, sub, role, 5_000, 10)) as unknown as Event[];
  assert.ok(events.length > 0, 'an event arrives');
  return events;
}

/** Provider and requestor negotiate up to a Pending agreement; returns ids. */
export async function negotiate(provider: Node, requestor: Node, validForMs = 600_000) {
  const offerId = await provider.market.subscribeOffer(provider.nodeId, offerBody);
  const demandId = requestor.market.subscribeDemand(requestor.nodeId, demandBody());
  const [initial] = await nextEvent(requestor.market, requestor.nodeId, demandId, 'requestor');
  assert.equal(initial!.eventType, 'ProposalEvent');
  assert.equal(initial!.proposal!.state, 'Initial');
  assert.equal(initial!.proposal!.issuerId, provider.nodeId);
  const counterId = await requestor.market.counterProposal(
    requestor.nodeId,
    demandId,
    initial!.proposal!.proposalId,
    'requestor',
    demandBody(),
  );
  const [atProvider] = await nextEvent(provider.market, provider.nodeId, offerId, 'provider');
  assert.equal(atProvider!.proposal!.state, 'Draft');
  const providerCounterId = await provider.market.counterProposal(
    provider.nodeId,
    offerId,
    atProvider!.proposal!.proposalId,
    'provider',
    offerBody,
  );
  const [draft] = await nextEvent(requestor.market, requestor.nodeId, demandId, 'requestor');
  assert.equal(draft!.proposal!.state, 'Draft');
  const agreementId = requestor.market.createAgreement(requestor.nodeId, {
    proposalId: draft!.proposal!.proposalId,
    validTo: new Date(requestor.now() + validForMs).toISOString(),
  });
  return { offerId, demandId, counterId, providerCounterId, agreementId, initial: initial! };
}

/** A clock that moves only when told: expiry is driven, never waited for. */
export function manualClock(start = Date.now()) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

/** A gate a test opens by hand: the protocol waits at `point` until `open()`; `reached` resolves when it got there. */
export function holdAt(point: string) {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => {
    arrive = resolve;
  });
  const opened = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    reached,
    open: () => release(),
    gate: (at: string) => {
      if (at !== point) return;
      arrive();
      return opened;
    },
  };
}
