/**
 * golemsp as a provider sells to requestors driven through ya-ts-client, on a real anvil with a relay:
 * one that behaves (earns: debit notes accepted, the agent ends the single-activity agreement with Success, the
 * invoice equals the activity's final cost and is paid on chain), and three that do not: one that never accepts
 * debit notes (DebitNotesDeadline), one that never pays payable debit notes (DebitNoteNotPaid: its account has no
 * gas), one that vanishes mid-activity (RequestorUnreachable). Each end's reason reaches the requestor's agreement
 * events, each agreement gets exactly one invoice, and `golemsp status --json` shows it all.
 * Also: an agreement that runs out mid-activity (Expired, billed to its end, paid), a second activity on a
 * single-activity agreement ended by the agent and never billed, and settings changed while golemsp runs
 * (a new price re-published, a file that does not parse ignored with a log line).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Address } from 'viem';
import { MarketApi } from 'ya-ts-client';
import { linearCost, toUnits } from '../../src/agents/provider/index.ts';
import { activityClient, exeUnitPids } from '../support/activity.ts';
import { type Anvil, anvilRpc, deployDevContracts, startAnvil } from '../support/anvil.ts';
import {
  type DaemonHandle,
  type RelayHandle,
  runCli,
  startDaemon,
  startRelayProcess,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { fund, paymentEnv, payments, tokenBalance } from '../support/payment.ts';
import {
  acceptEverything,
  agreeWithAgent,
  GOLEMSP,
  type GolemspHandle,
  startGolemsp,
} from '../support/provider.ts';

const TEST_RUNTIME = fileURLToPath(new URL('../support/exeunit-runtime/descriptor.json', import.meta.url));
const SUBNET = `provider-${randomBytes(3).toString('hex')}`;
const TERMS = {
  'golem.com.payment.debit-notes.accept-timeout?': 6,
  'golem.com.scheme.payu.debit-note.interval-sec?': 2,
};

type TerminatedEvent = {
  eventType: string;
  agreementId: string;
  terminator?: string;
  reason?: Record<string, unknown>;
};
type Note = {
  debitNoteId: string;
  agreementId: string;
  activityId: string;
  status: string;
  totalAmountDue: string;
  usageCounterVector?: number[];
  timestamp: string;
};
type Invoice = {
  invoiceId: string;
  agreementId: string;
  amount: string;
  status: string;
  activityIds?: string[];
};

/** The termination as a node's agreement events show it (the requestor's, or the provider's own). */
async function terminationSeenBy(
  node: Pick<DaemonHandle, 'apiUrl' | 'appKey'>,
  agreementId: string,
): Promise<TerminatedEvent> {
  const market = new MarketApi.Client({ BASE: `${node.apiUrl}/market-api/v1`, TOKEN: node.appKey }).requestor;
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
  const providerPayments = () =>
    payments({ apiUrl: provider.apiUrl, appKey: provider.appKey } as DaemonHandle).provider;
  /** The provider's debit notes of one activity, oldest first. */
  const notesOf = async (activityId: string) =>
    ((await providerPayments().getDebitNotes(undefined, 1000)) as Note[])
      .filter((n) => n.activityId === activityId)
      .sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  /** The agreement's invoice, once the provider holds it SETTLED. */
  const settledInvoice = async (agreementId: string): Promise<Invoice> => {
    let invoice: Invoice | undefined;
    await eventually(
      async () => {
        invoice = ((await providerPayments().getInvoices(undefined, 1000)) as Invoice[]).find(
          (i) => i.agreementId === agreementId,
        );
        return invoice?.status === 'SETTLED';
      },
      'the invoice settled on the provider',
      90_000,
    );
    return invoice!;
  };

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
        // Short agreements allowed, for the expiry test.
        '--min-agreement-expiration',
        '0',
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
    const prov = providerPayments();
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
    const invoice = await settledInvoice(agreementId);
    const last = (await notesOf(activityId)).at(-1)!;
    assert.equal(
      invoice.amount,
      last.totalAmountDue,
      'the invoice is the final debit note of the one activity',
    );
    assert.ok(toUnits(invoice.amount) > toUnits('0.01'), 'more than the start price: usage was billed');
    const after = await tokenBalance(anvil, token, provider.nodeId);
    assert.equal(after - before, toUnits(invoice.amount), 'the chain shows the invoice paid');
    await acceptor.stop();
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.state, 'Terminated');
    assert.equal(shown.terminator, 'Provider');
    assert.equal(shown.reason?.['golem.provider.code'], 'Success');
    assert.deepEqual(shown.invoice, {
      invoiceId: invoice.invoiceId,
      amount: invoice.amount,
      status: 'SETTLED',
    });
    assert.ok(toUnits(provider.status().earnings.settled) >= toUnits(invoice.amount));
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
    const prov = providerPayments();
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
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
        activityId: string;
      };
      ids.push(activityId);
      await eventually(
        async () => (await notesOf(activityId)).length > 0,
        'a debit note of the activity',
        30_000,
      );
      await activities.requestorControl.destroyActivity(activityId, 10);
    }
    // Both activities ended, the agreement stays (multi-activity) until the idle timeout (30 s here).
    const ended = await terminationSeenBy(good, agreementId);
    assert.equal(ended.reason?.['golem.provider.code'], 'NoActivity');
    const invoice = await settledInvoice(agreementId);
    await acceptor.stop();
    const finals = await Promise.all(ids.map(async (id) => (await notesOf(id)).at(-1)!.totalAmountDue));
    assert.equal(
      toUnits(invoice.amount),
      toUnits(finals[0]!) + toUnits(finals[1]!),
      'the sum of the final notes',
    );
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.activities.length, 2);
    assert.equal(shown.reason?.['golem.provider.code'], 'NoActivity');
  });
  it('ends an agreement that runs out mid-activity with Expired, bills the usage to its end, and is paid', async () => {
    const requestor = good;
    const before = await tokenBalance(anvil, token, provider.nodeId);
    const { agreementId, allocationId } = await agreeWithAgent(requestor, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
      expiresInMs: 35_000,
    });
    const market = new MarketApi.Client({
      BASE: `${requestor.apiUrl}/market-api/v1`,
      TOKEN: requestor.appKey,
    }).requestor;
    const agreement = (await market.getAgreement(agreementId)) as {
      demand: { properties: Record<string, unknown> };
      offer: { properties: Record<string, unknown> };
    };
    const expiresAt = Number(agreement.demand.properties['golem.srv.comp.expiration']);
    const coeffs = agreement.offer.properties['golem.com.pricing.model.linear.coeffs'] as number[];
    const acceptor = acceptEverything(requestor, allocationId);
    const activities = activityClient(requestor);
    const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
      activityId: string;
    };
    const createdAt = Date.now();
    assert.ok(createdAt < expiresAt, 'the activity runs before the agreement runs out');

    const ended = await terminationSeenBy(requestor, agreementId);
    assert.equal(ended.reason?.['golem.provider.code'], 'Expired');
    assert.equal(ended.terminator, 'Provider');
    const own = await terminationSeenBy(provider, agreementId);
    assert.equal(own.reason?.['golem.provider.code'], 'Expired');
    assert.ok(Date.now() >= expiresAt, 'not ended before it ran out');

    const invoice = await settledInvoice(agreementId);
    await acceptor.stop();
    const notes = await notesOf(activityId);
    assert.ok(notes.length >= 2, 'debit notes while it ran, and the final one');
    const final = notes.at(-1)!;
    assert.ok(Date.parse(final.timestamp) >= expiresAt, 'the final debit note comes after the end');
    // The final note bills the usage the ExeUnit reached when the agreement's end stopped it.
    const usage = (await activityClient({
      apiUrl: provider.apiUrl,
      appKey: provider.appKey,
    } as DaemonHandle).requestorState.getActivityUsage(activityId)) as { currentUsage: number[] };
    assert.deepEqual(final.usageCounterVector, usage.currentUsage);
    const durationIndex = (agreement.offer.properties['golem.com.usage.vector'] as string[]).indexOf(
      'golem.usage.duration_sec',
    );
    assert.ok(
      usage.currentUsage[durationIndex]! >= (expiresAt - createdAt) / 1000 - 1,
      `the duration billed (${usage.currentUsage[durationIndex]} s) reaches the expiry`,
    );
    assert.equal(toUnits(final.totalAmountDue), linearCost(coeffs, usage.currentUsage));
    assert.equal(invoice.amount, final.totalAmountDue, 'the invoice is the final debit note');
    const after = await tokenBalance(anvil, token, provider.nodeId);
    assert.equal(after - before, toUnits(invoice.amount), 'the chain shows the invoice paid');

    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.state, 'Terminated');
    assert.equal(shown.terminator, 'Provider');
    assert.equal(shown.reason?.['golem.provider.code'], 'Expired');
    assert.deepEqual(
      shown.activities.map((a) => a.state),
      ['Terminated'],
    );
    assert.deepEqual(shown.invoice, {
      invoiceId: invoice.invoiceId,
      amount: invoice.amount,
      status: 'SETTLED',
    });
  });

  it('keeps a single-activity agreement to one activity: a second one is ended by the agent, unbilled', async () => {
    const requestor = good;
    const { agreementId, allocationId } = await agreeWithAgent(requestor, provider.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
    });
    const acceptor = acceptEverything(requestor, allocationId);
    const activities = activityClient(requestor);
    const create = async () =>
      (
        (await activities.requestorControl.createActivity({ agreementId } as never)) as {
          activityId: string;
        }
      ).activityId;
    const first = await create();
    await eventually(async () => (await notesOf(first)).length >= 1, 'a debit note of the first', 30_000);
    // The daemon's own bound (live activities per agreement) allows a second: only the agent holds the terms. The
    // agent ends it before it is ready (the requestor's create fails with the reason) or after (its state says why).
    let second: string;
    try {
      second = await create();
      let state: { state: string[]; reason?: string | null } | undefined;
      await eventually(
        async () => {
          state = (await activities.requestorState.getActivityState(second)) as typeof state;
          return state!.state[0] === 'Terminated';
        },
        'the second activity ended',
        30_000,
      );
      assert.equal(state!.reason, 'Only single Activity allowed');
    } catch (error) {
      const body = (error as { body?: { message?: string; details?: { activityId?: string } } }).body;
      if (body?.details?.activityId === undefined) throw error;
      assert.match(String(body.message), /Only single Activity allowed/);
      second = body.details.activityId;
    }
    await eventually(() => exeUnitPids(second).length === 0, "the second activity's ExeUnit gone", 30_000);
    const firstNotes = (await notesOf(first)).length;
    await eventually(
      async () => (await notesOf(first)).length > firstNotes,
      'the first activity billed on',
      30_000,
    );
    const firstState = (await activities.requestorState.getActivityState(first)) as { state: string[] };
    assert.notEqual(firstState.state[0], 'Terminated', 'the first activity runs on');

    await activities.requestorControl.destroyActivity(first, 10);
    const ended = await terminationSeenBy(requestor, agreementId);
    assert.equal(ended.reason?.['golem.provider.code'], 'Success');
    const invoice = await settledInvoice(agreementId);
    await acceptor.stop();
    assert.deepEqual(await notesOf(second), [], 'the refused activity is never billed');
    const final = (await notesOf(first)).at(-1)!;
    assert.equal(invoice.amount, final.totalAmountDue, 'the invoice is the first activity alone');
    const shown = agreementOf(provider, agreementId);
    assert.equal(shown.reason?.['golem.provider.code'], 'Success');
    assert.deepEqual(
      shown.activities.find((a) => a.activityId === second),
      { activityId: second, state: 'Terminated', reason: 'Only single Activity allowed' },
    );
  });

  it('applies settings changed while it runs: a new price re-publishes the offer, a bad edit keeps it', async () => {
    const requestor = good;
    const coeffsKey = 'golem.com.pricing.model.linear.coeffs';
    /** The provider's offers the requestor's node knows now (a fresh market scan). */
    const offersSeen = async () => {
      const base = `${requestor.apiUrl}/market-api/v1`;
      const headers = { authorization: `Bearer ${requestor.appKey}`, 'content-type': 'application/json' };
      const scanId = (await (
        await fetch(`${base}/scan`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ type: 'offer', constraints: `(golem.node.debug.subnet=${SUBNET})` }),
        })
      ).json()) as string;
      const offers = (await (await fetch(`${base}/scan/${scanId}/events?timeout=1`, { headers })).json()) as {
        offerId: string;
        providerId: string;
        properties: Record<string, unknown>;
      }[];
      await fetch(`${base}/scan/${scanId}`, { method: 'DELETE', headers });
      return offers
        .filter(
          (o) => o.providerId === provider.nodeId && o.properties['golem.runtime.name'] === 'test-runtime',
        )
        .map((o) => ({ offerId: o.offerId, cpuPerSecond: (o.properties[coeffsKey] as number[])[0] }));
    };
    const golemsp = (...args: string[]) =>
      spawnSync(process.execPath, [GOLEMSP, ...args, '--data-dir', provider.dataDir], { encoding: 'utf8' });
    const offered = () =>
      provider
        .status()
        .offers.filter((o) => o.runtime === 'test-runtime')
        .map((o) => o.subscriptionId);
    const [old] = offered();
    assert.ok(old !== undefined);

    const set = golemsp('settings', 'set', '--cpu-per-hour', '72');
    assert.equal(set.status, 0, set.stderr);
    let now: string[] = [];
    await eventually(
      () => {
        now = offered();
        return now.length === 1 && now[0] !== old;
      },
      'the offer re-published',
      30_000,
    );
    let pingedAt = 0;
    let seen: Awaited<ReturnType<typeof offersSeen>> = [];
    const newOfferSeen = eventually(
      async () => {
        if (Date.now() - pingedAt > 10_000) {
          pingedAt = Date.now();
          runCli(['net', 'ping', provider.nodeId], { dataDir: requestor.dataDir });
        }
        seen = await offersSeen();
        // The new price (72 GLM/h = 0.02 GLM/s) is offered, the old one (0.01 GLM/s) is gone.
        return seen.length === 1 && seen[0]!.cpuPerSecond === 72 / 3600;
      },
      'the new offer at the requestor, and the old one gone',
      60_000,
    );
    await newOfferSeen.catch((error: Error) => {
      throw new Error(`${error.message} (seen: ${JSON.stringify(seen)})`);
    });

    // Half an edit: were it read as no file at all, the defaults (another subnet, other prices) would be offered.
    const globalsPath = join(provider.dataDir, 'globals.json');
    const intact = readFileSync(globalsPath, 'utf8');
    writeFileSync(globalsPath, '{ "subnet": "public", "prices": { oops');
    await eventually(
      () => /settings not applied/.test(provider.logs()) && provider.logs().includes('globals.json'),
      'the bad edit reported',
      30_000,
    );
    const shown = provider.status();
    assert.match(String(shown.settingsError), /globals\.json/, 'status says the files were not applied');
    assert.equal(shown.node.subnet, SUBNET, 'the settings in force');
    assert.deepEqual(offered(), now, 'the offer stays');
    assert.deepEqual(
      (await offersSeen()).map((o) => o.cpuPerSecond),
      [72 / 3600],
      'the requestor still sees the offer',
    );
    writeFileSync(globalsPath, intact);
    await eventually(() => provider.status().settingsError === null, 'the mended file applied', 30_000);
    assert.deepEqual(offered(), now, 'the same terms: the offer is not replaced');
  });
});
