/** Proposals go with their offers: what was stored on an offer's account does not outlive it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { eventually } from '../../../support/net.ts';
import { demandBody, type Event, type Node, negotiate, node, offerBody } from './support.ts';

const proposalsOn = (at: Node, offerId: string) =>
  at.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM market_proposal WHERE offer_id = ?', offerId)!.n;

describe('proposals go with their offers', () => {
  it('deletes both sides’ proposals of an unsubscribed offer, and a new demand no longer matches it', async () => {
    const network = new MemoryNetwork();
    const [provider, requestor] = await Promise.all([node(network), node(network)]);
    try {
      const { offerId, demandId, initial } = await negotiate(provider, requestor);
      assert.ok(proposalsOn(requestor, offerId) >= 2, 'the requestor holds the negotiation');
      assert.ok(proposalsOn(provider, offerId) >= 2, 'the provider holds the negotiation');
      await provider.market.unsubscribeOffer(provider.nodeId, offerId);
      assert.equal(proposalsOn(provider, offerId), 0);
      await eventually(
        () => proposalsOn(requestor, offerId) === 0,
        'the unsubscription reached the requestor',
        5_000,
      );
      assert.throws(
        () =>
          requestor.market.getProposal(requestor.nodeId, demandId, initial.proposal!.proposalId, 'requestor'),
        { code: 'MARKET_PROPOSAL_NOT_FOUND' },
      );
      const later = requestor.market.subscribeDemand(requestor.nodeId, demandBody());
      assert.deepEqual(await requestor.market.collectEvents(requestor.nodeId, later, 'requestor', 0, 10), []);
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });

  it('drops the proposals of an evicted offer, and its matches not yet collected', async () => {
    const network = new MemoryNetwork();
    const provider = await node(network);
    // The requestor keeps one offer in all: a second offer pushes the first out.
    const requestor = await node(network, undefined, { discovery: { totalLimit: 1 } });
    try {
      const first = await provider.market.subscribeOffer(provider.nodeId, offerBody);
      const demandId = requestor.market.subscribeDemand(requestor.nodeId, demandBody());
      const [proposal] = (await requestor.market.collectEvents(
        requestor.nodeId,
        demandId,
        'requestor',
        5_000,
        10,
      )) as Event[];
      assert.equal(proposalsOn(requestor, first), 1);
      const other = requestor.market.subscribeDemand(requestor.nodeId, demandBody());
      const second = await provider.market.subscribeOffer(provider.nodeId, {
        ...offerBody,
        properties: { ...offerBody.properties, 'golem.node.id.name': 'second' },
      });
      await eventually(() => proposalsOn(requestor, first) === 0, 'the first offer was evicted', 5_000);
      assert.throws(
        () =>
          requestor.market.getProposal(
            requestor.nodeId,
            demandId,
            proposal!.proposal!.proposalId,
            'requestor',
          ),
        { code: 'MARKET_PROPOSAL_NOT_FOUND' },
      );
      // The other demand had matched the first offer too, uncollected: only the second comes out now.
      await requestor.market.settled();
      const events = await requestor.market.collectEvents(requestor.nodeId, other, 'requestor', 0, 10);
      assert.equal(events.length, 1);
      assert.equal(proposalsOn(requestor, second), 1, 'the one collected is the second offer’s');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });
});
