/**
 * The market across real daemons (a relay, two providers, one requestor), driven by the official typed
 * ya-ts-client on both sides: offers propagate, demands match, proposals are countered and rejected, agreements
 * are signed, approved and terminated, and a restart loses nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MarketApi } from 'ya-ts-client';
import { ControlConnection } from '../../src/core/control/index.ts';
import { isGolemError } from '../../src/core/errors/index.ts';
import { marketAddressAt, NegotiationAddress } from '../../src/core/model/market.ts';
import {
  api,
  type DaemonHandle,
  type RelayHandle,
  readJson,
  runCli,
  startDaemon,
  startRelayProcess,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';

type Client = InstanceType<typeof MarketApi.Client>;
type ProposalEvent = {
  eventType: string;
  proposal?: {
    proposalId: string;
    state: string;
    issuerId: string;
    properties: Record<string, unknown>;
    prevProposalId?: string;
  };
  proposalId?: string;
  agreement?: { agreementId: string };
};

/** ya-ts-client types ids as `string | {message}`: the daemon must answer a plain JSON string. */
function asId(value: unknown): string {
  assert.equal(typeof value, 'string', `expected an id, got ${JSON.stringify(value)}`);
  return value as string;
}

const client = (daemon: DaemonHandle): Client =>
  new MarketApi.Client({ BASE: `${daemon.apiUrl}/market-api/v1`, TOKEN: daemon.appKey });

const offerBody = (name: string, memory: number) => ({
  properties: {
    golem: {
      node: { id: { name }, debug: { subnet: 'e2e-market' } },
      inf: { mem: { gib: memory }, cpu: { threads: 4 } },
      runtime: { name: 'vm' },
      com: {
        pricing: { model: { '@tag': 'linear', linear: { coeffs: [0.1, 0.2, 0.0] } } },
        usage: { vector: ['golem.usage.cpu_sec', 'golem.usage.duration_sec'] },
      },
    },
  },
  constraints: '(&(golem.node.debug.subnet=e2e-market)(golem.srv.comp.expiration>0))',
});

const demandBody = {
  properties: {
    'golem.node.debug.subnet': 'e2e-market',
    'golem.srv.comp.expiration': Date.now() + 3_600_000,
  },
  constraints: '(&(golem.node.debug.subnet=e2e-market)(golem.runtime.name=vm)(golem.inf.mem.gib>=4))',
};

async function collect(
  collector: () => Promise<unknown[]>,
  want: (events: ProposalEvent[]) => boolean,
  what: string,
): Promise<ProposalEvent[]> {
  const seen: ProposalEvent[] = [];
  await eventually(
    async () => {
      seen.push(...((await collector()) as ProposalEvent[]));
      return want(seen);
    },
    what,
    20_000,
  );
  return seen;
}

