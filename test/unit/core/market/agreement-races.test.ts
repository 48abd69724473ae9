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
    // Each side's steps on this agreement, as the REST handlers call them.
    confirm: () => requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined),
    cancel: (reason?: object) => requestor.market.cancelAgreement(requestor.nodeId, agreementId, reason),
    approve: () => provider.market.approveAgreement(provider.nodeId, agreementId, undefined),
    reject: (reason?: object) => provider.market.rejectAgreement(provider.nodeId, agreementId, reason),
    stop: () => Promise.all([provider.stop(), requestor.stop()]),
  };
}

type Pair = Awaited<ReturnType<typeof pair>>;

/** Runs `race` on a fresh pair gated at `point` on the `held` side; both nodes stop after it, pass or fail. */
async function racing(
  held: 'provider' | 'requestor',
  point: MarketGatePoint,
  race: (pair: Pair) => Promise<void>,
) {
  const started = await pair(held, point);
  try {
    await race(started);
  } finally {
    await started.stop();
  }
}

/** Both nodes hold the agreement in `state`. */
function bothIn(
  { provider, requestor, agreementId }: Pick<Pair, 'provider' | 'requestor' | 'agreementId'>,
  state: string,
) {
  assert.equal(stateAt(requestor, agreementId), state);
  assert.equal(stateAt(provider, agreementId), state);
}

/** `held` (a step started by the caller) waits at the gate while `meanwhile` runs; then it goes on to its end. */
async function crossing(race: Pair, held: Promise<unknown>, meanwhile: () => unknown): Promise<void> {
  await race.hold.reached;
  await meanwhile();
  race.hold.open();
  await held;
}

/** A step refused because the agreement moved on meanwhile. */
const GONE = { httpStatus: 410 };
const EXPIRED = { ...GONE, details: { state: 'Expired' } };

describe('agreement races end with both sides in the same state', () => {
  it('a cancel issued while the confirm is on its way reaches the provider: both Cancelled, not Pending', () =>
    racing('provider', NegotiationAddress.AgreementReceived, async (race) => {
      const confirming = race.confirm();
      await race.hold.reached;
      const cancelling = race.cancel({ message: 'no' });
      race.hold.open();
      await confirming;
      await cancelling;
      bothIn(race, 'Cancelled');
    }));

  it('the provider approves before its answer to the confirm is back: both Approved', () =>
    racing('requestor', 'confirmed', async (race) => {
      await crossing(race, race.confirm(), () => race.approve());
      bothIn(race, 'Approved');
    }));

  it('the provider rejects before its answer to the confirm is back: both Rejected', () =>
    racing('requestor', 'confirmed', async (race) => {
      await crossing(race, race.confirm(), () => race.reject({ message: 'quick' }));
      bothIn(race, 'Rejected');
    }));

  it('a cancel while the provider approves: the approval is refused with 410, both Cancelled', () =>
    racing('requestor', NegotiationAddress.AgreementApproved, async (race) => {
      await race.confirm();
      await assert.rejects(
        crossing(race, race.approve(), () => race.cancel()),
        GONE,
      );
      bothIn(race, 'Cancelled');
    }));

  it('a cancel while the requestor signs its commit: the commit is dropped, both Cancelled', () =>
    racing('requestor', 'commit', async (race) => {
      await race.confirm();
      await assert.rejects(
        crossing(race, race.approve(), () => race.cancel()),
        GONE,
      );
      bothIn(race, 'Cancelled');
    }));

  it('a cancel crossing a rejection: the provider’s rejection stands on both sides', () =>
    racing('provider', NegotiationAddress.AgreementCancelled, async (race) => {
      await race.confirm();
      await crossing(race, race.cancel(), () => race.reject({ message: 'full' }));
      bothIn(race, 'Rejected');
    }));

  it('an expiry while the provider approves: the provider takes the requestor’s Expired', () =>
    racing('requestor', NegotiationAddress.AgreementApproved, async (race) => {
      await race.confirm();
      await assert.rejects(
        crossing(race, race.approve(), () => race.clock.advance(60_000)),
        GONE,
      );
      bothIn(race, 'Expired');
    }));

  it('an agreement that expires on its way to the provider is refused there: the confirm fails, nothing Pending', () =>
    racing('provider', NegotiationAddress.AgreementReceived, async (race) => {
      const { provider, requestor, agreementId } = race;
      await assert.rejects(
        crossing(race, race.confirm(), () => race.clock.advance(60_000)),
        GONE,
      );
      assert.equal(stateAt(requestor, agreementId), 'Expired');
      assert.throws(() => provider.market.getAgreement(provider.nodeId, agreementId), {
        code: 'MARKET_AGREEMENT_NOT_FOUND',
      });
    }));

  it('an approval and a rejection on the provider at once: the first to move wins on both sides', () =>
    racing('provider', 'commit', async (race) => {
      await race.confirm();
      // approve() stops at its signature (an await) before it moves; reject() moves at once, in between.
      const approving = race.approve();
      await race.reject({ message: 'changed' });
      await assert.rejects(approving, GONE);
      bothIn(race, 'Rejected');
    }));

  it('a rejection or a cancel at validTo loses to the expiry: both Expired', () =>
    racing('provider', 'commit', async (race) => {
      await race.confirm();
      race.clock.advance(60_000);
      await assert.rejects(race.reject(), EXPIRED);
      await assert.rejects(race.cancel(), EXPIRED);
      bothIn(race, 'Expired');
    }));

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
      bothIn({ provider, requestor, agreementId }, 'Terminated');
    } finally {
      await Promise.all([provider.stop(), requestor.stop()]);
    }
  });
});
