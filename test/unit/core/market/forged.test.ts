/**
 * Forged negotiation messages: each security check of the market has a test that fails when the check is gone.
 * Messages travel a real bus over the memory network, so the caller is the authenticated sending node.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { digestOf } from '../../../../src/core/crypto/index.ts';
import { MAX_PROPOSALS_PER_PEER_AND_OFFER } from '../../../../src/core/market/negotiation.ts';
import { commitDigest, sign, terminationDigest } from '../../../../src/core/market/peer.ts';
import {
  type AgreementContent,
  type AgreementReceived,
  type AgreementTerminated,
  marketAddressAt,
  NegotiationAddress,
  type ProposalReceived,
  type ProposalRejected,
} from '../../../../src/core/model/market.ts';
import { demandBody, type Event, type Node, negotiate, node, offerBody } from './support.ts';

const at = (target: Node, address: string) => marketAddressAt(target.nodeId, address);

const contentOf = (requestor: Node, agreementId: string): AgreementContent =>
  JSON.parse(
    requestor.db.get<{ content: string }>(
      "SELECT content FROM market_agreement WHERE id = ? AND role = 'requestor'",
      agreementId,
    )!.content,
  );

const providerCopy = (provider: Node, agreementId: string) =>
  provider.db.get<{ state: string }>(
    "SELECT state FROM market_agreement WHERE id = ? AND role = 'provider'",
    agreementId,
  );

describe('forged negotiation messages are refused', () => {
  it('a demand never matches an offer of its own node', async () => {
    const network = new MemoryNetwork();
    const [provider, both] = await Promise.all([node(network), node(network)]);
    try {
      // `both` offers and demands; the demand matches its own offer by terms, and the provider's.
      await both.market.subscribeOffer(both.nodeId, offerBody);
      await provider.market.subscribeOffer(provider.nodeId, offerBody);
      const demandId = both.market.subscribeDemand(both.nodeId, demandBody());
      const events = (await both.market.collectEvents(
        both.nodeId,
        demandId,
        'requestor',
        5_000,
        10,
      )) as Event[];
      assert.ok(events.length > 0);
      assert.deepEqual(
        events.map((e) => e.proposal?.issuerId),
        events.map(() => provider.nodeId),
        'only the other node’s offer becomes a proposal',
      );
    } finally {
      await Promise.all([provider.stop(), both.stop()]);
    }
  });

  it('the provider refuses an agreement whose requestor signature is not over what it received', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      const content = contentOf(requestor, agreementId);
      const signature = await sign(requestor.bus, requestor.nodeId, digestOf(content));
      // Signed terms, then a longer validity slipped in: the signature no longer covers what is sent.
      const tampered = {
        ...content,
        validTo: new Date(Date.parse(content.validTo) + 86_400_000).toISOString(),
      };
      await assert.rejects(
        requestor.bus.call(at(provider, NegotiationAddress.AgreementReceived), {
          agreement: tampered,
          proposedSignature: signature,
        } satisfies AgreementReceived),
        { code: 'MARKET_BAD_SIGNATURE' },
      );
      await assert.rejects(
        requestor.bus.call(at(provider, NegotiationAddress.AgreementReceived), {
          agreement: content,
          proposedSignature: `0x${'33'.repeat(65)}`,
        } satisfies AgreementReceived),
        { code: 'MARKET_BAD_SIGNATURE' },
      );
      assert.equal(providerCopy(provider, agreementId), undefined, 'the provider holds nothing');
      // The same message, honestly signed, is taken: the refusals above were about the signature alone.
      await requestor.bus.call(at(provider, NegotiationAddress.AgreementReceived), {
        agreement: content,
        proposedSignature: signature,
      } satisfies AgreementReceived);
      assert.equal(providerCopy(provider, agreementId)?.state, 'Pending');
      // A second agreement on the same proposal, honestly signed too, is one agreement too many.
      const second = { ...content, agreementId: 'f'.repeat(64) };
      await assert.rejects(
        requestor.bus.call(at(provider, NegotiationAddress.AgreementReceived), {
          agreement: second,
          proposedSignature: await sign(requestor.bus, requestor.nodeId, digestOf(second)),
        } satisfies AgreementReceived),
        { code: 'MARKET_PROPOSAL_PROMOTED' },
      );
      assert.equal(providerCopy(provider, second.agreementId), undefined);
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('the provider does not approve on a commit signature that is not the requestor’s over its approval', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      // The requestor's node now answers approvals itself: first with a signature over another approval,
      // then with bytes that are no signature at all.
      await requestor.market.stop();
      let committedSignature = await sign(
        requestor.bus,
        requestor.nodeId,
        commitDigest(agreementId, '0xother'),
      );
      requestor.bus.bind(NegotiationAddress.AgreementApproved, () => ({ committedSignature }));
      await assert.rejects(provider.market.approveAgreement(provider.nodeId, agreementId, undefined), {
        code: 'MARKET_BAD_SIGNATURE',
      });
      assert.equal(providerCopy(provider, agreementId)?.state, 'Pending');
      committedSignature = `0x${'44'.repeat(65)}`;
      await assert.rejects(provider.market.approveAgreement(provider.nodeId, agreementId, undefined), {
        code: 'MARKET_BAD_SIGNATURE',
      });
      assert.equal(providerCopy(provider, agreementId)?.state, 'Pending');
    } finally {
      await provider.stop();
    }
  });

  it('a peer cannot make a provider store without bound: proposal size and count per offer', async () => {
    const network = new MemoryNetwork();
    const [provider, intruder] = await Promise.all([node(network), node(network)]);
    try {
      const offerId = await provider.market.subscribeOffer(provider.nodeId, offerBody);
      const counter = (properties: Record<string, unknown>) =>
        intruder.bus.call(at(provider, NegotiationAddress.ProposalReceived), {
          demandId: 'd',
          offerId,
          proposal: {
            proposalId: randomBytes(32).toString('hex'),
            prevProposalId: randomBytes(32).toString('hex'),
            properties,
            constraints: demandBody().constraints,
            timestamp: new Date().toISOString(),
          },
        } satisfies ProposalReceived);
      await assert.rejects(counter({ ...demandBody().properties, 'golem.x': 'x'.repeat(70_000) }), {
        code: 'MARKET_TOO_LARGE',
      });
      // Each first counter stores two proposals (the offer as Initial, and the counter).
      for (let i = 0; i < MAX_PROPOSALS_PER_PEER_AND_OFFER / 2; i++) await counter(demandBody().properties);
      await assert.rejects(counter(demandBody().properties), { code: 'MARKET_TOO_MANY_PROPOSALS' });
      assert.equal(
        provider.db.get<{ n: number }>(
          'SELECT COUNT(*) AS n FROM market_proposal WHERE offer_id = ?',
          offerId,
        )!.n,
        MAX_PROPOSALS_PER_PEER_AND_OFFER,
      );
    } finally {
      await Promise.all([provider.stop(), intruder.stop()]);
    }
  });

  it('the provider takes an agreement only on its own proposal, from the requestor it negotiated with, on its terms', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor, intruder] = await Promise.all([node(network), node(network), node(network)]);
    try {
      const { agreementId, counterId } = await negotiate(provider, requestor);
      const honest = contentOf(requestor, agreementId);
      const sendAs = async (sender: Node, agreement: AgreementContent) =>
        sender.bus.call(at(provider, NegotiationAddress.AgreementReceived), {
          agreement,
          proposedSignature: await sign(sender.bus, sender.nodeId, digestOf(agreement)),
        } satisfies AgreementReceived);
      const variant = (id: string, change: Partial<AgreementContent>): AgreementContent => ({
        ...honest,
        agreementId: id.repeat(64),
        ...change,
      });
      const refused: AgreementContent[] = [];
      const refuse = async (sender: Node, agreement: AgreementContent, code: string) => {
        refused.push(agreement);
        await assert.rejects(sendAs(sender, agreement), { code });
      };
      // The intruder cites the proposal the requestor negotiated, as its own requestor: not its negotiation.
      await refuse(
        intruder,
        variant('a', { demand: { ...honest.demand, requestorId: intruder.nodeId } }),
        'MARKET_PROPOSAL_NOT_FOUND',
      );
      // The requestor names another node as the requestor (the one who pays), signing itself.
      await refuse(
        requestor,
        variant('b', { demand: { ...honest.demand, requestorId: intruder.nodeId } }),
        'MARKET_NOT_COUNTERPARTY',
      );
      // Another offer of the provider than the one the proposal answers; another node as the provider.
      const otherOfferId = await provider.market.subscribeOffer(provider.nodeId, offerBody);
      await refuse(
        requestor,
        variant('c', { offer: { ...honest.offer, offerId: otherOfferId } }),
        'MARKET_PROPOSAL_NOT_FOUND',
      );
      await refuse(
        requestor,
        variant('d', { offer: { ...honest.offer, providerId: intruder.nodeId } }),
        'MARKET_PROPOSAL_NOT_FOUND',
      );
      // The requestor's own counter cited as if the provider had proposed its terms.
      const theirs = provider.db.get<{ properties: string; constraints: string }>(
        "SELECT properties, constraints FROM market_proposal WHERE id = ? AND role = 'provider'",
        counterId.replace(/^R-/, ''),
      )!;
      await refuse(
        requestor,
        variant('e', {
          proposalId: counterId.replace(/^R-/, ''),
          offer: {
            ...honest.offer,
            properties: JSON.parse(theirs.properties),
            constraints: theirs.constraints,
          },
        }),
        'MARKET_PROPOSAL_NOT_FOUND',
      );
      // Terms other than the provider's proposal: another price, looser constraints.
      await refuse(
        requestor,
        variant('f', {
          offer: { ...honest.offer, properties: { ...honest.offer.properties, 'golem.inf.mem.gib': 64 } },
        }),
        'MARKET_AGREEMENT_MISMATCH',
      );
      await refuse(
        requestor,
        variant('g', { offer: { ...honest.offer, constraints: '(golem.srv.comp.expiration>=0)' } }),
        'MARKET_AGREEMENT_MISMATCH',
      );
      // Demand terms other than the requestor's proposal the provider answered: never matched against the offer.
      await refuse(
        requestor,
        variant('h', {
          demand: {
            ...honest.demand,
            properties: { ...honest.demand.properties, 'golem.srv.comp.expiration': 1 },
          },
        }),
        'MARKET_AGREEMENT_MISMATCH',
      );
      await refuse(
        requestor,
        variant('i', { demand: { ...honest.demand, constraints: '(golem.inf.mem.gib>=1)' } }),
        'MARKET_AGREEMENT_MISMATCH',
      );
      await refuse(
        requestor,
        variant('j', { demand: { ...honest.demand, demandId: 'd'.repeat(64) } }),
        'MARKET_AGREEMENT_MISMATCH',
      );
      // Bigger than the market stores (a field no proposal bounds).
      await refuse(requestor, variant('k', { createdAt: 'x'.repeat(300_000) }), 'MARKET_TOO_LARGE');
      for (const { agreementId: id } of refused)
        assert.equal(providerCopy(provider, id), undefined, 'the provider holds none of them');
      // The honest agreement is still taken: the refusals were about who sent what.
      await sendAs(requestor, honest);
      assert.equal(providerCopy(provider, agreementId)?.state, 'Pending');
    } finally {
      await Promise.all([provider.stop(), requestor.stop(), intruder.stop()]);
    }
  });

  it('a termination counts only with the counterparty’s signature over its reason and date', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      assert.equal(providerCopy(provider, agreementId)?.state, 'Approved');
      const terminatedAt = new Date().toISOString();
      const terminate = (reason: Record<string, unknown>, signature: string) =>
        requestor.bus.call(at(provider, NegotiationAddress.AgreementTerminated), {
          agreementId,
          reason,
          terminatedAt,
          signature,
        } satisfies AgreementTerminated);
      const signed = await sign(
        requestor.bus,
        requestor.nodeId,
        terminationDigest(agreementId, { message: 'done' }, terminatedAt),
      );
      // Bytes that are no signature, and a signature over another reason.
      await assert.rejects(terminate({ message: 'done' }, `0x${'55'.repeat(65)}`), {
        code: 'MARKET_BAD_SIGNATURE',
      });
      await assert.rejects(terminate({ message: 'provider misbehaved' }, signed), {
        code: 'MARKET_BAD_SIGNATURE',
      });
      assert.equal(providerCopy(provider, agreementId)?.state, 'Approved');
      await terminate({ message: 'done' }, signed);
      assert.equal(providerCopy(provider, agreementId)?.state, 'Terminated');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('only the negotiation’s peer counters or rejects in it, once, and only with terms that match', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor, intruder] = await Promise.all([node(network), node(network), node(network)]);
    try {
      const { offerId, demandId, initial, providerCounterId } = await negotiate(provider, requestor);
      const bare = (id: string) => id.replace(/^[RP]-/, '');
      const proposalState = (id: string) =>
        provider.db.get<{ state: string; countered: number }>(
          "SELECT state, countered FROM market_proposal WHERE id = ? AND role = 'provider'",
          bare(id),
        );
      const counter = (sender: Node, prevProposalId: string, properties: Record<string, unknown>) =>
        sender.bus.call(at(provider, NegotiationAddress.ProposalReceived), {
          demandId,
          offerId,
          proposal: {
            proposalId: randomBytes(32).toString('hex'),
            prevProposalId: bare(prevProposalId),
            properties,
            constraints: demandBody().constraints,
            timestamp: new Date().toISOString(),
          },
        } satisfies ProposalReceived);
      // The provider's counter belongs to its negotiation with the requestor: the intruder may not answer it.
      await assert.rejects(counter(intruder, providerCounterId, demandBody().properties), {
        code: 'MARKET_NOT_COUNTERPARTY',
      });
      assert.equal(proposalState(providerCounterId)?.countered, 0);
      // The requestor already countered the offer's Initial proposal: a second counter is refused.
      await assert.rejects(counter(requestor, initial.proposal!.proposalId, demandBody().properties), {
        code: 'MARKET_PROPOSAL_COUNTERED',
      });
      // A counter whose terms do not satisfy the offer's constraints is refused, and nothing is stored.
      await assert.rejects(counter(requestor, providerCounterId, { 'golem.node.debug.subnet': 'test' }), {
        code: 'MARKET_NO_MATCH',
      });
      assert.equal(proposalState(providerCounterId)?.countered, 0);
      // The intruder cannot reject, in the requestor's name, the provider's counter to the requestor.
      await assert.rejects(
        intruder.bus.call(at(provider, NegotiationAddress.ProposalRejected), {
          proposalId: bare(providerCounterId),
          reason: null,
        } satisfies ProposalRejected),
        { code: 'MARKET_PROPOSAL_NOT_FOUND' },
      );
      assert.equal(proposalState(providerCounterId)?.state, 'Draft');
    } finally {
      await Promise.all([provider.stop(), requestor.stop(), intruder.stop()]);
    }
  });
});
