/**
 * Payments between two real daemons on a real anvil, through the official ya-ts-client: an allocation, an
 * agreement made by the market, an activity, debit notes accepted as they come, an invoice accepted after the
 * end, the batch paid by the erc20 driver, the payment verified by the provider on chain and both sides SETTLED;
 * token balances read from the chain with viem. Then the REST refusals (problem+json on allocations).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  DebitNoteRepository,
  type Invoice,
  InvoiceRepository,
  nullLogger,
  PaymentApiAdapter,
  YagnaApi,
} from '@golem-sdk/golem-js';
import { type Address, createPublicClient, formatUnits, http, parseUnits } from 'viem';
import { ActivityApi } from 'ya-ts-client';
import { ControlConnection } from '../../src/core/control/index.ts';
import { PaymentPublicAddress, remotePaymentAddress } from '../../src/core/model/payment.ts';
import { terminateAgreement } from '../support/agreement.ts';
import { type Anvil, deployDevContracts, startAnvil } from '../support/anvil.ts';
import {
  type DaemonHandle,
  type RelayHandle,
  runCli,
  startDaemon,
  startRelayProcess,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import {
  agreementFor,
  fund,
  PLATFORM,
  paidAgreement,
  paymentEnv,
  payments,
  tokenBalance,
} from '../support/payment.ts';

const TEST_RUNTIME = fileURLToPath(new URL('../support/exeunit-runtime/descriptor.json', import.meta.url));

type Doc = { status: string };

describe('payment between two daemons on anvil', () => {
  let anvil: Anvil;
  let token: Address;
  let relay: RelayHandle;
  let requestor: DaemonHandle;
  let provider: DaemonHandle;
  let stranger: DaemonHandle;

  before(async () => {
    anvil = await startAnvil();
    token = (await deployDevContracts(anvil.rpcUrl)).token;
    relay = await startRelayProcess();
    const env = paymentEnv(anvil, relay);
    [requestor, provider, stranger] = await Promise.all([
      startDaemon({ env }),
      startDaemon({ env: { ...env, EXE_UNIT_PATH: TEST_RUNTIME } }),
      startDaemon({ env }),
    ]);
    await fund(requestor);
  });
  after(async () => {
    await Promise.all([requestor, provider, stranger].map((d) => d?.stop()));
    await relay?.stop();
    await anvil?.stop();
  });

  it('goes from allocation through debit notes and an invoice to SETTLED on both sides, tokens moved on chain', async () => {
    const started = new Date().toISOString();
    const requestorBefore = await tokenBalance(anvil, token, requestor.nodeId);
    const providerBefore = await tokenBalance(anvil, token, provider.nodeId);
    const { allocationId, agreementId } = await paidAgreement(requestor, provider);
    const req = payments(requestor).requestor;
    const prov = payments(provider).provider;
    const activities = new ActivityApi.Client({
      BASE: `${requestor.apiUrl}/activity-api/v1`,
      TOKEN: requestor.appKey,
    });
    const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
      activityId: string;
    };

    let cursor = started;
    for (const due of ['0.25', '0.75']) {
      const note = (await prov.issueDebitNote({ activityId, totalAmountDue: due } as never)) as {
        debitNoteId: string;
      };
      await prov.sendDebitNote(note.debitNoteId, 5);
      // The requestor sees it in its feed (as golem-js polls it) and accepts the exact amount.
      let events: { debitNoteId: string; eventType: string; eventDate: string }[] = [];
      await eventually(async () => {
        events = await req.getDebitNoteEvents(5, cursor, 100);
        return events.length > 0;
      }, 'the debit note event');
      const event = events.find((e) => e.debitNoteId === note.debitNoteId)!;
      assert.equal(event.eventType, 'DebitNoteReceivedEvent');
      cursor = event.eventDate;
      assert.equal(((await req.getDebitNote(note.debitNoteId)) as Doc).status, 'RECEIVED');
      await req.acceptDebitNote(note.debitNoteId, { totalAmountAccepted: due, allocationId }, 5);
      await eventually(
        async () => ((await prov.getDebitNote(note.debitNoteId)) as Doc).status !== 'RECEIVED',
        'acceptance on the provider',
      );
    }
    await activities.requestorControl.destroyActivity(activityId, 10);
    await terminateAgreement(requestor, agreementId);

    const invoice = (await prov.issueInvoice({
      agreementId,
      activityIds: [activityId],
      amount: '1.5',
      paymentDueDate: new Date().toISOString(),
    } as never)) as { invoiceId: string };
    await prov.sendInvoice(invoice.invoiceId, 5);
    assert.equal(((await req.getInvoice(invoice.invoiceId)) as Doc).status, 'RECEIVED');
    await req.acceptInvoice(invoice.invoiceId, { totalAmountAccepted: '1.5', allocationId }, 5);
    const allocation = await req.getAllocation(allocationId);
    assert.equal(allocation.spentAmount, '1.5');
    assert.equal(allocation.remainingAmount, '8.5');

    await eventually(
      async () => ((await prov.getInvoice(invoice.invoiceId)) as Doc).status === 'SETTLED',
      'the invoice SETTLED on the provider',
      90_000,
    );
    assert.equal(((await req.getInvoice(invoice.invoiceId)) as Doc).status, 'SETTLED');
    const providerEvents = await prov.getInvoiceEvents(0, started, 100);
    assert.deepEqual(
      providerEvents.map((e) => e.eventType),
      ['InvoiceAcceptedEvent', 'InvoiceSettledEvent'],
    );
    // The chain says the same: 1.5 tGLM from the requestor to the provider, paid once.
    const moved = (await tokenBalance(anvil, token, provider.nodeId)) - providerBefore;
    assert.equal(formatUnits(moved, 18), '1.5');
    assert.equal(
      formatUnits(requestorBefore - (await tokenBalance(anvil, token, requestor.nodeId)), 18),
      '1.5',
    );
    // One payment, or more when a batch window closed between the acceptances: together exactly 1.5.
    const paid = (await prov.getPayments(0)) as { paymentId: string; amount: string; details: string }[];
    const sum = (amounts: string[]) =>
      formatUnits(
        amounts.reduce((total, a) => total + parseUnits(a, 18), 0n),
        18,
      );
    assert.equal(sum(paid.map((p) => p.amount)), '1.5');
    for (const payment of paid) {
      const receipt = await createPublicClient({ transport: http(anvil.rpcUrl) }).getTransactionReceipt({
        hash: payment.details as `0x${string}`,
      });
      assert.equal(receipt.status, 'success');
    }

    // The requestor's view: its payment, healthy driver status, what the allocation spent and the order that paid.
    const sent = (await req.getPayments(5, started)) as { paymentId: string; details: string }[];
    assert.deepEqual(sent.map((p) => p.paymentId).sort(), paid.map((p) => p.paymentId).sort());
    assert.deepEqual(await req.paymentsStatus('dev', 'erc20'), []);
    await assert.rejects(req.paymentsStatus('nowhere'), (e: { status?: number }) => e.status === 404);
    const spent = (await (
      await fetch(`${requestor.apiUrl}/payment-api/v1/allocations/${allocationId}/expenditures`, {
        headers: { authorization: `Bearer ${requestor.appKey}` },
      })
    ).json()) as { amount: string }[];
    assert.deepEqual(
      spent.map((e) => e.amount),
      ['0.25', '0.5', '0.75'],
    );
    const orders = (await (
      await fetch(`${requestor.apiUrl}/payment-api/v1/allocations/${allocationId}/orders`, {
        headers: { authorization: `Bearer ${requestor.appKey}` },
      })
    ).json()) as { amount: string; status: string; paymentId: string }[];
    assert.equal(sum(orders.map((o) => o.amount)), '1.5');
    for (const order of orders) {
      assert.equal(order.status, 'confirmed');
      assert.ok(sent.some((p) => p.paymentId === order.paymentId));
    }

    // The CLI reads the same books.
    const cli = (daemon: DaemonHandle, ...args: string[]) => {
      const result = runCli([...args, '--json'], { dataDir: daemon.dataDir });
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout);
    };
    const status = cli(requestor, 'payment', 'status', '--network', 'dev');
    assert.equal(status.outgoingPaid, '1.5');
    assert.equal(status.outgoingPending, '0');
    assert.equal(cli(provider, 'payment', 'status', '--network', 'dev').incomingPaid, '1.5');
    const listed = cli(requestor, 'payment', 'invoice', 'list') as { invoiceId: string; status: string }[];
    assert.deepEqual(
      listed.map((i) => [i.invoiceId, i.status]),
      [[invoice.invoiceId, 'SETTLED']],
    );
    const notes = cli(provider, 'payment', 'debit-note', 'list') as { totalAmountDue: string }[];
    assert.deepEqual(
      notes.map((n) => n.totalAmountDue),
      ['0.25', '0.75'],
    );
    const accounts = cli(requestor, 'payment', 'accounts') as { platform: string; send: boolean }[];
    assert.ok(accounts.some((a) => a.platform === PLATFORM && a.send));
  });

  it('refuses an allocation above the balance with problem+json, and a second acceptance spends nothing', async () => {
    const response = await fetch(`${requestor.apiUrl}/payment-api/v1/allocations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${requestor.appKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ totalAmount: '1000000', paymentPlatform: PLATFORM }),
    });
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('content-type')?.split(';')[0], 'application/problem+json');
    const problem = (await response.json()) as Record<string, unknown>;
    assert.equal(problem.type, '/payment-api/v1/allocations/validation-error');
    assert.equal(problem.instance, '/payment-api/v1/allocations/insufficient-account-funds');
    assert.equal(problem.requestedFunds, '1000000');

    const { allocationId, agreementId } = await paidAgreement(requestor, provider, '2');
    const invoice = (await payments(provider).provider.issueInvoice({
      agreementId,
      activityIds: [],
      amount: '1',
      paymentDueDate: new Date().toISOString(),
    } as never)) as { invoiceId: string };
    await payments(provider).provider.sendInvoice(invoice.invoiceId, 5);
    const req = payments(requestor).requestor;
    await req.acceptInvoice(invoice.invoiceId, { totalAmountAccepted: '1', allocationId }, 5);
    await req.acceptInvoice(invoice.invoiceId, { totalAmountAccepted: '1', allocationId }, 5);
    assert.equal((await req.getAllocation(allocationId)).spentAmount, '1');
    await assert.rejects(
      req.acceptInvoice(invoice.invoiceId, { totalAmountAccepted: '0.5', allocationId }, 5),
    );
    await req.releaseAllocation(allocationId);
    await assert.rejects(
      req.getAllocation(allocationId),
      (error: { status?: number }) => error.status === 410,
    );
  });

  it('refuses an acceptance above the allocation and documents from a node that is not the counterparty', async () => {
    const { allocationId, agreementId } = await paidAgreement(requestor, provider, '1');
    const invoice = (await payments(provider).provider.issueInvoice({
      agreementId,
      activityIds: [],
      amount: '1.5',
      paymentDueDate: new Date().toISOString(),
    } as never)) as Record<string, unknown> & { invoiceId: string };
    await payments(provider).provider.sendInvoice(invoice.invoiceId, 5);
    const accepted = await fetch(`${requestor.apiUrl}/payment-api/v1/invoices/${invoice.invoiceId}/accept`, {
      method: 'POST',
      headers: { authorization: `Bearer ${requestor.appKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ totalAmountAccepted: '1.5', allocationId }),
    });
    assert.equal(accepted.status, 400);
    const body = (await accepted.json()) as { code: string; message: string };
    assert.equal(body.code, 'PAYMENT_NOT_ENOUGH_ALLOCATED');
    assert.match(body.message, /Not enough funds. Allocated: 1 Needed: 1.5/);
    assert.equal((await payments(requestor).requestor.getAllocation(allocationId)).spentAmount, '0');

    // A third node speaks to both parties' payment modules directly.
    const control = await ControlConnection.connect(join(stranger.dataDir, 'yagna.sock'));
    const refused = (target: string, address: string, message: unknown) =>
      control.call(remotePaymentAddress(target, address), message).then(
        () => 'accepted',
        (e: { code: string }) => e.code,
      );
    const forgedId = crypto.randomUUID();
    try {
      const { status: _status, ...copy } = (await payments(provider).provider.getInvoice(
        invoice.invoiceId,
      )) as Record<string, unknown>;
      const forged = { ...copy, invoiceId: forgedId };
      // As if it were the provider (the net says who is calling) …
      assert.equal(
        await refused(requestor.nodeId, PaymentPublicAddress.SendInvoice, forged),
        'PAYMENT_NOT_COUNTERPARTY',
      );
      // … or as itself, for an agreement it is no party to.
      assert.equal(
        await refused(requestor.nodeId, PaymentPublicAddress.SendInvoice, {
          ...forged,
          issuerId: stranger.nodeId,
          payeeAddr: stranger.nodeId,
        }),
        'PAYMENT_NOT_COUNTERPARTY',
      );
      // Nor can it answer for the requestor.
      assert.equal(
        await refused(provider.nodeId, PaymentPublicAddress.AcceptInvoice, {
          invoiceId: invoice.invoiceId,
          issuerId: provider.nodeId,
          totalAmountAccepted: '1.5',
        }),
        'PAYMENT_NOT_COUNTERPARTY',
      );
    } finally {
      await control.close();
    }
    assert.equal(
      ((await payments(provider).provider.getInvoice(invoice.invoiceId)) as Doc).status,
      'RECEIVED',
    );
    await assert.rejects(
      payments(requestor).requestor.getInvoice(forgedId),
      (e: { status?: number }) => e.status === 404,
    );
  });

  it('two app sessions on one node each hear only the debit notes and invoices of their own agreements', async () => {
    const started = new Date().toISOString();
    const activities = new ActivityApi.Client({
      BASE: `${requestor.apiUrl}/activity-api/v1`,
      TOKEN: requestor.appKey,
    });
    const prov = payments(provider).provider;
    const sent: Record<string, { debitNoteId: string; invoiceId: string; allocationId: string }> = {};
    for (const session of ['session-a', 'session-b']) {
      const { agreementId, allocationId } = await paidAgreement(requestor, provider, '1', session);
      const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
        activityId: string;
      };
      const note = (await prov.issueDebitNote({ activityId, totalAmountDue: '0.01' } as never)) as {
        debitNoteId: string;
      };
      await prov.sendDebitNote(note.debitNoteId, 5);
      await activities.requestorControl.destroyActivity(activityId, 10);
      const invoice = (await prov.issueInvoice({
        agreementId,
        activityIds: [activityId],
        amount: '0.02',
        paymentDueDate: new Date().toISOString(),
      } as never)) as { invoiceId: string };
      await prov.sendInvoice(invoice.invoiceId, 5);
      sent[session] = { debitNoteId: note.debitNoteId, invoiceId: invoice.invoiceId, allocationId };
    }
    const req = payments(requestor).requestor;
    for (const [session, own] of Object.entries(sent)) {
      const notes = await req.getDebitNoteEvents(0, started, 100, session);
      const invoices = await req.getInvoiceEvents(0, started, 100, session);
      assert.deepEqual([...new Set(notes.map((e) => e.debitNoteId))], [own.debitNoteId], session);
      assert.deepEqual([...new Set(invoices.map((e) => e.invoiceId))], [own.invoiceId], session);
      // The provider approved in the same session: its feed (acceptances) is split the same way.
      await req.acceptInvoice(
        own.invoiceId,
        { totalAmountAccepted: '0.02', allocationId: own.allocationId },
        5,
      );
    }
    for (const [session, own] of Object.entries(sent)) {
      let heard: string[] = [];
      await eventually(async () => {
        heard = (await prov.getInvoiceEvents(0, started, 100, session)).map((e) => e.invoiceId);
        return heard.length > 0;
      }, `the acceptance in ${session} on the provider`);
      assert.deepEqual([...new Set(heard)], [own.invoiceId], session);
    }
    // Without a session filter both are there.
    const all = (await req.getInvoiceEvents(0, started, 100)).map((e) => e.invoiceId);
    for (const own of Object.values(sent)) assert.ok(all.includes(own.invoiceId));
  });

  it("golem-js 3.6.0's own payment adapter: allocation, the invoice it hears of, its acceptance, release", async () => {
    const yagna = new YagnaApi({ apiKey: requestor.appKey, basePath: requestor.apiUrl });
    await yagna.connect();
    const adapter = new PaymentApiAdapter(
      yagna,
      new InvoiceRepository(yagna.payment, yagna.market),
      new DebitNoteRepository(yagna.payment, yagna.market),
      nullLogger(),
    );
    try {
      await adapter.connect();
      const allocation = await adapter.createAllocation({
        budget: 1,
        expirationSec: 3600,
        paymentPlatform: PLATFORM,
      });
      assert.equal(allocation.paymentPlatform, PLATFORM);
      assert.equal(allocation.address, requestor.nodeId);
      // golem-js confirms its agreements in its own app session and filters payment events by it.
      const agreementId = await agreementFor(requestor, provider, allocation.id, yagna.appSessionId);
      const heard = new Promise<Invoice>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('golem-js never heard of the invoice')), 30_000);
        const subscription = adapter.receivedInvoices$.subscribe((received) => {
          clearTimeout(timer);
          subscription.unsubscribe();
          resolve(received);
        });
      });
      const issued = (await payments(provider).provider.issueInvoice({
        agreementId,
        activityIds: [],
        amount: '0.125',
        paymentDueDate: new Date().toISOString(),
      } as never)) as { invoiceId: string };
      await payments(provider).provider.sendInvoice(issued.invoiceId, 5);
      const invoice = await heard;
      assert.equal(invoice.id, issued.invoiceId);
      assert.equal(invoice.getStatus(), 'RECEIVED');
      assert.equal(invoice.amount, '0.125');
      const accepted = await adapter.acceptInvoice(invoice, allocation, invoice.amount);
      assert.equal(accepted.getStatus(), 'ACCEPTED');
      await eventually(
        async () =>
          ((await payments(provider).provider.getInvoice(issued.invoiceId)) as Doc).status === 'SETTLED',
        'the invoice SETTLED on the provider',
        60_000,
      );
      assert.equal((await adapter.getInvoice(issued.invoiceId)).getStatus(), 'SETTLED');
      await adapter.releaseAllocation(await adapter.getAllocation(allocation.id));
      await assert.rejects(adapter.getAllocation(allocation.id));
    } finally {
      await yagna.disconnect();
    }
  });
});
