import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, digestOf, toHex } from '../../../../src/core/crypto/index.ts';
import { GolemError } from '../../../../src/core/errors/index.ts';
import { IdentityAddress } from '../../../../src/core/model/identity.ts';
import {
  type Payment,
  PaymentPublicAddress,
  remotePaymentAddress,
} from '../../../../src/core/model/payment.ts';
import { parseAmount } from '../../../../src/core/payment/index.ts';
import { PLATFORM } from './fake-driver.ts';
import {
  acceptDebitNote,
  acceptInvoice,
  agree,
  debitNoteStatus,
  eventually,
  invoiceStatus,
  sendDebitNote,
  sendInvoice,
  startNode,
  startPair,
  type TestNode,
} from './harness.ts';

async function pair(funds = '100') {
  const { w, requestor, provider } = await startPair({ funds });
  const { agreementId, activityId } = agree(w, requestor, provider);
  return { w, requestor, provider, agreementId, activityId };
}

async function rejects(work: Promise<unknown>, code: string, status?: number): Promise<GolemError> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof GolemError, `a GolemError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (status !== undefined) assert.equal(error.httpStatus, status);
    return error;
  }
  assert.fail(`expected ${code}`);
}

const settled = (node: TestNode, invoiceId: string) =>
  eventually(() => invoiceStatus(node, invoiceId) === 'SETTLED');
const spent = (node: TestNode, alloc: { allocation_id: string }) =>
  node.payment.allocations.row(alloc.allocation_id)!.spent;

const allocation = (node: TestNode, total: string) =>
  node.payment.allocations.create(node.nodeId, { paymentPlatform: PLATFORM, totalAmount: total });

const sendNote = (provider: TestNode, activityId: string, total: string) =>
  sendDebitNote(provider, { activityId, totalAmountDue: total });

const sendAgreementInvoice = (provider: TestNode, agreementId: string, activityId: string, amount: string) =>
  sendInvoice(provider, {
    agreementId,
    activityIds: [activityId],
    amount,
    paymentDueDate: new Date().toISOString(),
  });

/** An invoice of `amount` the provider sent and the requestor accepted, from a fresh allocation of 5. */
async function acceptedInvoice(
  { requestor, provider, agreementId, activityId }: Awaited<ReturnType<typeof pair>>,
  amount: string,
) {
  const alloc = await allocation(requestor, '5');
  const invoice = await sendAgreementInvoice(provider, agreementId, activityId, amount);
  await acceptInvoice(requestor, invoice.invoiceId, amount, alloc);
  return invoice;
}

const feed = (
  node: TestNode,
  kind: 'debitNote' | 'invoice',
  roleEvents = {
    requestor: ['RECEIVED', 'ACCEPTED', 'SETTLED', 'CANCELLED'],
    provider: ['ACCEPTED', 'REJECTED', 'SETTLED', 'CANCELLED'],
  },
) => node.payment.events.list(kind, node.nodeId, { maxEvents: 100, roleEvents }).map((e) => e.eventType);

describe('payment: allocation to settled invoice between two nodes', () => {
  it('debit notes and an invoice are accepted, paid once on chain and SETTLED on both sides', async () => {
    const { w, requestor, provider, agreementId, activityId } = await pair('10');
    const alloc = await allocation(requestor, '5');

    const first = await sendNote(provider, activityId, '0.5');
    assert.equal(debitNoteStatus(requestor, first.debitNoteId), 'RECEIVED');
    assert.equal(debitNoteStatus(provider, first.debitNoteId), 'RECEIVED');
    await acceptDebitNote(requestor, first.debitNoteId, '0.5', alloc);
    const second = await sendNote(provider, activityId, '1.25');
    assert.equal(second.previousDebitNoteId, first.debitNoteId);
    await acceptDebitNote(requestor, second.debitNoteId, '1.25', alloc);
    assert.equal(debitNoteStatus(provider, second.debitNoteId), 'ACCEPTED');
    // Cumulative notes: the allocation spent 1.25 in total, not 0.5 + 1.25.
    assert.equal(spent(requestor, alloc), parseAmount('1.25').toString());

    const invoice = await sendAgreementInvoice(provider, agreementId, activityId, '2');
    await acceptInvoice(requestor, invoice.invoiceId, '2', alloc);
    assert.equal(spent(requestor, alloc), parseAmount('2').toString());

    await requestor.payment.settlement.processNow();
    await settled(provider, invoice.invoiceId);
    assert.equal(invoiceStatus(requestor, invoice.invoiceId), 'SETTLED');
    assert.equal(debitNoteStatus(provider, second.debitNoteId), 'SETTLED');
    assert.equal(w.chain.balance(provider.nodeId), parseAmount('2'));
    assert.equal(w.chain.balance(requestor.nodeId), parseAmount('8'));
    assert.equal(w.chain.transfers.length, 1, 'one batched transfer');

    const [paid] = provider.payment.settlement.payments(provider.nodeId);
    assert.equal(paid!.amount, '2');
    assert.deepEqual(paid!.activityPayments, [{ activityId, amount: '1.25' }]);
    assert.deepEqual(paid!.agreementPayments, [{ agreementId, amount: '0.75' }]);
    assert.equal(paid!.details, w.chain.transfers[0]!.txHash);
    assert.deepEqual(feed(provider, 'invoice'), ['InvoiceAcceptedEvent', 'InvoiceSettledEvent']);
    assert.deepEqual(feed(requestor, 'invoice'), [
      'InvoiceReceivedEvent',
      'InvoiceAcceptedEvent',
      'InvoiceSettledEvent',
    ]);

    // A later batch finds nothing to pay.
    await requestor.payment.settlement.processNow();
    assert.equal(w.chain.transfers.length, 1);
  });
});

describe('payment: refusals', () => {
  it('an allocation larger than the free balance is refused with the amounts', async () => {
    const { requestor } = await pair('3');
    const error = await rejects(allocation(requestor, '3.5'), 'PAYMENT_INSUFFICIENT_FUNDS', 400);
    assert.equal(error.details?.requestedFunds, '3.5');
    assert.equal(error.details?.availableFunds, '3');
    await allocation(requestor, '2');
    // The first allocation reserves 2 of the 3: another 1.5 does not fit any more.
    const second = await rejects(allocation(requestor, '1.5'), 'PAYMENT_INSUFFICIENT_FUNDS', 400);
    assert.equal(second.details?.reservedFunds, '2');
  });

  it('an acceptance above what the allocation holds is refused and spends nothing', async () => {
    const { requestor, provider, activityId } = await pair('10');
    const alloc = await allocation(requestor, '1');
    const note = await sendNote(provider, activityId, '1.5');
    await rejects(
      acceptDebitNote(requestor, note.debitNoteId, '1.5', alloc),
      'PAYMENT_NOT_ENOUGH_ALLOCATED',
      400,
    );
    assert.equal(spent(requestor, alloc), '0');
    assert.equal(debitNoteStatus(requestor, note.debitNoteId), 'RECEIVED');
    await rejects(acceptDebitNote(requestor, note.debitNoteId, '1.4', alloc), 'PAYMENT_AMOUNT_MISMATCH', 400);
  });

  it('a second acceptance, sequential or concurrent, spends and pays once', async () => {
    const { w, requestor, provider, agreementId, activityId } = await pair('10');
    const alloc = await allocation(requestor, '5');
    const invoice = await sendAgreementInvoice(provider, agreementId, activityId, '1');
    const body = { totalAmountAccepted: '1', allocationId: alloc.allocation_id };
    await Promise.all([
      requestor.payment.documents.acceptInvoice(requestor.nodeId, invoice.invoiceId, body, 2_000),
      requestor.payment.documents.acceptInvoice(requestor.nodeId, invoice.invoiceId, body, 2_000),
    ]);
    await requestor.payment.documents.acceptInvoice(requestor.nodeId, invoice.invoiceId, body, 2_000);
    assert.equal(spent(requestor, alloc), parseAmount('1').toString());
    await requestor.payment.settlement.processNow();
    await requestor.payment.settlement.processNow();
    await settled(provider, invoice.invoiceId);
    assert.equal(w.chain.transfers.length, 1);
    assert.equal(w.chain.balance(provider.nodeId), parseAmount('1'));
    // The acceptance message arriving again at the provider is acknowledged without effect.
    const accepted = { invoiceId: invoice.invoiceId, issuerId: provider.nodeId, totalAmountAccepted: '1' };
    await requestor.bus.call(
      remotePaymentAddress(provider.nodeId, PaymentPublicAddress.AcceptInvoice),
      accepted,
    );
    assert.equal(invoiceStatus(provider, invoice.invoiceId), 'SETTLED');
  });

  it('documents from a node that is not the counterparty are refused', async () => {
    const { w, requestor, provider, agreementId, activityId } = await pair('10');
    const stranger = await startNode(w);
    const note = await provider.payment.documents.issueDebitNote(provider.nodeId, {
      activityId,
      totalAmountDue: '1',
    });
    const send = (from: TestNode, message: unknown) =>
      from.bus.call(remotePaymentAddress(requestor.nodeId, PaymentPublicAddress.SendDebitNote), message);
    // Claiming to be the provider does not help: the net authenticates the caller.
    await rejects(send(stranger, note), 'PAYMENT_NOT_COUNTERPARTY', 403);
    // Signing as itself, for someone else's agreement.
    await rejects(
      send(stranger, { ...note, issuerId: stranger.nodeId, payeeAddr: stranger.nodeId }),
      'PAYMENT_NOT_COUNTERPARTY',
      403,
    );
    assert.throws(
      () => requestor.payment.documents.getDebitNote(requestor.nodeId, note.debitNoteId),
      /not found/,
    );
    // The provider itself cannot name another issuer (the acceptance would go to that node).
    await rejects(send(provider, { ...note, issuerId: stranger.nodeId }), 'PAYMENT_NOT_COUNTERPARTY', 403);
    // Delivered twice it is stored once; another document under the same id is refused.
    await send(provider, note);
    await send(provider, note);
    await rejects(send(provider, { ...note, totalAmountDue: '2' }), 'PAYMENT_DOCUMENT_STATE', 409);
    assert.equal(
      requestor.payment.documents.getDebitNote(requestor.nodeId, note.debitNoteId).totalAmountDue,
      '1',
    );
    // Only the recipient answers: the stranger cannot accept the provider's invoice.
    const invoice = await sendAgreementInvoice(provider, agreementId, activityId, '1');
    await rejects(
      stranger.bus.call(remotePaymentAddress(provider.nodeId, PaymentPublicAddress.AcceptInvoice), {
        invoiceId: invoice.invoiceId,
        issuerId: provider.nodeId,
        totalAmountAccepted: '1',
      }),
      'PAYMENT_NOT_COUNTERPARTY',
      403,
    );
    assert.equal(invoiceStatus(provider, invoice.invoiceId), 'RECEIVED');
  });

  it('a payment with a bad signature, foreign shares or an already claimed transaction settles nothing', async () => {
    const started = await pair('10');
    const { w, requestor, provider, agreementId } = started;
    const invoice = await acceptedInvoice(started, '1');
    await requestor.payment.settlement.processNow();
    await settled(provider, invoice.invoiceId);
    const [paid] = requestor.payment.settlement.payments(requestor.nodeId);
    const sign = async (payment: Payment) =>
      requestor.bus.call<string>(IdentityAddress.Sign, {
        nodeId: requestor.nodeId,
        digest: toHex(digestOf(payment)),
      });
    const sendPayment = (payment: Payment, signature: string) =>
      requestor.bus.call(remotePaymentAddress(provider.nodeId, PaymentPublicAddress.SendPayment), {
        payment,
        signature,
      });

    // The same transaction claimed again under a new payment id.
    const again: Payment = { ...paid!, paymentId: crypto.randomUUID() };
    await rejects(sendPayment(again, await sign(again)), 'PAYMENT_DOUBLE_CLAIM', 400);
    // A signature over other content.
    const tampered: Payment = {
      ...paid!,
      paymentId: crypto.randomUUID(),
      amount: '0.5',
      agreementPayments: [{ agreementId, amount: '0.5' }],
    };
    await rejects(sendPayment(tampered, await sign(paid!)), 'PAYMENT_BAD_SIGNATURE', 400);
    // A share for an agreement this payer does not have with this payee.
    const foreign: Payment = {
      ...paid!,
      paymentId: crypto.randomUUID(),
      agreementPayments: [{ agreementId: 'f'.repeat(64), amount: '1' }],
    };
    await rejects(sendPayment(foreign, await sign(foreign)), 'PAYMENT_INVALID', 400);
    assert.equal(provider.payment.settlement.payments(provider.nodeId).length, 1);
    assert.equal(
      canonicalJson(provider.payment.settlement.payments(provider.nodeId)[0]),
      canonicalJson(paid),
    );
    assert.equal(w.chain.transfers.length, 1);
  });
});

describe('payment: delivery and restarts', () => {
  it('an invoice sent while the requestor is unreachable is delivered by the outbox later', async () => {
    const { w, requestor, provider, agreementId, activityId } = await pair('10');
    w.network.leave(requestor.nodeId);
    const invoice = await sendAgreementInvoice(provider, agreementId, activityId, '1');
    assert.equal(invoiceStatus(provider, invoice.invoiceId), 'ISSUED');
    w.network.join(requestor.bus);
    await eventually(() => invoiceStatus(provider, invoice.invoiceId) === 'RECEIVED');
    assert.equal(invoiceStatus(requestor, invoice.invoiceId), 'RECEIVED');
  });

  it('a queued invoice is cancelled only once the requestor has it; a rejected one can be cancelled too', async () => {
    const { w, requestor, provider, agreementId, activityId } = await pair('10');
    w.network.leave(requestor.nodeId);
    const invoice = await sendAgreementInvoice(provider, agreementId, activityId, '1');
    await rejects(
      provider.payment.documents.cancelInvoice(provider.nodeId, invoice.invoiceId, 500),
      'PAYMENT_PEER_UNREACHABLE',
      504,
    );
    assert.equal(invoiceStatus(provider, invoice.invoiceId), 'ISSUED');
    w.network.join(requestor.bus);
    await provider.payment.documents.cancelInvoice(provider.nodeId, invoice.invoiceId, 2_000);
    assert.equal(invoiceStatus(provider, invoice.invoiceId), 'CANCELLED');
    assert.equal(invoiceStatus(requestor, invoice.invoiceId), 'CANCELLED');

    const second = await sendAgreementInvoice(provider, agreementId, activityId, '1');
    await requestor.payment.documents.rejectInvoice(
      requestor.nodeId,
      second.invoiceId,
      { rejectionReason: 'BAD_SERVICE', totalAmountAccepted: '0' },
      2_000,
    );
    assert.equal(invoiceStatus(provider, second.invoiceId), 'REJECTED');
    assert.ok(feed(provider, 'invoice').includes('InvoiceRejectedEvent'));
    await provider.payment.documents.cancelInvoice(provider.nodeId, second.invoiceId, 2_000);
    assert.equal(invoiceStatus(requestor, second.invoiceId), 'CANCELLED');
  });

  it('a requestor restarted between acceptance and payment pays exactly once', async () => {
    const started = await pair('10');
    const { w, requestor, provider } = started;
    const invoice = await acceptedInvoice(started, '1.5');
    // Killed before the batch: the accepted amount is still owed after the restart.
    const restarted = await requestor.restart();
    // The driver sends the transfer, but the process dies before the confirmation is acknowledged.
    restarted.driver.holdConfirmations = true;
    await restarted.payment.settlement.processNow();
    assert.equal(w.chain.transfers.length, 1);
    assert.equal(invoiceStatus(restarted, invoice.invoiceId), 'ACCEPTED');
    const again = await restarted.restart();
    // The batch after the restart orders nothing new (the amount is scheduled); the driver redelivers, twice.
    await again.payment.settlement.processNow();
    assert.equal(w.chain.transfers.length, 1);
    again.driver.holdConfirmations = false;
    const [confirmation] = again.driver.unconfirmed;
    await again.driver.redeliver();
    await again.payment.settlement.onConfirmed(confirmation!);
    await settled(provider, invoice.invoiceId);
    assert.equal(w.chain.transfers.length, 1);
    assert.equal(w.chain.balance(provider.nodeId), parseAmount('1.5'));
    assert.equal(invoiceStatus(again, invoice.invoiceId), 'SETTLED');
  });
});