describe('market across daemons, through ya-ts-client', () => {
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let bigProvider: DaemonHandle;
  let smallProvider: DaemonHandle;

  before(async () => {
    relay = await startRelayProcess();
    const env = { YA_NET_RELAY: relay.addresses[0]! };
    [requestor, bigProvider, smallProvider] = await Promise.all([
      startDaemon({ env }),
      startDaemon({ env }),
      startDaemon({ env }),
    ]);
  });
  after(async () => {
    await Promise.all([requestor, bigProvider, smallProvider].map((d) => d?.stop()));
    await relay?.stop();
  });

  /**
   * A fresh negotiation of its own for a test that needs an agreement: `provider` offers under a unique name, the
   * requestor demands, both counter once, the requestor creates the agreement (state Proposal).
   */
  async function negotiated(provider: DaemonHandle, name: string) {
    const prov = client(provider).provider;
    const req = client(requestor).requestor;
    const offerId = asId(await prov.subscribeOffer(offerBody(name, 8)));
    const demandId = asId(await req.subscribeDemand(demandBody));
    const find = async (
      collector: () => Promise<unknown[]>,
      wanted: (e: ProposalEvent) => boolean | undefined,
      what: string,
    ) => (await collect(collector, (events) => events.some(wanted), what)).find(wanted)!.proposal!;
    const initial = await find(
      () => req.collectOffers(demandId, 1, 10),
      (e) => e.proposal?.state === 'Initial' && e.proposal.properties['golem.node.id.name'] === name,
      `the initial proposal of ${name}`,
    );
    const counter = asId(await req.counterProposalDemand(demandId, initial.proposalId, demandBody));
    const draft = await find(
      () => prov.collectDemands(offerId, 1, 10),
      (e) => e.proposal?.proposalId === `P-${counter.slice(2)}`,
      'the counter on the provider',
    );
    const providerCounter = asId(
      await prov.counterProposalOffer(offerId, draft.proposalId, offerBody(name, 8)),
    );
    const fromProvider = await find(
      () => req.collectOffers(demandId, 1, 10),
      (e) => e.proposal?.proposalId === `R-${providerCounter.slice(2)}`,
      'the provider counter',
    );
    const validTo = new Date(Date.now() + 3_600_000).toISOString();
    return {
      offerId,
      agreementId: asId(await req.createAgreement({ proposalId: fromProvider.proposalId, validTo })),
    };
  }

  it('negotiates, rejects, re-negotiates, agrees, terminates, and survives restarts', async () => {
    const bigOfferId = asId(await client(bigProvider).provider.subscribeOffer(offerBody('big', 8)));
    await client(smallProvider).provider.subscribeOffer(offerBody('small', 1));
    assert.match(bigOfferId, /^[0-9a-f]{32}-[0-9a-f]{64}$/);

    // The offer reaches the requestor's node; only the big provider matches the demand.
    const req = client(requestor).requestor;
    const demandId = asId(await req.subscribeDemand(demandBody));
    const initial = await collect(
      () => req.collectOffers(demandId, 1, 10),
      (events) => events.some((e) => e.proposal?.state === 'Initial'),
      'an initial proposal',
    );
    const first = initial.find((e) => e.proposal?.state === 'Initial')!.proposal!;
    assert.equal(first.issuerId, bigProvider.nodeId);
    assert.match(first.proposalId, /^R-[0-9a-f]{64}$/);
    assert.equal(initial.filter((e) => e.proposal?.issuerId === smallProvider.nodeId).length, 0);

    // Requestor counters; the provider sees it, rejects it (not final).
    const counter1 = asId(await req.counterProposalDemand(demandId, first.proposalId, demandBody));
    const prov = client(bigProvider).provider;
    const atProvider = await collect(
      () => prov.collectDemands(bigOfferId, 1, 10),
      (events) => events.some((e) => e.proposal?.state === 'Draft'),
      'the counter on the provider',
    );
    const received = atProvider.find((e) => e.proposal?.state === 'Draft')!.proposal!;
    assert.equal(received.proposalId, `P-${counter1.slice(2)}`);
    assert.equal(received.issuerId, requestor.nodeId);
    await prov.rejectProposalDemand(bigOfferId, received.proposalId, {
      message: 'try again',
      'golem.proposal.rejection.is-final': false,
    });
    const rejection = await collect(
      () => req.collectOffers(demandId, 1, 10),
      (events) => events.some((e) => e.eventType === 'ProposalRejectedEvent'),
      'the rejection',
    );
    assert.equal(rejection.find((e) => e.eventType === 'ProposalRejectedEvent')!.proposalId, counter1);

    // A rejected proposal cannot be promoted to an agreement or countered again.
    await assert.rejects(
      req.counterProposalDemand(demandId, first.proposalId, demandBody),
      (e: { status?: number }) => e.status === 410,
    );

    // The provider answers a fresh negotiation: requestor counters the initial again via a new demand.
    const demand2 = asId(await req.subscribeDemand(demandBody));
    const initial2 = (
      await collect(
        () => req.collectOffers(demand2, 1, 10),
        (events) => events.some((e) => e.proposal?.state === 'Initial'),
        'a second initial',
      )
    ).find((e) => e.proposal?.state === 'Initial')!.proposal!;
    const counter2 = asId(await req.counterProposalDemand(demand2, initial2.proposalId, demandBody));
    const draft2 = (
      await collect(
        () => prov.collectDemands(bigOfferId, 1, 10),
        (events) => events.some((e) => e.proposal?.proposalId === `P-${counter2.slice(2)}`),
        'second counter',
      )
    ).find((e) => e.proposal?.proposalId === `P-${counter2.slice(2)}`)!.proposal!;
    const providerCounter = asId(
      await prov.counterProposalOffer(bigOfferId, draft2.proposalId, offerBody('big', 8)),
    );
    const fromProvider = (
      await collect(
        () => req.collectOffers(demand2, 1, 10),
        (events) => events.some((e) => e.proposal?.state === 'Draft'),
        'provider counter',
      )
    ).find((e) => e.proposal?.state === 'Draft')!.proposal!;
    assert.equal(fromProvider.proposalId, `R-${providerCounter.slice(2)}`);
    assert.equal(fromProvider.prevProposalId, counter2);

    // An initial proposal cannot become an agreement; the provider's draft can.
    const validTo = new Date(Date.now() + 3_600_000).toISOString();
    await assert.rejects(
      req.createAgreement({ proposalId: initial2.proposalId, validTo }),
      (e: { status?: number }) => e.status === 400,
    );
    const agreementId = asId(await req.createAgreement({ proposalId: fromProvider.proposalId, validTo }));
    assert.match(agreementId, /^[0-9a-f]{64}$/);
    await assert.rejects(
      req.createAgreement({ proposalId: fromProvider.proposalId, validTo }),
      (e: { status?: number }) => e.status === 409,
    );

    // Restart the requestor between creation and confirmation: nothing is lost.
    await requestor.stop();
    requestor = await requestor.restart();
    const req2 = client(requestor).requestor;
    assert.equal((await req2.getAgreement(agreementId)).state, 'Proposal');

    const appSessionId = 'e2e-session';
    await req2.confirmAgreement(agreementId, appSessionId);
    const agreementEvent = await collect(
      () => prov.collectDemands(bigOfferId, 1, 10),
      (events) => events.some((e) => e.eventType === 'AgreementEvent'),
      'the agreement on the provider',
    );
    assert.equal(
      agreementEvent.find((e) => e.eventType === 'AgreementEvent')!.agreement!.agreementId,
      agreementId,
    );

    // Restart the provider with the agreement pending.
    await bigProvider.stop();
    bigProvider = await bigProvider.restart();
    const prov2 = client(bigProvider).provider;
    assert.equal((await prov2.getAgreement(agreementId)).state, 'Pending');

    const waiting = req2.waitForApproval(agreementId, 30);
    await prov2.approveAgreement(agreementId, 'provider-session', 10);
    await waiting;
    const approved = await req2.getAgreement(agreementId);
    assert.equal(approved.state, 'Approved');
    assert.match(String(approved.proposedSignature), /^0x[0-9a-f]{130}$/);
    assert.match(String(approved.approvedSignature), /^0x[0-9a-f]{130}$/);
    assert.match(String(approved.committedSignature), /^0x[0-9a-f]{130}$/);
    assert.equal((await prov2.getAgreement(agreementId)).state, 'Approved');

    await req2.terminateAgreement(agreementId, { message: 'Finished' });
    const events = (await req2.collectAgreementEvents(0, '2016-01-01T00:00:00Z', 100, appSessionId)) as {
      eventType: string;
      terminator?: string;
      reason?: { message: string };
    }[];
    assert.deepEqual(
      events.map((e) => e.eventType),
      ['AgreementApprovedEvent', 'AgreementTerminatedEvent'],
    );
    assert.equal(events[1]!.terminator, 'Requestor');
    await eventually(
      async () => (await prov2.getAgreement(agreementId)).state === 'Terminated',
      'termination on the provider',
    );
    const providerEvents = (await prov2.collectAgreementEvents(0, '2016-01-01T00:00:00Z', 100)) as {
      eventType: string;
      terminator?: string;
      reason?: { message: string };
    }[];
    assert.equal(providerEvents.at(-1)!.eventType, 'AgreementTerminatedEvent');
    assert.equal(providerEvents.at(-1)!.reason?.message, 'Finished');
    await assert.rejects(
      req2.terminateAgreement(agreementId, { message: 'again' }),
      (e: { status?: number }) => e.status === 410,
    );
  });

  it('answers collect on a removed demand with 404 and refuses bad constraints with 400', async () => {
    const req = client(requestor).requestor;
    const demandId = asId(await req.subscribeDemand(demandBody));
    await req.unsubscribeDemand(demandId);
    await assert.rejects(req.collectOffers(demandId, 0, 10), (e: { status?: number }) => e.status === 404);
    const bad = await api(requestor, '/market-api/v1/demands', {
      method: 'POST',
      body: JSON.stringify({ properties: {}, constraints: '(&(a=1)' }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await readJson(bad)).code, 'MARKET_BAD_CONSTRAINTS');
  });

  it('scans offers by constraints, as JSON pages and as server-sent events, each offer once', async () => {
    const offerId = asId(
      await client(smallProvider).provider.subscribeOffer(offerBody('scan-target', 2) as never),
    );
    const start = async () => {
      const created = await api(requestor, '/market-api/v1/scan', {
        method: 'POST',
        body: JSON.stringify({ type: 'offer', constraints: '(golem.node.id.name=scan-target)' }),
      });
      assert.equal(created.status, 201);
      return asId(await created.json());
    };
    const scanId = await start();
    type ScannedOffer = { offerId: string; providerId: string; properties: Record<string, unknown> };
    const page = async (id: string, timeout: number) => {
      const response = await api(requestor, `/market-api/v1/scan/${id}/events?timeout=${timeout}`);
      assert.equal(response.status, 200);
      return (await response.json()) as ScannedOffer[];
    };
    const found = await page(scanId, 20);
    assert.deepEqual(
      found.map((offer) => [offer.offerId, offer.providerId, offer.properties['golem.node.id.name']]),
      [[offerId, smallProvider.nodeId, 'scan-target']],
    );
    assert.deepEqual(await page(scanId, 0.3), [], 'an offer is reported once per scan');

    const streamed = await start();
    const events = await api(requestor, `/market-api/v1/scan/${streamed}/events`, {
      headers: { accept: 'text/event-stream' },
      signal: AbortSignal.timeout(20_000),
    });
    assert.equal(events.headers.get('content-type'), 'text/event-stream');
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const [kind, data] = text.split('\n');
    assert.equal(kind, 'event: offer');
    assert.equal((JSON.parse(data!.slice('data: '.length)) as ScannedOffer).offerId, offerId);

    const removed = await api(requestor, `/market-api/v1/scan/${scanId}`, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    assert.equal((await api(requestor, `/market-api/v1/scan/${scanId}/events`)).status, 404);
    const wrongType = await api(requestor, '/market-api/v1/scan', {
      method: 'POST',
      body: JSON.stringify({ type: 'demand' }),
    });
    assert.equal(wrongType.status, 400);
    assert.equal((await readJson(wrongType)).code, 'MARKET_BAD_SCAN');
    await client(smallProvider).provider.unsubscribeOffer(offerId);
  });

  it('refuses negotiation messages from anyone but the counterparty', async () => {
    // The small provider pretends to approve and terminate an agreement it is not part of.
    const { agreementId } = await negotiated(bigProvider, 'counterparty-check');
    await client(requestor).requestor.confirmAgreement(agreementId);
    const control = await ControlConnection.connect(`${smallProvider.dataDir}/yagna.sock`);
    try {
      await assert.rejects(
        control.call(marketAddressAt(requestor.nodeId, NegotiationAddress.AgreementTerminated), {
          agreementId,
          reason: null,
          terminatedAt: new Date().toISOString(),
          signature: '0x00',
        }),
        (e) => isGolemError(e, 'MARKET_NOT_COUNTERPARTY'),
      );
      await assert.rejects(
        control.call(marketAddressAt(requestor.nodeId, NegotiationAddress.AgreementApproved), {
          agreementId,
          approvedSignature: '0x00',
          approvedAt: new Date().toISOString(),
        }),
        (e) => isGolemError(e, 'MARKET_NOT_COUNTERPARTY'),
      );
      assert.equal((await client(requestor).requestor.getAgreement(agreementId)).state, 'Pending');
    } finally {
      await control.close();
    }
  });

  it('lists market state in the CLI and explains why a demand matches nothing', async () => {
    // An agreement of this test's own, taken to its end.
    const { agreementId } = await negotiated(bigProvider, 'cli-listing');
    const req = client(requestor).requestor;
    await req.confirmAgreement(agreementId);
    const waiting = req.waitForApproval(agreementId, 30);
    await client(bigProvider).provider.approveAgreement(agreementId, undefined, 10);
    await waiting;
    await req.terminateAgreement(agreementId, { message: 'listed' });
    const offers = runCli(['market', 'offers', '--json'], { dataDir: requestor.dataDir });
    assert.equal(offers.code, 0, offers.stderr);
    assert.ok(
      (JSON.parse(offers.stdout) as { providerId: string }[]).some(
        (o) => o.providerId === bigProvider.nodeId,
      ),
    );
    const agreements = runCli(['market', 'agreements', '--json'], { dataDir: requestor.dataDir });
    assert.ok(
      (JSON.parse(agreements.stdout) as { agreementId: string; state: string }[]).some(
        (a) => a.agreementId === agreementId && a.state === 'Terminated',
      ),
    );

    const props = JSON.stringify(demandBody.properties);
    const matching = runCli(
      [
        'market',
        'scan',
        '--properties',
        props,
        '--constraints',
        '(&(golem.node.debug.subnet=e2e-market)(golem.inf.mem.gib>=4))',
      ],
      { dataDir: requestor.dataDir },
    );
    assert.equal(matching.code, 0, matching.stderr);
    assert.match(matching.stdout, new RegExp(bigProvider.nodeId));
    assert.match(matching.stdout, /start 0, 0\.1\/cpu_sec, 0\.2\/duration_sec/);

    const none = runCli(
      [
        'market',
        'scan',
        '--properties',
        props,
        '--constraints',
        '(&(golem.node.debug.subnet=e2e-market)(golem.inf.mem.gib>=64))',
      ],
      { dataDir: requestor.dataDir },
    );
    assert.match(none.stdout, /no offer matches/);
    assert.match(none.stdout, /fails +\(golem\.inf\.mem\.gib>=64\): golem\.inf\.mem\.gib is 8/);
  });
});
