/**
 * The app session of each side travels with the agreement to the other modules (`GetAgreement`): the payment
 * module filters its event feeds by it, as golem-js asks with `appSessionId`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { type AgreementView, MarketLocalAddress } from '../../../../src/core/model/market.ts';
import { type Node, negotiate, node } from './support.ts';

const view = (at: Node, agreementId: string) =>
  at.bus.call<AgreementView>(MarketLocalAddress.GetAgreement, { agreementId });

describe('GetAgreement carries the app session of this side', () => {
  it("the requestor's from its confirm, the provider's from its approve, null where none was named", async () => {
    // Two pairs on two networks, so each requestor hears only its own provider's offer.
    const [network, network2] = [new MemoryNetwork(), new MemoryNetwork()];
    const [provider, requestor, provider2, requestor2] = await Promise.all(
      [network, network, network2, network2].map((on) => node(on)),
    );
    try {
      const named = await negotiate(provider!, requestor!);
      assert.equal((await view(requestor!, named.agreementId)).appSessionId, null);
      await requestor!.market.confirmAgreement(requestor!.nodeId, named.agreementId, 'requestor-session');
      await provider!.market.approveAgreement(provider!.nodeId, named.agreementId, 'provider-session');
      assert.equal((await view(requestor!, named.agreementId)).appSessionId, 'requestor-session');
      assert.equal((await view(provider!, named.agreementId)).appSessionId, 'provider-session');

      const unnamed = await negotiate(provider2!, requestor2!);
      await requestor2!.market.confirmAgreement(requestor2!.nodeId, unnamed.agreementId, undefined);
      await provider2!.market.approveAgreement(provider2!.nodeId, unnamed.agreementId, undefined);
      assert.equal((await view(requestor2!, unnamed.agreementId)).appSessionId, null);
      assert.equal((await view(provider2!, unnamed.agreementId)).appSessionId, null);
    } finally {
      await Promise.all([provider, requestor, provider2, requestor2].map((n) => n?.stop()));
    }
  });
});
