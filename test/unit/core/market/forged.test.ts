/**
 * Forged negotiation messages: each security check of the market has a test that fails when the check is gone.
 * Messages travel a real bus over the memory network, so the caller is the authenticated sending node.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { digestOf } from '../../../../src/core/crypto/index.ts';
import { commitDigest, sign } from '../../../../src/core/market/peer.ts';
import {
  type AgreementContent,
  type AgreementReceived,
  marketAddressAt,
  NegotiationAddress,
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
});
