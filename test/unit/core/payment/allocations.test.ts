import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GolemError } from '../../../../src/core/errors/index.ts';
import { PaymentPublicAddress, remotePaymentAddress } from '../../../../src/core/model/payment.ts';
import { parseAmount } from '../../../../src/core/payment/index.ts';
import { FakeDriver, PLATFORM } from './fake-driver.ts';
import { acceptInvoice, agree, eventually, sendInvoice, startNode, startPair, world } from './harness.ts';

async function requestorNode(funds = '10') {
  const w = world();
  const node = await startNode(w);
  w.chain.mint(node.nodeId, funds);
  return { w, node };
}

function code(error: unknown): string {
  assert.ok(error instanceof GolemError, String(error));
  return error.code;
}

/** A driver whose balance reads wait until the test lets them go: the await point of a race. */
class GatedDriver extends FakeDriver {
  gate: Promise<void> | undefined;
  reads = 0;
  override async getBalance(platform: string, address: string) {
    this.reads++;
    await this.gate;
    return super.getBalance(platform, address);
  }
}

describe('allocations', () => {
  it('deposit-backed: spender, amount, timeout and one allocation per deposit are checked', async () => {
    const { w, node } = await requestorNode('0');
    const contract = '0x00000000000000000000000000000000000000aa';
    const validTo = new Date(Date.now() + 3_600_000).toISOString();
    w.chain.deposits.set(`${contract}:7`, {
      id: '7',
      contract,
      funder: '0x00000000000000000000000000000000000000bb',
      spender: node.nodeId,
      amount: '5',
      fee: '0',
      validTo,
    });
    const create = (body: Record<string, unknown>) =>
      node.payment.allocations.create(node.nodeId, {
        paymentPlatform: PLATFORM,
        totalAmount: '5',
        timeout: new Date(Date.now() + 600_000).toISOString(),
        deposit: { id: '7', contract },
        ...body,
      });
    assert.equal(code(await create({ timeout: undefined }).catch((e) => e)), 'PAYMENT_DEPOSIT_INVALID');
    assert.equal(code(await create({ totalAmount: '5.1' }).catch((e) => e)), 'PAYMENT_DEPOSIT_INVALID');
    assert.equal(
      code(await create({ timeout: new Date(Date.now() + 7_200_000).toISOString() }).catch((e) => e)),
      'PAYMENT_DEPOSIT_INVALID',
    );
    assert.equal(
      code(await create({ deposit: { id: '8', contract } }).catch((e) => e)),
      'PAYMENT_DEPOSIT_INVALID',
    );
    // No balance at all: the deposit is what backs it.
    const row = await create({});
    assert.equal(code(await create({ totalAmount: '1' }).catch((e) => e)), 'PAYMENT_DEPOSIT_INVALID');
    const decorations = node.payment.allocations.decorations(node.nodeId, [row.allocation_id]);
    assert.ok(decorations.constraints.includes('(golem.com.payment.protocol.version>2)'));
    // Released, the deposit may back a new allocation.
    node.payment.allocations.release(node.nodeId, row.allocation_id);
    await create({});
  });

  it('a deposit-backed acceptance is paid from the deposit, which is closed after release', async () => {
    const { w, requestor, provider } = await startPair();
    const contract = '0x00000000000000000000000000000000000000aa';
    w.chain.deposits.set(`${contract}:9`, {
      id: '9',
      contract,
      funder: '0x00000000000000000000000000000000000000bb',
      spender: requestor.nodeId,
      amount: '5',
      fee: '0',
      validTo: new Date(Date.now() + 3_600_000).toISOString(),
    });
    w.chain.mint(requestor.nodeId, '5');
    const allocation = await requestor.payment.allocations.create(requestor.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '2',
      timeout: new Date(Date.now() + 600_000).toISOString(),
      deposit: { id: '9', contract },
    });
    const { agreementId } = agree(w, requestor, provider);
    const invoice = await sendInvoice(provider, { agreementId, amount: '1' });
    await acceptInvoice(requestor, invoice.invoiceId, '1', allocation);
    // Released: what it accepted is ordered from the deposit first, then the deposit is closed.
    requestor.payment.allocations.release(requestor.nodeId, allocation.allocation_id);
    await eventually(() => requestor.driver.releasedDeposits.length === 1);
    const [order] = requestor.driver.orders.values();
    assert.deepEqual(order!.deposit, { id: '9', contract });
    const [closed] = requestor.driver.releasedDeposits;
    assert.deepEqual(closed!.request, {
      platform: PLATFORM,
      payer: requestor.nodeId,
      deposit: { id: '9', contract },
    });
    assert.equal(closed!.ordersBefore, 1);
    // Once only, a restart included.
    const restarted = await requestor.restart();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(restarted.driver.releasedDeposits.length, 1);
  });

  it('times out and is released on its own (then 410)', async () => {
    const { node } = await requestorNode();
    const row = await node.payment.allocations.create(node.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '1',
      timeout: new Date(Date.now() + 300).toISOString(),
    });
    await eventually(() => node.payment.allocations.row(row.allocation_id)!.released_at !== null);
    assert.throws(
      () => node.payment.allocations.get(node.nodeId, row.allocation_id),
      (e: GolemError) => e.httpStatus === 410,
    );
    // Its funds are free again.
    await node.payment.allocations.create(node.nodeId, { paymentPlatform: PLATFORM, totalAmount: '10' });
  });

  it('amend: never below what is spent; only the increase is checked against free funds', async () => {
    const { w, requestor, provider } = await startPair({ funds: '10' });
    const row = await requestor.payment.allocations.create(requestor.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '4',
    });
    const { agreementId } = agree(w, requestor, provider);
    const invoice = await sendInvoice(provider, { agreementId, amount: '3' });
    await acceptInvoice(requestor, invoice.invoiceId, '3', row);
    const amend = (totalAmount: string) =>
      requestor.payment.allocations
        .amend(requestor.nodeId, row.allocation_id, { totalAmount })
        .catch((e) => e);
    assert.equal(code(await amend('2.5')), 'PAYMENT_ALLOCATION_INVALID');
    // 10 on chain, 3 of it owed (accepted, not yet paid), 1 still held: up to 6 more fit.
    assert.equal(code(await amend('10.5')), 'PAYMENT_INSUFFICIENT_FUNDS');
    const grown = await requestor.payment.allocations.amend(requestor.nodeId, row.allocation_id, {
      totalAmount: '10',
    });
    assert.equal(grown.total, parseAmount('10').toString());
    assert.equal(grown.spent, parseAmount('3').toString());
  });

  it('two creations racing for the same funds: the second, held at the balance read, is refused', async () => {
    const w = world();
    const driver = new GatedDriver(w.chain);
    const node = await startNode(w, { drivers: [driver] });
    w.chain.mint(node.nodeId, '10');
    let release!: () => void;
    driver.gate = new Promise((resolve) => {
      release = resolve;
    });
    const first = node.payment.allocations.create(node.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '6',
    });
    const second = node.payment.allocations.create(node.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '6',
    });
    await eventually(() => driver.reads === 2);
    release();
    const results = await Promise.allSettled([first, second]);
    assert.equal(results[0]!.status, 'fulfilled');
    assert.equal(results[1]!.status, 'rejected');
    assert.equal(code((results[1] as PromiseRejectedResult).reason), 'PAYMENT_INSUFFICIENT_FUNDS');
  });

  it('an amendment held at its balance read while an acceptance spends fails instead of overwriting', async () => {
    const w = world();
    const driver = new GatedDriver(w.chain);
    const requestor = await startNode(w, { drivers: [driver] });
    const provider = await startNode(w);
    w.chain.mint(requestor.nodeId, '10');
    const row = await requestor.payment.allocations.create(requestor.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '2',
    });
    const { agreementId } = agree(w, requestor, provider);
    const invoice = await sendInvoice(provider, { agreementId, amount: '1' });
    let release!: () => void;
    driver.gate = new Promise((resolve) => {
      release = resolve;
    });
    const reads = driver.reads;
    const amending = requestor.payment.allocations
      .amend(requestor.nodeId, row.allocation_id, { totalAmount: '3' })
      .catch((e) => e);
    await eventually(() => driver.reads === reads + 1);
    await acceptInvoice(requestor, invoice.invoiceId, '1', row);
    release();
    const error = await amending;
    assert.equal(code(error), 'PAYMENT_ALLOCATION_INVALID');
    assert.equal((error as GolemError).httpStatus, 409);
    const after = requestor.payment.allocations.row(row.allocation_id)!;
    assert.equal(after.spent, parseAmount('1').toString());
    assert.equal(after.total, parseAmount('2').toString());
  });
});

