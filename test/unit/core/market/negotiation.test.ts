import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { openDatabase } from '../../../../src/core/db/index.ts';
import { marketAddressAt, NegotiationAddress } from '../../../../src/core/model/market.ts';
import { demandBody, manualClock, negotiate, nextEvent, node, offerBody } from './support.ts';

describe('market negotiation between two nodes', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('runs the whole flow: proposal, counters, agreement signed by both, termination', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { offerId, demandId, initial, agreementId } = await negotiate(provider, requestor);
      // A proposal may be countered only once.
      await assert.rejects(
        requestor.market.counterProposal(
          requestor.nodeId,
          demandId,
          initial.proposal!.proposalId,
          'requestor',
          demandBody(),
        ),
        (error: { httpStatus?: number }) => error.httpStatus === 410,
      );
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, 'session-1');
      const [providerEvent] = (await provider.market.collectEvents(
        provider.nodeId,
        offerId,
        'provider',
        5_000,
        10,
      )) as unknown as { eventType: string; agreement: { agreementId: string; state: string } }[];
      assert.equal(providerEvent!.eventType, 'AgreementEvent');
      assert.equal(providerEvent!.agreement.state, 'Pending');
      const waiting = requestor.market.waitForApproval(requestor.nodeId, agreementId, 5_000);
      await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      await waiting;
      const atRequestor = requestor.market.getAgreement(requestor.nodeId, agreementId);
      const atProvider = provider.market.getAgreement(provider.nodeId, agreementId);
      assert.equal(atRequestor.state, 'Approved');
      assert.equal(atProvider.state, 'Approved');
      const events = (await requestor.market.agreementEvents(requestor.nodeId, {
        afterTimestamp: new Date(0).toISOString(),
        maxEvents: 10,
        appSessionId: 'session-1',
        timeoutMs: 0,
      })) as { eventType: string; eventDate: string }[];
      assert.deepEqual(
        events.map((e) => e.eventType),
        ['AgreementApprovedEvent'],
      );
      // afterTimestamp is strict: the same date again yields nothing.
      const none = await requestor.market.agreementEvents(requestor.nodeId, {
        afterTimestamp: events[0]!.eventDate,
        maxEvents: 10,
        timeoutMs: 0,
      });
      assert.deepEqual(none, []);

      await provider.market.terminateAgreement(provider.nodeId, agreementId, {
        message: 'done',
        'golem.requestor.code': 'Success',
      });
      assert.equal(requestor.market.getAgreement(requestor.nodeId, agreementId).state, 'Terminated');
      const reason = requestor.market.terminationReason(requestor.nodeId, agreementId);
      assert.equal((reason.reason as { message: string }).message, 'done');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('rejects a proposal with a reason the other side sees, and a counter that no longer matches is 400', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const offerId = await provider.market.subscribeOffer(provider.nodeId, offerBody);
      const demandId = requestor.market.subscribeDemand(requestor.nodeId, demandBody());
      const [initial] = await nextEvent(requestor.market, requestor.nodeId, demandId, 'requestor');
      await assert.rejects(
        requestor.market.counterProposal(
          requestor.nodeId,
          demandId,
          initial!.proposal!.proposalId,
          'requestor',
          { properties: demandBody().properties, constraints: '(golem.inf.mem.gib>=64)' },
        ),
        (error: { httpStatus?: number; code?: string }) =>
          error.httpStatus === 400 && error.code === 'MARKET_NO_MATCH',
      );
      await requestor.market.counterProposal(
        requestor.nodeId,
        demandId,
        initial!.proposal!.proposalId,
        'requestor',
        demandBody(),
      );
      const [draft] = await nextEvent(provider.market, provider.nodeId, offerId, 'provider');
      await provider.market.rejectProposal(
        provider.nodeId,
        offerId,
        draft!.proposal!.proposalId,
        'provider',
        { message: 'busy', 'golem.proposal.rejection.is-final': false },
      );
      const [rejected] = (await requestor.market.collectEvents(
        requestor.nodeId,
        demandId,
        'requestor',
        5_000,
        10,
      )) as unknown as { eventType: string; reason: { message: string } }[];
      assert.equal(rejected!.eventType, 'ProposalRejectedEvent');
      assert.equal(rejected!.reason.message, 'busy');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('refuses approval and termination from a node that is not the counterparty, and a forged approval signature', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor, intruder] = await Promise.all([node(network), node(network), node(network)]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      const agreement = requestor.market.getAgreement(requestor.nodeId, agreementId);
      // The intruder calls the requestor's negotiation handlers directly, pretending to approve/terminate.
      await assert.rejects(
        intruder.bus.call(marketAddressAt(requestor.nodeId, NegotiationAddress.AgreementApproved), {
          agreementId,
          approvedSignature: `0x${'11'.repeat(65)}`,
          approvedAt: new Date().toISOString(),
        }),
        { code: 'MARKET_NOT_COUNTERPARTY' },
      );
      // The real provider, but with a signature that is not over the agreement: refused too.
      await assert.rejects(
        provider.bus.call(marketAddressAt(requestor.nodeId, NegotiationAddress.AgreementApproved), {
          agreementId,
          approvedSignature: `0x${'33'.repeat(65)}`,
          approvedAt: new Date().toISOString(),
        }),
        { code: 'MARKET_BAD_SIGNATURE' },
      );
      await assert.rejects(
        intruder.bus.call(marketAddressAt(requestor.nodeId, NegotiationAddress.AgreementTerminated), {
          agreementId,
          reason: { message: 'hijack' },
          terminatedAt: new Date().toISOString(),
          signature: `0x${'22'.repeat(65)}`,
        }),
        { code: 'MARKET_NOT_COUNTERPARTY' },
      );
      assert.equal(requestor.market.getAgreement(requestor.nodeId, agreementId).state, agreement.state);
      assert.equal(agreement.state, 'Pending');
    } finally {
      await Promise.all([provider.stop(), requestor.stop(), intruder.stop()]);
    }
  });

  it('expires an agreement past validTo: approving it then is 410', async () => {
    const network = new MemoryNetwork();
    const clock = manualClock();
    const [provider, requestor] = await Promise.all([
      node(network, undefined, { clock: clock.now }),
      node(network, undefined, { clock: clock.now }),
    ]);
    try {
      const { agreementId } = await negotiate(provider, requestor, 60_000);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      assert.equal(provider.market.getAgreement(provider.nodeId, agreementId).state, 'Pending');
      clock.advance(60_000);
      assert.equal(provider.market.getAgreement(provider.nodeId, agreementId).state, 'Expired');
      await assert.rejects(provider.market.approveAgreement(provider.nodeId, agreementId, undefined), {
        httpStatus: 410,
      });
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('expires an agreement while the requestor waits for approval: the wait ends with 410, not a timeout', async () => {
    const network = new MemoryNetwork();
    const clock = manualClock();
    const [provider, requestor] = await Promise.all([
      node(network, undefined, { clock: clock.now }),
      node(network, undefined, { clock: clock.now }),
    ]);
    try {
      const { agreementId } = await negotiate(provider, requestor, 60_000);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      const waiting = requestor.market.waitForApproval(requestor.nodeId, agreementId, 20_000);
      clock.advance(60_001);
      // What the expiry timer does when it fires: nobody reads either copy through the service.
      requestor.market.agreements.expireDue();
      provider.market.agreements.expireDue();
      await assert.rejects(waiting, { httpStatus: 410, message: 'Expired' });
      const stored = provider.db.get<{ state: string }>(
        "SELECT state FROM market_agreement WHERE id = ? AND role = 'provider'",
        agreementId,
      );
      assert.equal(stored?.state, 'Expired', "the provider's copy expired");
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('brings an approval cut short by a crash back to Pending at restart, where it can be approved', async () => {
    const network = new MemoryNetwork();
    let provider = await node(network);
    const requestor = await node(network);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      // The provider's process died between marking the agreement Approving and hearing back.
      provider.db.run("UPDATE market_agreement SET state = 'Approving' WHERE id = ?", agreementId);
      await provider.stop();
      network.leave(provider.nodeId);
      provider = await node(network, provider.db);
      const stored = provider.db.get<{ state: string }>(
        "SELECT state FROM market_agreement WHERE id = ? AND role = 'provider'",
        agreementId,
      );
      assert.equal(stored?.state, 'Pending');
      await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      assert.equal(requestor.market.getAgreement(requestor.nodeId, agreementId).state, 'Approved');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('reverts an approval the requestor never received to Pending', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      network.leave(requestor.nodeId);
      await assert.rejects(provider.market.approveAgreement(provider.nodeId, agreementId, undefined));
      assert.equal(provider.market.getAgreement(provider.nodeId, agreementId).state, 'Pending');
      network.join(requestor.bus);
      await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      assert.equal(requestor.market.getAgreement(requestor.nodeId, agreementId).state, 'Approved');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('keeps proposals, agreements and events across a restart of the requestor', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'market-unit-'));
    dirs.push(dir);
    const network = new MemoryNetwork();
    const provider = await node(network);
    let requestor = await node(network, openDatabase(join(dir, 'requestor.db')));
    try {
      const { agreementId, demandId } = await negotiate(provider, requestor);
      const nodeId = requestor.nodeId;
      await requestor.stop();
      network.leave(nodeId);
      requestor.db.close();
      requestor = await node(network, openDatabase(join(dir, 'requestor.db')));
      assert.equal(requestor.nodeId, nodeId, 'same identity after restart');
      assert.equal(requestor.market.getAgreement(nodeId, agreementId).state, 'Proposal');
      assert.equal(requestor.market.listDemands(nodeId).length, 1);
      assert.equal((requestor.market.listDemands(nodeId)[0] as { demandId: string }).demandId, demandId);
      await requestor.market.confirmAgreement(nodeId, agreementId, undefined);
      const waiting = requestor.market.waitForApproval(nodeId, agreementId, 5_000);
      await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      await waiting;
      assert.equal(requestor.market.getAgreement(nodeId, agreementId).state, 'Approved');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });
});
