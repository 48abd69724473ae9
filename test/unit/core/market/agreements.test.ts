import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import {
  AGREEMENT_EVENTS_TOPIC,
  type AgreementEvent,
  type AgreementView,
  type GetAgreement,
  MarketLocalAddress,
  marketAddressAt,
  NegotiationAddress,
} from '../../../../src/core/model/market.ts';
import { manualClock, type Node, negotiate, node } from './support.ts';

/** Every AgreementEvent a node publishes, in order. */
function recordEvents(at: Node): AgreementEvent[] {
  const events: AgreementEvent[] = [];
  at.bus.subscribe<AgreementEvent>(AGREEMENT_EVENTS_TOPIC, (event) => {
    events.push(event);
  });
  return events;
}

const getAgreement = (at: Node, message: GetAgreement) =>
  at.bus.call<AgreementView>(MarketLocalAddress.GetAgreement, message);

describe('the market contract: GetAgreement and the agreement events topic', () => {
  it('serves the signed terms, parties and state to other modules, and publishes approval and termination on both nodes', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    const providerEvents = recordEvents(provider);
    const requestorEvents = recordEvents(requestor);
    try {
      const { agreementId, offerId, demandId } = await negotiate(provider, requestor);
      const proposed = await getAgreement(requestor, { agreementId });
      assert.equal(proposed.state, 'Proposal');
      assert.equal(proposed.role, 'requestor');
      await assert.rejects(getAgreement(provider, { agreementId }), {
        code: 'MARKET_AGREEMENT_NOT_FOUND',
      });
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, 'session-r');
      await provider.market.approveAgreement(provider.nodeId, agreementId, 'session-p');

      for (const [at, role, session] of [
        [requestor, 'requestor', 'session-r'],
        [provider, 'provider', 'session-p'],
      ] as const) {
        const view = await getAgreement(at, { agreementId });
        assert.equal(view.role, role);
        // golem-js reads its invoices and debit notes through feeds filtered by this session.
        assert.equal(view.appSessionId, session);
        assert.equal(view.state, 'Approved');
        assert.equal(view.requestorId, requestor.nodeId);
        assert.equal(view.providerId, provider.nodeId);
        assert.equal(view.offerId, offerId);
        assert.equal(view.demandId, demandId);
        assert.equal(view.offerProperties['golem.inf.mem.gib'], 8);
        assert.equal(view.demandProperties['golem.node.debug.subnet'], 'test');
        assert.equal(view.demandConstraints, '(golem.inf.mem.gib>=4)');
        assert.ok(view.approvedAt !== null);
        assert.equal(view.terminatedBy, null);
      }
      await assert.rejects(getAgreement(requestor, { agreementId, role: 'provider' }), {
        code: 'MARKET_AGREEMENT_NOT_FOUND',
      });
      await assert.rejects(getAgreement(requestor, { agreementId: 42 } as never), {
        code: 'MARKET_BAD_REQUEST',
      });

      await requestor.market.terminateAgreement(requestor.nodeId, agreementId, { message: 'finished' });
      for (const at of [requestor, provider]) {
        const view = await getAgreement(at, { agreementId });
        assert.equal(view.state, 'Terminated');
        assert.equal(view.terminatedBy, 'requestor');
        assert.deepEqual(view.terminationReason, { message: 'finished' });
        assert.ok(view.terminatedAt !== null);
      }
      const shape = (events: AgreementEvent[]) =>
        events.map((e) => [e.type, e.role, e.agreementId, 'terminatedBy' in e ? e.terminatedBy : undefined]);
      assert.deepEqual(shape(requestorEvents), [
        ['approved', 'requestor', agreementId, undefined],
        ['terminated', 'requestor', agreementId, 'requestor'],
      ]);
      assert.deepEqual(shape(providerEvents), [
        ['approved', 'provider', agreementId, undefined],
        ['terminated', 'provider', agreementId, 'requestor'],
      ]);
      const terminated = providerEvents[1] as Extract<AgreementEvent, { type: 'terminated' }>;
      assert.deepEqual(terminated.reason, { message: 'finished' });

      // The same notice again (a sender retrying after a lost answer): acknowledged, and nothing changes.
      const sent = requestor.market.agreements.terminationReason(requestor.nodeId, agreementId);
      await requestor.bus.call(marketAddressAt(provider.nodeId, NegotiationAddress.AgreementTerminated), {
        agreementId,
        reason: sent.reason,
        terminatedAt: sent.eventDate,
        signature: sent.signature,
      });
      assert.equal(providerEvents.length, 2);
      assert.equal((await getAgreement(provider, { agreementId })).terminatedBy, 'requestor');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  for (const restart of [false, true])
    it(`tells an unreachable provider of a termination once it is back${restart ? ', across a restart of the requestor' : ''}`, async () => {
      const network = new MemoryNetwork();
      const [provider, first] = await Promise.all([node(network), node(network)]);
      let requestor = first;
      try {
        const { agreementId } = await negotiate(provider, requestor);
        await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
        await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);

        network.leave(provider.nodeId);
        await requestor.market.terminateAgreement(requestor.nodeId, agreementId, { message: 'gone' });
        assert.equal((await getAgreement(requestor, { agreementId })).state, 'Terminated');
        assert.equal((await getAgreement(provider, { agreementId })).state, 'Approved');
        if (restart) {
          await requestor.stop();
          network.leave(requestor.nodeId);
          requestor = await node(network, requestor.db);
        }
        network.join(provider.bus);

        // The first retry is a second later.
        for (
          let waited = 0;
          (await getAgreement(provider, { agreementId })).state !== 'Terminated';
          waited += 100
        ) {
          assert.ok(waited < 15_000, 'the provider never heard of the termination');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        for (const at of [requestor, provider]) {
          const view = await getAgreement(at, { agreementId });
          assert.equal(view.state, 'Terminated');
          assert.equal(view.terminatedBy, 'requestor');
          assert.deepEqual(view.terminationReason, { message: 'gone' });
        }
      } finally {
        await Promise.all([provider.stop(), requestor.stop()]);
      }
    });

  it('publishes rejection, cancellation and expiry where they happen, with the reason given', async () => {
    const clock = manualClock();
    const endings: [
      string,
      (provider: Node, requestor: Node, agreementId: string) => Promise<void>,
      unknown,
    ][] = [
      [
        'rejected',
        (provider, _, agreementId) =>
          provider.market.rejectAgreement(provider.nodeId, agreementId, { message: 'full' }),
        { message: 'full' },
      ],
      [
        'cancelled',
        (_, requestor, agreementId) =>
          requestor.market.cancelAgreement(requestor.nodeId, agreementId, { message: 'changed mind' }),
        { message: 'changed mind' },
      ],
      [
        'expired',
        async (provider, requestor) => {
          clock.advance(60_000);
          requestor.market.agreements.expireDue();
          provider.market.agreements.expireDue();
        },
        undefined,
      ],
    ];
    for (const [type, end, reason] of endings) {
      const network = new MemoryNetwork();
      const [provider, requestor] = await Promise.all([
        node(network, undefined, { clock: clock.now }),
        node(network, undefined, { clock: clock.now }),
      ]);
      const providerEvents = recordEvents(provider);
      const requestorEvents = recordEvents(requestor);
      try {
        const { agreementId } = await negotiate(provider, requestor, 60_000);
        await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
        await end(provider, requestor, agreementId);
        const shape = (events: AgreementEvent[]) =>
          events.map((e) => [e.type, e.agreementId, 'reason' in e ? e.reason : undefined]);
        assert.deepEqual(shape(requestorEvents), [[type, agreementId, reason]], `requestor: ${type}`);
        assert.deepEqual(shape(providerEvents), [[type, agreementId, reason]], `provider: ${type}`);
        assert.equal(
          (await getAgreement(provider, { agreementId })).state,
          type[0]!.toUpperCase() + type.slice(1),
        );
      } finally {
        await Promise.all([provider.stop(), requestor.stop()]);
      }
    }
  });

  it('refuses a reason larger than it stores, and the agreement stays as it was', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      await assert.rejects(
        provider.market.rejectAgreement(provider.nodeId, agreementId, { message: 'x'.repeat(5_000) }),
        { code: 'MARKET_TOO_LARGE', httpStatus: 413 },
      );
      assert.equal((await getAgreement(provider, { agreementId })).state, 'Pending');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });
});
