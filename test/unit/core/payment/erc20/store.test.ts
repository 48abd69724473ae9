import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../../../../../src/core/db/index.ts';
import { Erc20Store, type NewTx } from '../../../../../src/core/payment/erc20/store.ts';

const PAYER = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const order = (orderId: string, amount = 5n) => ({
  orderId,
  platform: 'erc20-dev-tglm',
  payer: PAYER,
  payee: '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC',
  amountWei: amount,
});
const tx = (nonce: number, orderIds: string[], hash: string): NewTx => ({
  platform: 'erc20-dev-tglm',
  chainId: 31337,
  payer: PAYER,
  nonce,
  kind: 'transfer',
  to: PAYER,
  data: '0x',
  gasLimit: 21000n,
  orderIds,
  attempt: { hash, raw: '0x01', maxFeePerGas: 2n, priorityFeePerGas: 1n },
});

test('an order already claimed by one transaction cannot be claimed by another: the second is not stored at all', () => {
  const store = new Erc20Store(openDatabase(':memory:'));
  store.insertOrder(order('a'));
  store.insertOrder(order('b'));
  const first = store.insertTx(tx(0, ['a'], '0xaa'));
  assert.throws(() => store.insertTx(tx(1, ['b', 'a'], '0xbb')), /no longer pending/);
  // Rolled back as a whole: b is still pending, no second transaction, no attempt, the nonce did not move.
  assert.equal(store.getOrder('b')?.status, 'pending');
  assert.equal(store.getOrder('a')?.tx_id, first);
  assert.equal(store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_tx')?.n, 1);
  assert.equal(store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_tx_attempt')?.n, 1);
  assert.equal(store.storedNextNonce(31337, PAYER), 1);
});

test('confirming twice, or releasing a confirmed transaction, changes nothing', () => {
  const store = new Erc20Store(openDatabase(':memory:'));
  store.insertOrder(order('a', 3n));
  store.insertOrder(order('b', 4n));
  const txId = store.insertTx(tx(0, ['a', 'b'], '0xaa'));
  assert.equal(store.confirmTx(txId, '0xaa', 10n, 21000n, '2026-01-01T00:00:00.000Z'), true);
  assert.equal(store.confirmTx(txId, '0xaa', 10n, 21000n, '2026-01-01T00:00:00.000Z'), false);
  assert.equal(store.releaseTx(txId, 'dropped', 'late'), false);
  const confirmations = store.undeliveredConfirmations();
  assert.equal(confirmations.length, 1);
  assert.equal(confirmations[0]?.amount, '7');
  assert.deepEqual(JSON.parse(confirmations[0]?.order_ids ?? '[]'), ['a', 'b']);
  assert.equal(store.getOrder('a')?.status, 'confirmed');
});

test('a released transaction returns its orders to pending for the next one', () => {
  const store = new Erc20Store(openDatabase(':memory:'));
  store.insertOrder(order('a'));
  const txId = store.insertTx(tx(0, ['a'], '0xaa'));
  assert.equal(store.releaseTx(txId, 'failed', 'reverted', '0xaa'), true);
  assert.equal(store.getOrder('a')?.status, 'pending');
  assert.equal(store.getOrder('a')?.failures, 1);
  const again = store.insertTx(tx(1, ['a'], '0xbb'));
  assert.equal(store.getOrder('a')?.tx_id, again);
});

test('a deposit close already claimed by one transaction cannot be claimed by another: the second is not stored', () => {
  const store = new Erc20Store(openDatabase(':memory:'));
  const close = { contract: PAYER, depositId: '0x01', platform: 'erc20-dev-tglm', payer: PAYER };
  store.insertDepositClose(close);
  const closing = (nonce: number, hash: string): NewTx => ({
    ...tx(nonce, [], hash),
    kind: 'close',
    depositClose: { contract: close.contract, depositId: close.depositId },
  });
  const first = store.insertTx(closing(0, '0xaa'));
  assert.throws(() => store.insertTx(closing(1, '0xbb')), /no longer pending/);
  assert.equal(store.getDepositClose(close.contract, close.depositId)?.tx_id, first);
  assert.equal(store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_tx')?.n, 1);
  assert.equal(store.storedNextNonce(31337, PAYER), 1);
});
