/**
 * kill -9 at random points of the payment flow, then restart: every accepted invoice ends SETTLED on both sides
 * and the chain shows it paid exactly once. Seeds 1..PAYMENT_FAULT_RUNS (default 3 here; 20 for the full run:
 * `PAYMENT_FAULT_RUNS=20 node --test test/e2e/payment-faults.test.ts`). Each run picks the victim (requestor or
 * provider) and the point (after sending, right after accepting, or a random delay into batching and settlement).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Address, formatUnits, parseUnits } from 'viem';
import { type Anvil, deployDevContracts, startAnvil } from '../support/anvil.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess } from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { fund, paidAgreement, paymentEnv, payments, tokenBalance } from '../support/payment.ts';

const RUNS = Number(process.env.PAYMENT_FAULT_RUNS ?? 3);

/** mulberry32: a small seeded generator, so a failing seed can be run again. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Doc = { status: string };

describe(`payment survives kill -9 (${RUNS} seeded runs)`, () => {
  let anvil: Anvil;
  let token: Address;
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;

  before(async () => {
    anvil = await startAnvil();
    token = (await deployDevContracts(anvil.rpcUrl)).token;
    relay = await startRelayProcess();
    const env = paymentEnv(anvil, relay);
    [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
    await fund(requestor);
  });
  after(async () => {
    await Promise.all([requestor, provider].map((d) => d?.stop()));
    await relay?.stop();
    await anvil?.stop();
  });

  it('every accepted invoice is paid exactly once', async () => {
    const providerStart = await tokenBalance(anvil, token, provider.nodeId);
    let expected = 0n;
    for (let seed = 1; seed <= RUNS; seed++) {
      const rng = random(seed);
      const victim = rng() < 0.5 ? 'requestor' : 'provider';
      const point = (['after-send', 'after-accept', 'delayed'] as const)[Math.floor(rng() * 3)]!;
      const delayMs = Math.floor(rng() * 3000);
      const amount = (Math.floor(rng() * 900) + 100) / 1000;
      const label = `seed ${seed}: kill ${victim} ${point}${point === 'delayed' ? ` +${delayMs} ms` : ''}`;
      const before = await tokenBalance(anvil, token, provider.nodeId);
      const { allocationId, agreementId } = await paidAgreement(requestor, provider, '2');
      const invoice = (await payments(provider).provider.issueInvoice({
        agreementId,
        activityIds: [],
        amount: String(amount),
        paymentDueDate: new Date().toISOString(),
      } as never)) as { invoiceId: string };
      await payments(provider).provider.sendInvoice(invoice.invoiceId, 5);
      const kill = async () => {
        if (victim === 'requestor') {
          await requestor.kill();
          requestor = await requestor.restart();
        } else {
          await provider.kill();
          provider = await provider.restart();
        }
      };
      const accept = () =>
        payments(requestor).requestor.acceptInvoice(
          invoice.invoiceId,
          { totalAmountAccepted: String(amount), allocationId },
          5,
        );
      if (point === 'after-send') {
        await kill();
        await eventually(
          async () =>
            ((await payments(requestor).requestor.getInvoice(invoice.invoiceId)) as Doc).status ===
            'RECEIVED',
          `${label}: invoice received`,
          30_000,
        );
        await accept();
      } else {
        await accept();
        if (point === 'delayed') await new Promise((resolve) => setTimeout(resolve, delayMs));
        await kill();
      }
      expected += parseUnits(String(amount), 18);
      await eventually(
        async () =>
          ((await payments(provider).provider.getInvoice(invoice.invoiceId)) as Doc).status === 'SETTLED',
        `${label}: SETTLED on the provider`,
        90_000,
      );
      await eventually(
        async () =>
          ((await payments(requestor).requestor.getInvoice(invoice.invoiceId)) as Doc).status === 'SETTLED',
        `${label}: SETTLED on the requestor`,
        30_000,
      );
      const moved = (await tokenBalance(anvil, token, provider.nodeId)) - before;
      assert.equal(formatUnits(moved, 18), String(amount), `${label}: paid once on chain`);
    }
    // Nothing arrives later either: a few batch windows on, the chain still shows each invoice paid once.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    assert.equal((await tokenBalance(anvil, token, provider.nodeId)) - providerStart, expected);
  });
});
