/**
 * golemsp as a provider sells to requestors driven through ya-ts-client, on a real anvil with a relay:
 * one that behaves (earns: debit notes accepted, the agent ends the single-activity agreement with Success, the
 * invoice equals the activity's final cost and is paid on chain), and three that do not: one that never accepts
 * debit notes (DebitNotesDeadline), one that never pays payable debit notes (DebitNoteNotPaid: its account has no
 * gas), one that vanishes mid-activity (RequestorUnreachable). Each end's reason reaches the requestor's agreement
 * events, each agreement gets exactly one invoice, and `golemsp status --json` shows it all.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Address } from 'viem';
import { MarketApi } from 'ya-ts-client';
import { toUnits } from '../../src/agents/provider/index.ts';
import { activityClient } from '../support/activity.ts';
import { type Anvil, anvilRpc, deployDevContracts, startAnvil } from '../support/anvil.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess } from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { fund, paymentEnv, payments, tokenBalance } from '../support/payment.ts';
import { acceptEverything, agreeWithAgent, type GolemspHandle, startGolemsp } from '../support/provider.ts';

const TEST_RUNTIME = fileURLToPath(new URL('../support/exeunit-runtime/descriptor.json', import.meta.url));
const SUBNET = `provider-${randomBytes(3).toString('hex')}`;
const TERMS = {
  'golem.com.payment.debit-notes.accept-timeout?': 6,
  'golem.com.scheme.payu.debit-note.interval-sec?': 2,
};

type TerminatedEvent = { eventType: string; agreementId: string; reason?: Record<string, unknown> };

async function terminationSeenBy(requestor: DaemonHandle, agreementId: string): Promise<TerminatedEvent> {
  const market = new MarketApi.Client({ BASE: `${requestor.apiUrl}/market-api/v1`, TOKEN: requestor.appKey })
    .requestor;
  let event: TerminatedEvent | undefined;
  await eventually(
    async () => {
      const events = (await market.collectAgreementEvents(1, undefined, 100)) as TerminatedEvent[];
      event = events.find((e) => e.agreementId === agreementId && e.eventType === 'AgreementTerminatedEvent');
      return event !== undefined;
    },
    'the termination on the requestor',
    60_000,
  );
  return event!;
}

function agreementOf(provider: GolemspHandle, agreementId: string) {
  const found = provider.status().agreements.find((a) => a.agreementId === agreementId);
  assert.ok(found, `status lists agreement ${agreementId}`);
  return found;
}

describe('golemsp against requestors good and bad', () => {
  let anvil: Anvil;
  let token: Address;
  let relay: RelayHandle;
  let env: Record<string, string>;
  let provider: GolemspHandle;
  // Started before the provider publishes, so its offers reach them by gossip as they are published.
  let good: DaemonHandle;
  let neverAccepts: DaemonHandle;
  let neverPays: DaemonHandle;
  let vanishes: DaemonHandle;

  before(async () => {
    anvil = await startAnvil();
    token = (await deployDevContracts(anvil.rpcUrl)).token;
    relay = await startRelayProcess();
    env = paymentEnv(anvil, relay);
    const requestors = await Promise.all([1, 2, 3, 4].map(() => startDaemon({ env })));
    [good, neverAccepts, neverPays, vanishes] = requestors as [
      DaemonHandle,
      DaemonHandle,
      DaemonHandle,
      DaemonHandle,
    ];
    for (const requestor of [good, neverAccepts, neverPays, vanishes]) await fund(requestor);
    provider = await startGolemsp({
      env: { ...env, EXE_UNIT_PATH: TEST_RUNTIME },
      args: [
        '--payment-network',
        'dev',
        '--subnet',
        SUBNET,
        '--max-agreements',
        '4',
        '--idle-timeout',
        '30',
        '--cpu-per-hour',
        '36',
        '--env-per-hour',
        '3.6',
        '--starting-fee',
        '0.01',
      ],
    });
  });
  after(async () => {
    await provider?.stop();
    await Promise.all([good, neverAccepts, neverPays, vanishes].map((d) => d?.stop()));
    await relay?.stop();
    await anvil?.stop();
  });

  it('offers the runtime that passed its self-test, with prices as set', () => {
    const status = provider.status();
    assert.equal(status.running, true);
    assert.equal(status.node.subnet, SUBNET);
    const runtime = status.runtimes.find((r) => r.name === 'test-runtime');
    assert.deepEqual(runtime?.selfTest, { ok: true, reason: null });
    assert.equal(runtime?.offered, true);
    assert.ok(status.offers.some((o) => o.runtime === 'test-runtime'));
  });

  it('earns from a requestor that behaves: debit notes, Success, one invoice of the final cost, paid on chain', async () => {
    const requestor = good;
    const before = await tokenBalance(anvil, token, provider.nodeId);
    const { agreementId, allocationId } = await agreeWithAgent(requestor, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
    });
    const acceptor = acceptEverything(requestor, allocationId);
    const activities = activityClient(requestor);
    const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
      activityId: string;
    };
    const prov = payments({ apiUrl: provider.apiUrl, appKey: provider.appKey } as DaemonHandle).provider;
    await eventually(
      async () =>
        ((await prov.getDebitNotes(undefined, 1000)) as { agreementId: string; status: string }[]).filter(
          (n) => n.agreementId === agreementId && (n.status === 'ACCEPTED' || n.status === 'SETTLED'),
        ).length >= 2,
      'two accepted debit notes',
      30_000,
    );
    await activities.requestorControl.destroyActivity(activityId, 10);
    const ended = await terminationSeenBy(requestor, agreementId);
    assert.equal(ended.reason?.['golem.provider.code'], 'Success');
    let invoice: { invoiceId: string; amount: string; status: string } | undefined;
    await eventually(
      async () => {
        invoice = (
          (await prov.getInvoices(undefined, 1000)) as {
            agreementId: string;
            invoiceId: string;
            amount: string;
            status: string;
          }[]
        ).find((i) => i.agreementId === agreementId);
        return invoice?.status === 'SETTLED';
      },
      'the invoice settled on the provider',
      90_000,
    );
    const notes = (await prov.getDebitNotes(undefined, 1000)) as {
      activityId: string;
      totalAmountDue: string;
      timestamp: string;
    }[];
    const last = notes
      .filter((n) => n.activityId === activityId)
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
      .at(-1)!;
    assert.equal(
      invoice!.amount,
      last.totalAmountDue,
      'the invoice is the final debit note of the one activity',
    );
    assert.ok(toUnits(invoice!.amount) > toUnits('0.01'), 'more than the start price: usage was billed');
    const after = await tokenBalance(anvil, token, provider.nodeId);
    assert.equal(after - before, toUnits(invoice!.amount), 'the chain shows the invoice paid');
    await acceptor.stop();
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.state, 'Terminated');
    assert.equal(shown.terminator, 'Provider');
    assert.equal(shown.reason?.['golem.provider.code'], 'Success');
    assert.deepEqual(shown.invoice, {
      invoiceId: invoice!.invoiceId,
      amount: invoice!.amount,
      status: 'SETTLED',
    });
    assert.ok(toUnits(provider.status().earnings.settled) >= toUnits(invoice!.amount));
  });

  it('breaks with DebitNotesDeadline when debit notes are never accepted, and invoices what ran', async () => {
    const requestor = neverAccepts;
    const { agreementId } = await agreeWithAgent(requestor, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
    });
    await activityClient(requestor).requestorControl.createActivity({ agreementId } as never);
    const ended = await terminationSeenBy(requestor, agreementId);
    assert.equal(ended.reason?.['golem.provider.code'], 'DebitNotesDeadline');
    assert.match(String(ended.reason?.message), /accepting DebitNotes in time/);
    await eventually(
      async () => {
        const received = (await payments(requestor).requestor.getInvoices(undefined, 1000)) as {
          agreementId: string;
        }[];
        return received.some((i) => i.agreementId === agreementId);
      },
      'the invoice on the requestor',
      30_000,
    );
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.reason?.['golem.provider.code'], 'DebitNotesDeadline');
    assert.ok(shown.invoice !== null && shown.invoice.status !== 'SETTLED');
  });

  it('breaks with DebitNoteNotPaid when payable debit notes are accepted but never paid', async () => {
    const requestor = neverPays;
    // No gas: the requestor accepts, its payment batch can never be sent.
    await anvilRpc(anvil.rpcUrl, 'anvil_setBalance', [requestor.nodeId, '0x0']);
    const { agreementId, allocationId } = await agreeWithAgent(requestor, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: { ...TERMS, 'golem.com.scheme.payu.payment-timeout-sec?': 4 },
    });
    const acceptor = acceptEverything(requestor, allocationId);
    await activityClient(requestor).requestorControl.createActivity({ agreementId } as never);
    const ended = await terminationSeenBy(requestor, agreementId);
    await acceptor.stop();
    assert.equal(ended.reason?.['golem.provider.code'], 'DebitNoteNotPaid');
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.reason?.['golem.provider.code'], 'DebitNoteNotPaid');
    assert.ok(shown.invoice !== null);
  });

  it('breaks with RequestorUnreachable when the requestor vanishes mid-activity, and still issues the invoice', async () => {
    const requestor = vanishes;
    const { agreementId, allocationId } = await agreeWithAgent(requestor, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
    });
    const acceptor = acceptEverything(requestor, allocationId);
    await activityClient(requestor).requestorControl.createActivity({ agreementId } as never);
    const prov = payments({ apiUrl: provider.apiUrl, appKey: provider.appKey } as DaemonHandle).provider;
    await eventually(
      async () =>
        ((await prov.getDebitNotes(undefined, 1000)) as { agreementId: string; status: string }[]).some(
          (n) => n.agreementId === agreementId && (n.status === 'ACCEPTED' || n.status === 'SETTLED'),
        ),
      'a debit note accepted before the requestor vanishes',
      30_000,
    );
    await acceptor.stop();
    await requestor.kill();
    let shown: ReturnType<typeof agreementOf> | undefined;
    await eventually(
      () => {
        shown = agreementOf(provider, agreementId);
        return shown.state === 'Terminated' && shown.invoice !== null;
      },
      'the agreement broken and invoiced',
      60_000,
    );
    assert.equal(shown!.terminator, 'Provider');
    assert.equal(shown!.reason?.['golem.provider.code'], 'RequestorUnreachable');
    assert.equal(
      shown!.activities.every((a) => a.state === 'Terminated'),
      true,
    );
  });

  it('runs several activities when the demand allows it, ends idle agreements with NoActivity, invoices the sum', async () => {
    const { agreementId, allocationId } = await agreeWithAgent(good, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: { ...TERMS, 'golem.srv.caps.multi-activity': true },
    });
    const acceptor = acceptEverything(good, allocationId);
    const activities = activityClient(good);
    const prov = payments({ apiUrl: provider.apiUrl, appKey: provider.appKey } as DaemonHandle).provider;
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
        activityId: string;
      };
      ids.push(activityId);
      await eventually(
        async () =>
          ((await prov.getDebitNotes(undefined, 1000)) as { activityId: string }[]).some(
            (n) => n.activityId === activityId,
          ),
        'a debit note of the activity',
        30_000,
      );
      await activities.requestorControl.destroyActivity(activityId, 10);
    }
    // Both activities ended, the agreement stays (multi-activity) until the idle timeout (30 s here).
    const ended = await terminationSeenBy(good, agreementId);
    assert.equal(ended.reason?.['golem.provider.code'], 'NoActivity');
    let invoice: { amount: string; status: string } | undefined;
    await eventually(
      async () => {
        invoice = (
          (await prov.getInvoices(undefined, 1000)) as {
            agreementId: string;
            amount: string;
            status: string;
          }[]
        ).find((i) => i.agreementId === agreementId);
        return invoice?.status === 'SETTLED';
      },
      'the invoice settled',
      90_000,
    );
    await acceptor.stop();
    const notes = (await prov.getDebitNotes(undefined, 1000)) as {
      activityId: string;
      totalAmountDue: string;
      timestamp: string;
    }[];
    const finals = ids.map(
      (id) =>
        notes
          .filter((n) => n.activityId === id)
          .sort((a, b) => a.timestamp.localeCompare(b.timestamp))
          .at(-1)!.totalAmountDue,
    );
    assert.equal(
      toUnits(invoice!.amount),
      toUnits(finals[0]!) + toUnits(finals[1]!),
      'the sum of the final notes',
    );
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.activities.length, 2);
    assert.equal(shown.reason?.['golem.provider.code'], 'NoActivity');
  });
});
