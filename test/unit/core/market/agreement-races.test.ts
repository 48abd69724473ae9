/**
 * Races between the two sides' agreement steps, made deterministic: one side is held at a named point of the
 * protocol (a gate) while the other acts, then released. Every race must end with both nodes in one legal state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import type { MarketGatePoint } from '../../../../src/core/market/index.ts';
import { NegotiationAddress } from '../../../../src/core/model/market.ts';
import { holdAt, manualClock, type Node, negotiate, node } from './support.ts';

const stateAt = (at: Node, agreementId: string) =>
  (at.market.getAgreement(at.nodeId, agreementId) as { state: string }).state;

/** A provider and a requestor with an agreement ready to confirm; `held` is gated on the given side. */
async function pair(held: 'provider' | 'requestor', point: MarketGatePoint) {
  const network = new MemoryNetwork();
  const clock = manualClock();
  const hold = holdAt(point);
  const options = (side: string) => ({ clock: clock.now, gate: side === held ? hold.gate : undefined });
  const [provider, requestor] = await Promise.all([
    node(network, undefined, options('provider')),
    node(network, undefined, options('requestor')),
  ]);
  const { agreementId } = await negotiate(provider, requestor, 60_000);
  return {
    provider,
    requestor,
    agreementId,
    hold,
    clock,
    stop: () => Promise.all([provider.stop(), requestor.stop()]),
  };
}

describe('agreement races end with both sides in the same state', () => {
  it('a cancel issued while the confirm is on its way reaches the provider: both Cancelled, not Pending', async () => {
    const { provider, requestor, agreementId, hold, stop } = await pair(
      'provider',
      NegotiationAddress.AgreementReceived,
    );
    try {
      const confirming = requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      await hold.reached;
      const cancelling = requestor.market.cancelAgreement(requestor.nodeId, agreementId, { message: 'no' });
      hold.open();
      await confirming;
      await cancelling;
      assert.equal(stateAt(requestor, agreementId), 'Cancelled');
      assert.equal(stateAt(provider, agreementId), 'Cancelled');
    } finally {
      await stop();
    }
  });

  it('a cancel while the provider approves: the approval is refused with 410, both Cancelled', async () => {
    const { provider, requestor, agreementId, hold, stop } = await pair(
      'requestor',
      NegotiationAddress.AgreementApproved,
    );
    try {
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      const approving = provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      await hold.reached;
      await requestor.market.cancelAgreement(requestor.nodeId, agreementId, undefined);
      hold.open();
      await assert.rejects(approving, { httpStatus: 410 });
      assert.equal(stateAt(requestor, agreementId), 'Cancelled');
      assert.equal(stateAt(provider, agreementId), 'Cancelled');
    } finally {
      await stop();
    }
  });

  it('a cancel while the requestor signs its commit: the commit is dropped, both Cancelled', async () => {
    const { provider, requestor, agreementId, hold, stop } = await pair('requestor', 'commit');
    try {
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      const approving = provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      await hold.reached;
      await requestor.market.cancelAgreement(requestor.nodeId, agreementId, undefined);
      hold.open();
      await assert.rejects(approving, { httpStatus: 410 });
      assert.equal(stateAt(requestor, agreementId), 'Cancelled');
      assert.equal(stateAt(provider, agreementId), 'Cancelled');
    } finally {
      await stop();
    }
  });

  it('a cancel crossing a rejection: the provider’s rejection stands on both sides', async () => {
    const { provider, requestor, agreementId, hold, stop } = await pair(
      'provider',
      NegotiationAddress.AgreementCancelled,
    );
    try {
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      const cancelling = requestor.market.cancelAgreement(requestor.nodeId, agreementId, undefined);
      await hold.reached;
      await provider.market.rejectAgreement(provider.nodeId, agreementId, { message: 'full' });
      hold.open();
      await cancelling;
      assert.equal(stateAt(requestor, agreementId), 'Rejected');
      assert.equal(stateAt(provider, agreementId), 'Rejected');
    } finally {
      await stop();
    }
  });

  it('an expiry while the provider approves: the provider takes the requestor’s Expired', async () => {
    const { provider, requestor, agreementId, hold, clock, stop } = await pair(
      'requestor',
      NegotiationAddress.AgreementApproved,
    );
    try {
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      const approving = provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      await hold.reached;
      clock.advance(60_000);
      hold.open();
      await assert.rejects(approving, { httpStatus: 410 });
      assert.equal(stateAt(requestor, agreementId), 'Expired');
      assert.equal(stateAt(provider, agreementId), 'Expired');
    } finally {
      await stop();
    }
  });

  it('an agreement that expires on its way to the provider is refused there: the confirm fails, nothing Pending', async () => {
    const { provider, requestor, agreementId, hold, clock, stop } = await pair(
      'provider',
      NegotiationAddress.AgreementReceived,
    );
    try {
      const confirming = requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      await hold.reached;
      clock.advance(60_000);
      hold.open();
      await assert.rejects(confirming, { httpStatus: 410 });
      assert.equal(stateAt(requestor, agreementId), 'Expired');
      assert.throws(() => provider.market.getAgreement(provider.nodeId, agreementId), {
        code: 'MARKET_AGREEMENT_NOT_FOUND',
      });
    } finally {
      await stop();
    }
  });

  it('both sides terminate at once: both Terminated, each second message refused', async () => {
    const network = new MemoryNetwork();
    const providerHold = holdAt(NegotiationAddress.AgreementTerminated);
    const requestorHold = holdAt(NegotiationAddress.AgreementTerminated);
    const [provider, requestor] = await Promise.all([
      node(network, undefined, { gate: providerHold.gate }),
      node(network, undefined, { gate: requestorHold.gate }),
    ]);
    try {
      const { agreementId } = await negotiate(provider, requestor);
      await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
      await provider.market.approveAgreement(provider.nodeId, agreementId, undefined);
      const byRequestor = requestor.market.terminateAgreement(requestor.nodeId, agreementId, undefined);
      const byProvider = provider.market.terminateAgreement(provider.nodeId, agreementId, undefined);
      await Promise.all([providerHold.reached, requestorHold.reached]);
      providerHold.open();
      requestorHold.open();
      await Promise.all([byRequestor, byProvider]);
      assert.equal(stateAt(requestor, agreementId), 'Terminated');
      assert.equal(stateAt(provider, agreementId), 'Terminated');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });
});