describe('per-peer bounds', () => {
  it('too large, too fast and too many invoices for one agreement are refused', async () => {
    const limits = { maxMessageBytes: 4096, ratePerSecond: 0.001, burst: 3, maxInvoicesPerAgreement: 1 };
    const { w, requestor, provider } = await startPair({ requestor: { limits } });
    const { agreementId } = agree(w, requestor, provider);
    const send = (message: unknown) =>
      provider.bus
        .call(remotePaymentAddress(requestor.nodeId, PaymentPublicAddress.SendInvoice), message)
        .catch((e) => e);
    assert.equal(code(await send({ padding: 'x'.repeat(5000) })), 'PAYMENT_LIMIT_EXCEEDED');
    const first = await sendInvoice(provider, { agreementId, amount: '1' });
    await provider.payment.documents.cancelInvoice(provider.nodeId, first.invoiceId, 2_000);
    const second = await provider.payment.documents.issueInvoice(provider.nodeId, {
      agreementId,
      amount: '1',
    });
    const refused = await provider.payment.documents
      .sendInvoice(provider.nodeId, second.invoiceId, 2_000)
      .catch((e) => e);
    assert.equal(code(refused), 'PAYMENT_LIMIT_EXCEEDED');
    // The burst of 3 is spent (invoice, cancellation, refused invoice): the next message waits for the rate.
    assert.equal(code(await send({})), 'PAYMENT_LIMIT_EXCEEDED');
    assert.equal(((await send({})) as GolemError).httpStatus, 429);
  });
});
