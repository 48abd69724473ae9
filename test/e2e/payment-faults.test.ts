/**
 * kill -9 at random points of the payment flow, then restart: every accepted debit note and invoice ends SETTLED
 * and the chain shows each agreement paid exactly once. Seeds 1..PAYMENT_FAULT_RUNS (default 3 here; 20 for the
 * full run: `PAYMENT_FAULT_RUNS=20 node --test test/e2e/payment-faults.test.ts`). Each run picks the victim (requestor or
 * provider) and the point (after a debit note or the invoice was sent or accepted, or a random delay into
 * batching and settlement). The provider runs the test runtime, so the debit notes belong to a real activity.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Address, formatUnits, parseUnits } from 'viem';
import { ActivityApi } from 'ya-ts-client';
import { type Anvil, deployDevContracts, startAnvil } from '../support/anvil.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess } from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { fund, paidAgreement, paymentEnv, payments, tokenBalance } from '../support/payment.ts';

const RUNS = Number(process.env.PAYMENT_FAULT_RUNS ?? 3);
const TEST_RUNTIME = fileURLToPath(new URL('../support/exeunit-runtime/descriptor.json', import.meta.url));
const activities = (daemon: DaemonHandle) =>
  new ActivityApi.Client({ BASE: `${daemon.apiUrl}/activity-api/v1`, TOKEN: daemon.appKey });

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
    [requestor, provider] = await Promise.all([
      startDaemon({ env }),
      startDaemon({ env: { ...env, EXE_UNIT_PATH: TEST_RUNTIME } }),
    ]);
    await fund(requestor);
  });
  after(async () => {
    await Promise.all([requestor, provider].map((d) => d?.stop()));
    await relay?.stop();
    await anvil?.stop();
  });

  it('every accepted debit note and invoice is paid exactly once', async () => {
    const providerStart = await tokenBalance(anvil, token, provider.nodeId);
    let expected = 0n;
    for (let seed = 1; seed <= RUNS; seed++) {
      const rng = random(seed);
      const victim = rng() < 0.5 ? 'requestor' : 'provider';
      const points = ['note-sent', 'note-accepted', 'invoice-sent', 'invoice-accepted', 'delayed'] as const;
      const point = points[Math.floor(rng() * points.length)]!;
      const delayMs = Math.floor(rng() * 3000);
      const noteAmount = (Math.floor(rng() * 400) + 100) / 1000;
      const total = noteAmount + (Math.floor(rng() * 400) + 100) / 1000;
      const label = `seed ${seed}: kill ${victim} at ${point}${point === 'delayed' ? ` +${delayMs} ms` : ''}`;
      const before = await tokenBalance(anvil, token, provider.nodeId);
      const { allocationId, agreementId } = await paidAgreement(requestor, provider, '2');
      const { activityId } = (await activities(requestor).requestorControl.createActivity({
        agreementId,
      } as never)) as { activityId: string };
      const kill = async () => {
        if (victim === 'requestor') {
          await requestor.kill();
          requestor = await requestor.restart();
        } else {
          await provider.kill();
          provider = await provider.restart();
        }
      };
      const status = async (daemon: DaemonHandle, kind: 'debitNote' | 'invoice', id: string) =>
        kind === 'debitNote'
          ? ((await payments(daemon).requestor.getDebitNote(id)) as Doc).status
          : ((await payments(daemon).requestor.getInvoice(id)) as Doc).status;
      const received = (kind: 'debitNote' | 'invoice', id: string) =>
        eventually(
          async () => (await status(requestor, kind, id)) === 'RECEIVED',
          `${label}: ${kind} received`,
          30_000,
        );

      const note = (await payments(provider).provider.issueDebitNote({
        activityId,
        totalAmountDue: String(noteAmount),
      } as never)) as { debitNoteId: string };
      await payments(provider).provider.sendDebitNote(note.debitNoteId, 5);
      if (point === 'note-sent') await kill();
      await received('debitNote', note.debitNoteId);
      await payments(requestor).requestor.acceptDebitNote(
        note.debitNoteId,
        { totalAmountAccepted: String(noteAmount), allocationId },
        5,
      );
      if (point === 'note-accepted') await kill();
      // The activity may have died with the provider; its end changes nothing for the books.
      await activities(requestor)
        .requestorControl.destroyActivity(activityId, 5)
        .catch(() => {});

      const invoice = (await payments(provider).provider.issueInvoice({
        agreementId,
        activityIds: [activityId],
        amount: String(total),
        paymentDueDate: new Date().toISOString(),
      } as never)) as { invoiceId: string };
      await payments(provider).provider.sendInvoice(invoice.invoiceId, 5);
      if (point === 'invoice-sent') await kill();
      await received('invoice', invoice.invoiceId);
      await payments(requestor).requestor.acceptInvoice(
        invoice.invoiceId,
        { totalAmountAccepted: String(total), allocationId },
        5,
      );
      if (point === 'invoice-accepted') await kill();
      if (point === 'delayed') {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await kill();
      }
      expected += parseUnits(String(total), 18);
      for (const daemon of [provider, requestor])
        await eventually(
          async () => (await status(daemon, 'invoice', invoice.invoiceId)) === 'SETTLED',
          `${label}: invoice SETTLED on the ${daemon === provider ? 'provider' : 'requestor'}`,
          90_000,
        );
      assert.equal(
        await status(provider, 'debitNote', note.debitNoteId),
        'SETTLED',
        `${label}: debit note settled`,
      );
      const moved = (await tokenBalance(anvil, token, provider.nodeId)) - before;
      assert.equal(formatUnits(moved, 18), String(total), `${label}: paid once on chain`);
    }
    // Nothing arrives later either: a few batch windows on, the chain still shows each invoice paid once.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    assert.equal((await tokenBalance(anvil, token, provider.nodeId)) - providerStart, expected);
  });
});
