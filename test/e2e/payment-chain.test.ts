/**
 * The erc20 driver against a real anvil: signing through a digest signer, funding on dev, a big batch settling in a
 * handful of transactions, deposit payouts, confirmations redelivered until acknowledged, and the payee's checks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Address,
  createPublicClient,
  createWalletClient,
  formatGwei,
  type Hex,
  http,
  parseEther,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { openDatabase } from '../../src/core/db/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import type { PaymentConfirmation } from '../../src/core/payment/driver.ts';
import { lockPaymentArtifact, testGlmArtifact } from '../../src/core/payment/erc20/contracts.generated.ts';
import {
  createErc20Driver,
  type Erc20Driver,
  Erc20ErrorCode,
  remoteAccount,
} from '../../src/core/payment/erc20/index.ts';
import {
  type Anvil,
  anvilRpc,
  deployDevContracts,
  keySigner,
  startAnvil,
  waitFor,
} from '../support/anvil.ts';

const PLATFORM = 'erc20-dev-tglm';
let anvil: Anvil;
let dir: string;
let contracts: Awaited<ReturnType<typeof deployDevContracts>>;
const drivers: Erc20Driver[] = [];

const client = () => createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
const tokenBalance = (address: Address) =>
  client().readContract({
    address: contracts.token,
    abi: testGlmArtifact.abi,
    functionName: 'balanceOf',
    args: [address],
  });

function newDriver(name: string, extra: Partial<Parameters<typeof createErc20Driver>[0]> = {}) {
  const driver = createErc20Driver({
    db: openDatabase(join(dir, `${name}.db`)),
    logger: silentLogger,
    sign: keySigner(anvil.privateKeys),
    env: { DEV_GETH_ADDR: anvil.rpcUrl, ERC20_SENDOUT_INTERVAL_SECS: '1' },
    tickMs: 50,
    maxBackoffMs: 500,
    ...extra,
  });
  drivers.push(driver);
  return driver;
}

function collect(driver: Erc20Driver): PaymentConfirmation[] {
  const confirmations: PaymentConfirmation[] = [];
  driver.onConfirmed(async (c) => {
    confirmations.push(c);
  });
  return confirmations;
}

before(async () => {
  anvil = await startAnvil();
  contracts = await deployDevContracts(anvil.rpcUrl);
  dir = mkdtempSync(join(tmpdir(), 'golem-erc20-'));
});
after(async () => {
  for (const driver of drivers) await driver.stop();
  await anvil?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('signing without keys', () => {
  test('a transaction signed through the digest signer is accepted by anvil', async () => {
    const account = remoteAccount(anvil.accounts[1]!, keySigner([anvil.privateKeys[1]!]));
    const wallet = createWalletClient({ account, chain: foundry, transport: http(anvil.rpcUrl) });
    const to = privateKeyToAccount(generatePrivateKey()).address;
    const hash = await wallet.sendTransaction({ to, value: 12345n });
    const receipt = await client().waitForTransactionReceipt({ hash, pollingInterval: 50 });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.from, anvil.accounts[1]!.toLowerCase());
    assert.equal(await client().getBalance({ address: to }), 12345n);
  });

  test('a signer answering for another key is refused before anything is sent', async () => {
    const wrongKey = keySigner([anvil.privateKeys[2]!]);
    const liar = remoteAccount(anvil.accounts[1]!, (_address, digest) =>
      wrongKey(anvil.accounts[2]!, digest),
    );
    await assert.rejects(
      liar.signTransaction({
        chainId: 31337,
        type: 'eip1559',
        nonce: 0,
        to: anvil.accounts[3]!,
        value: 1n,
        gas: 21000n,
        maxFeePerGas: 1n,
      }),
      { code: Erc20ErrorCode.BadSignature },
    );
  });
});

describe('the erc20 driver on dev', () => {
  test('lists the platforms golem-js derives from PAYMENT_NETWORK', () => {
    const driver = newDriver('platforms');
    const names = driver.platforms().map((p) => p.platform);
    for (const p of [
      'erc20-dev-tglm',
      'erc20-holesky-tglm',
      'erc20-hoodi-tglm',
      'erc20-sepolia-tglm',
      'erc20-amoy-tglm',
      'erc20-polygon-glm',
      'erc20-mainnet-glm',
    ]) {
      assert.ok(names.includes(p), p);
    }
    assert.equal(driver.platforms().find((p) => p.platform === 'erc20-polygon-glm')?.testnet, false);
  });

  test('fund mints tGLM and gives gas on dev; on a real network it says what to do', async () => {
    const driver = newDriver('fund');
    const fresh = privateKeyToAccount(generatePrivateKey()).address;
    const result = await driver.fund(PLATFORM, fresh);
    assert.match(result.message, /minted 1000 tGLM and sent 10 ETH/);
    const balance = await driver.getBalance(PLATFORM, fresh);
    assert.equal(balance.token, '1000');
    assert.equal(balance.gas, '10');
    const again = await driver.fund(PLATFORM, fresh);
    assert.match(again.message, /already/);
    const polygon = await driver.fund('erc20-polygon-glm', fresh);
    assert.equal(polygon.txHashes.length, 0);
    assert.match(polygon.message, /buy GLM/);
    await assert.rejects(driver.fund('erc20-nowhere-tglm', fresh), { code: Erc20ErrorCode.UnknownPlatform });
  });

  test('1,000 orders to 100 payees settle in a handful of transactions, each payee paid exactly its sum', async () => {
    const driver = newDriver('batch');
    const payer = anvil.accounts[2]!;
    await driver.fund(PLATFORM, payer);
    const confirmations = collect(driver);
    await driver.start();
    const payees = Array.from({ length: 100 }, () => privateKeyToAccount(generatePrivateKey()).address);
    const expected = new Map<Address, bigint>();
    for (let i = 0; i < 1000; i++) {
      const payee = payees[i % 100]!;
      const amount = `0.00${(i % 7) + 1}`;
      await driver.schedulePayment({ orderId: `batch-${i}`, platform: PLATFORM, payer, payee, amount });
      expected.set(payee, (expected.get(payee) ?? 0n) + parseEther(amount));
    }
    // The same order again (a retry) is not a second payment; the same id with other content is refused.
    await driver.schedulePayment({
      orderId: 'batch-0',
      platform: PLATFORM,
      payer,
      payee: payees[0]!,
      amount: '0.001',
    });
    await assert.rejects(
      driver.schedulePayment({
        orderId: 'batch-0',
        platform: PLATFORM,
        payer,
        payee: payees[0]!,
        amount: '0.002',
      }),
      { code: Erc20ErrorCode.OrderConflict },
    );
    const before = await tokenBalance(payer);
    await driver.flush(PLATFORM);
    await waitFor(
      'all 1000 orders confirmed',
      () => confirmations.flatMap((c) => c.orderIds).length >= 1000 || undefined,
    );
    const txs = driver.store.db.all<{ kind: string; status: string }>(
      'SELECT kind, status FROM erc20_tx WHERE payer = ?',
      payer,
    );
    const payouts = txs.filter((t) => t.kind !== 'approve');
    assert.ok(payouts.length <= 3, `${payouts.length} payout transactions`);
    assert.ok(txs.every((t) => t.status === 'confirmed'));
    const orderIds = confirmations.flatMap((c) => c.orderIds);
    assert.equal(new Set(orderIds).size, 1000);
    let total = 0n;
    for (const payee of payees) {
      assert.equal(await tokenBalance(payee), expected.get(payee), `balance of ${payee}`);
      total += expected.get(payee)!;
    }
    assert.equal(before - (await tokenBalance(payer)), total);

    // The payee's side: every confirmation verifies.
    for (const c of confirmations.slice(0, 10)) {
      const verified = await driver.verifyPayment({
        platform: PLATFORM,
        txHash: c.txHash,
        payer,
        payee: c.payee,
        amount: c.amount,
      });
      assert.equal(verified.amount, c.amount);
      assert.equal(verified.transfers?.length, 1);
    }
    const c = confirmations[0]!;
    const other = payees.find((p) => p !== c.payee)!;
    await assert.rejects(
      driver.verifyPayment({
        platform: PLATFORM,
        txHash: c.txHash,
        payer,
        payee: anvil.accounts[9]!,
        amount: '0.001',
      }),
      {
        code: Erc20ErrorCode.NoMatchingTransfer,
      },
    );
    await assert.rejects(
      driver.verifyPayment({
        platform: PLATFORM,
        txHash: c.txHash,
        payer: anvil.accounts[3]!,
        payee: c.payee,
        amount: c.amount,
      }),
      {
        code: Erc20ErrorCode.NoMatchingTransfer,
      },
    );
    const tooMuch = (parseEther(c.amount) + 1n).toString();
    await assert.rejects(
      driver.verifyPayment({
        platform: PLATFORM,
        txHash: c.txHash,
        payer,
        payee: c.payee,
        amount: `${tooMuch.slice(0, -18) || '0'}.${tooMuch.slice(-18).padStart(18, '0')}`,
      }),
      { code: Erc20ErrorCode.AmountTooSmall },
    );
    await assert.rejects(
      driver.verifyPayment({
        platform: PLATFORM,
        txHash: `0x${'ab'.repeat(32)}`,
        payer,
        payee: other,
        amount: '1',
      }),
      {
        code: Erc20ErrorCode.TxNotFound,
        httpStatus: 503,
      },
    );
  });

  test('verifyPayment rejects a failed transaction and a transfer of another token', async () => {
    const driver = newDriver('verify');
    const payer = anvil.accounts[3]!;
    const payee = privateKeyToAccount(generatePrivateKey()).address;
    await driver.fund(PLATFORM, payer);
    const wallet = createWalletClient({
      account: privateKeyToAccount(anvil.privateKeys[3]!),
      chain: foundry,
      transport: http(anvil.rpcUrl),
    });
    // Another token with the same Transfer event: a second TestGLM deployment.
    const otherHash = await wallet.deployContract({
      abi: testGlmArtifact.abi,
      bytecode: testGlmArtifact.bytecode,
    });
    const other = (await client().waitForTransactionReceipt({ hash: otherHash })).contractAddress!;
    await client().waitForTransactionReceipt({
      hash: await wallet.writeContract({ address: other, abi: testGlmArtifact.abi, functionName: 'create' }),
    });
    const transfer = async (token: Address, amount: string, gas?: bigint) => {
      const hash = await wallet.writeContract({
        address: token,
        abi: testGlmArtifact.abi,
        functionName: 'transfer',
        args: [payee, parseEther(amount)],
        gas,
      });
      return { hash, receipt: await client().waitForTransactionReceipt({ hash }) };
    };
    const verify = (txHash: Hex, amount: string) =>
      driver.verifyPayment({ platform: PLATFORM, txHash, payer, payee, amount });
    const fake = await transfer(other, '5');
    await assert.rejects(verify(fake.hash, '5'), { code: Erc20ErrorCode.NoMatchingTransfer });
    // A reverted transfer (more than the balance), forced through with a fixed gas limit.
    const failed = await transfer(contracts.token, '1000000', 100_000n);
    assert.equal(failed.receipt.status, 'reverted');
    await assert.rejects(verify(failed.hash, '1'), { code: Erc20ErrorCode.TxFailed });
    // And the real thing passes.
    const real = await transfer(contracts.token, '5');
    assert.equal((await verify(real.hash, '5')).amount, '5');
  });

  test('orders funded by a deposit are paid from the lock contract by the spender, verify, and the deposit is closed on release', async () => {
    const funderKey = anvil.privateKeys[4]!;
    const funder = anvil.accounts[4]!;
    const spender = anvil.accounts[5]!;
    const driver = newDriver('deposit');
    await driver.fund(PLATFORM, funder);
    const wallet = createWalletClient({
      account: privateKeyToAccount(funderKey),
      chain: foundry,
      transport: http(anvil.rpcUrl),
    });
    const wait = (hash: Hex) => client().waitForTransactionReceipt({ hash });
    await wait(
      await wallet.writeContract({
        address: contracts.token,
        abi: testGlmArtifact.abi,
        functionName: 'approve',
        args: [contracts.lockPayment, parseEther('100')],
      }),
    );
    const validTo = (await client().getBlock()).timestamp + 3600n;
    await wait(
      await wallet.writeContract({
        address: contracts.lockPayment,
        abi: lockPaymentArtifact.abi,
        functionName: 'createDeposit',
        args: [1n, spender, parseEther('50'), parseEther('1'), validTo],
      }),
    );
    const id = `0x${((BigInt(funder) << 96n) ^ 1n).toString(16)}`;
    const info = await driver.getDeposit(PLATFORM, contracts.lockPayment, id);
    assert.equal(info.spender, spender);
    assert.equal(info.amount, '50');
    await assert.rejects(driver.getDeposit(PLATFORM, contracts.lockPayment, '0x1234'), {
      code: Erc20ErrorCode.DepositNotFound,
    });

    const confirmations = collect(driver);
    await driver.start();
    const payees = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()).address);
    for (const [i, payee] of payees.entries()) {
      await driver.schedulePayment({
        orderId: `dep-${i}`,
        platform: PLATFORM,
        payer: spender,
        payee,
        amount: '2',
        deposit: { id, contract: contracts.lockPayment },
      });
    }
    await driver.flush(PLATFORM);
    await waitFor('deposit orders confirmed', () => confirmations.length >= 3 || undefined);
    for (const payee of payees) assert.equal(await tokenBalance(payee), parseEther('2'));
    assert.equal((await driver.getDeposit(PLATFORM, contracts.lockPayment, id)).amount, '44');
    const c = confirmations[0]!;
    // Sent by the payer (the spender), transferred from the lock contract: verifiable as the payer's payment.
    const verified = await driver.verifyPayment({
      platform: PLATFORM,
      txHash: c.txHash,
      payer: spender,
      payee: c.payee,
      amount: '2',
    });
    assert.equal(verified.amount, '2');

    // Release: one more order is still open, so the close waits for it; then remainder to the funder, fee to the
    // spender, and no more orders from this deposit.
    const late = privateKeyToAccount(generatePrivateKey()).address;
    const deposit = { id, contract: contracts.lockPayment };
    await driver.schedulePayment({
      orderId: 'dep-late',
      platform: PLATFORM,
      payer: spender,
      payee: late,
      amount: '4',
      deposit,
    });
    const funderBefore = await tokenBalance(funder);
    const spenderBefore = await tokenBalance(spender);
    await driver.releaseDeposit({ platform: PLATFORM, payer: spender, deposit });
    await driver.releaseDeposit({ platform: PLATFORM, payer: spender, deposit });
    await assert.rejects(
      driver.schedulePayment({
        orderId: 'dep-after',
        platform: PLATFORM,
        payer: spender,
        payee: late,
        amount: '1',
        deposit,
      }),
      { code: Erc20ErrorCode.DepositReleased },
    );
    await driver.flush();
    await waitFor('the close confirmed', () =>
      driver.store.db.get("SELECT 1 FROM erc20_deposit_close WHERE status = 'closed'"),
    );
    const closed = await driver.getDeposit(PLATFORM, contracts.lockPayment, id);
    assert.equal(closed.spender, '0x0000000000000000000000000000000000000Bad');
    assert.equal(await tokenBalance(late), parseEther('4'));
    assert.equal((await tokenBalance(funder)) - funderBefore, parseEther('40'));
    assert.equal((await tokenBalance(spender)) - spenderBefore, parseEther('1'));
    const closes = driver.store.db.all<{ status: string }>(
      "SELECT status FROM erc20_tx WHERE kind = 'close'",
    );
    assert.deepEqual(
      closes.map((c) => c.status),
      ['confirmed'],
    );
  });

  test('bad orders get coded errors and nothing is stored', async () => {
    const driver = newDriver('bad');
    const base = { platform: PLATFORM, payer: anvil.accounts[2]!, payee: anvil.accounts[3]!, amount: '1' };
    await assert.rejects(driver.schedulePayment({ ...base, orderId: 'b1', amount: '-1' }), {
      code: Erc20ErrorCode.BadAmount,
    });
    await assert.rejects(driver.schedulePayment({ ...base, orderId: 'b2', amount: '0' }), {
      code: Erc20ErrorCode.BadAmount,
    });
    await assert.rejects(
      driver.schedulePayment({ ...base, orderId: 'b3', amount: '1.0000000000000000001' }),
      { code: Erc20ErrorCode.BadAmount },
    );
    await assert.rejects(driver.schedulePayment({ ...base, orderId: 'b4', payee: '0x1234' }), {
      code: Erc20ErrorCode.BadAddress,
    });
    await assert.rejects(driver.schedulePayment({ ...base, orderId: 'b5', platform: 'erc20-dev-glm' }), {
      code: Erc20ErrorCode.UnknownPlatform,
    });
    await assert.rejects(driver.schedulePayment({ ...base, orderId: 'b6', payee: base.payer }), {
      code: Erc20ErrorCode.BadAddress,
    });
    assert.equal(driver.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_order')?.n, 0);
  });

  test('an order the payer cannot cover waits, unsent, and is paid once the account is funded', async () => {
    const driver = newDriver('unfunded');
    const payer = anvil.accounts[8]!;
    const payee = privateKeyToAccount(generatePrivateKey()).address;
    const confirmations = collect(driver);
    await driver.start();
    await driver.schedulePayment({ orderId: 'u1', platform: PLATFORM, payer, payee, amount: '7' });
    await driver.flush();
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(
      driver.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_tx')?.n,
      0,
      'nothing sent',
    );
    assert.equal(driver.store.getOrder('u1')?.status, 'pending');
    await driver.fund(PLATFORM, payer);
    await waitFor('the order confirmed after funding', () => confirmations.length === 1 || undefined, 30_000);
    assert.equal(await tokenBalance(payee), parseEther('7'));
  });

  test('a payment counts only after the required confirmations, for the payer and the payee', async () => {
    const driver = newDriver('confirmations', {
      env: {
        DEV_GETH_ADDR: anvil.rpcUrl,
        ERC20_SENDOUT_INTERVAL_SECS: '1',
        ERC20_DEV_REQUIRED_CONFIRMATIONS: '3',
      },
    });
    const payer = anvil.accounts[6]!;
    const payee = privateKeyToAccount(generatePrivateKey()).address;
    await driver.fund(PLATFORM, payer);
    const confirmations = collect(driver);
    await driver.start();
    await driver.schedulePayment({ orderId: 'c1', platform: PLATFORM, payer, payee, amount: '1' });
    await driver.flush();
    const sent = await waitFor('the transaction mined', async () => {
      const row = driver.store.db.get<{ hash: string }>(
        "SELECT a.hash FROM erc20_tx t JOIN erc20_tx_attempt a USING (tx_id) WHERE t.status = 'sent'",
      );
      return row !== undefined &&
        (await client()
          .getTransactionReceipt({ hash: row.hash as Hex })
          .catch(() => undefined))
        ? row
        : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(confirmations.length, 0);
    await assert.rejects(
      driver.verifyPayment({ platform: PLATFORM, txHash: sent.hash, payer, payee, amount: '1' }),
      // Not yet, rather than refused: a 4xx would make the payer's outbox drop the payment message.
      { code: Erc20ErrorCode.TxNotConfirmed, httpStatus: 503 },
    );
    await anvilRpc(anvil.rpcUrl, 'anvil_mine', ['0x2']);
    await waitFor('confirmed after two more blocks', () => confirmations.length === 1 || undefined);
    assert.equal(
      (await driver.verifyPayment({ platform: PLATFORM, txHash: sent.hash, payer, payee, amount: '1' }))
        .amount,
      '1',
    );
  });

  test('an RPC that does not answer gives a short coded error, retried by the payer (5xx)', async () => {
    const driver = newDriver('dead-rpc', { env: { DEV_GETH_ADDR: 'http://127.0.0.1:1' } });
    const payer = anvil.accounts[6]!;
    const dead = { code: Erc20ErrorCode.Rpc, httpStatus: 502, message: /^the dev RPC did not answer: / };
    await assert.rejects(driver.getBalance(PLATFORM, payer), dead);
    await assert.rejects(
      driver.verifyPayment({
        platform: PLATFORM,
        txHash: `0x${'ab'.repeat(32)}`,
        payer,
        payee: payer,
        amount: '1',
      }),
      dead,
    );
  });

  test('a dead first RPC URL falls back to the next, and fees stay under <NET>_MAX_FEE_PER_GAS', async () => {
    // A cap between the base fee and what the driver would offer on its own (2 × base fee + tip).
    const base = (await client().getBlock()).baseFeePerGas!;
    const cap = (base * 3n) / 2n;
    const driver = newDriver('fallback', {
      env: {
        DEV_GETH_ADDR: `http://127.0.0.1:1,${anvil.rpcUrl}`,
        ERC20_SENDOUT_INTERVAL_SECS: '1',
        DEV_MAX_FEE_PER_GAS: formatGwei(cap),
        DEV_PRIORITY_FEE: formatGwei(base / 10n),
      },
    });
    const payer = anvil.accounts[6]!;
    const payee = privateKeyToAccount(generatePrivateKey()).address;
    await driver.fund(PLATFORM, payer);
    const confirmations = collect(driver);
    await driver.start();
    await driver.schedulePayment({ orderId: 'f1', platform: PLATFORM, payer, payee, amount: '0.5' });
    await driver.flush();
    await waitFor('paid through the second URL', () => confirmations.length === 1 || undefined, 30_000);
    assert.equal(await tokenBalance(payee), parseEther('0.5'));
    const fees = driver.store.db.get<{ max_fee_per_gas: string; priority_fee_per_gas: string }>(
      'SELECT max_fee_per_gas, priority_fee_per_gas FROM erc20_tx_attempt',
    )!;
    assert.ok(BigInt(fees.max_fee_per_gas) <= cap, `${fees.max_fee_per_gas} > cap ${cap}`);
    assert.equal(BigInt(fees.priority_fee_per_gas), base / 10n);
  });

  test('a confirmation not acknowledged before a restart is delivered by the next driver on the database', async () => {
    const first = newDriver('restart-delivery');
    const payer = anvil.accounts[7]!;
    await first.fund(PLATFORM, payer);
    first.onConfirmed(async () => {
      throw new Error('payment module down');
    });
    await first.start();
    await first.schedulePayment({
      orderId: 'rd1',
      platform: PLATFORM,
      payer,
      payee: anvil.accounts[9]!,
      amount: '1',
    });
    await first.flush();
    await waitFor(
      'the confirmation stored',
      () => first.store.undeliveredConfirmations().length === 1 || undefined,
    );
    await first.stop();
    const second = newDriver('restart-delivery');
    const delivered = collect(second);
    await second.start();
    await waitFor('delivered after the restart', () => delivered.length === 1 || undefined);
    assert.deepEqual(delivered[0]?.orderIds, ['rd1']);
    assert.equal(second.store.undeliveredConfirmations().length, 0);
  });

  test('a confirmation is redelivered until the listener acknowledges it', async () => {
    const driver = newDriver('redeliver');
    const payer = anvil.accounts[6]!;
    await driver.fund(PLATFORM, payer);
    let calls = 0;
    const acked: PaymentConfirmation[] = [];
    driver.onConfirmed(async (c) => {
      calls++;
      if (calls <= 2) throw new Error('payment module busy');
      acked.push(c);
    });
    await driver.start();
    await driver.schedulePayment({
      orderId: 'r1',
      platform: PLATFORM,
      payer,
      payee: anvil.accounts[7]!,
      amount: '1',
    });
    await driver.flush();
    await waitFor('acknowledged confirmation', () => acked.length === 1 || undefined);
    assert.equal(calls, 3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(acked.length, 1);
  });
});
