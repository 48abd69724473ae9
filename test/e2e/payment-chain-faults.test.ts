/**
 * The erc20 driver under faults, against a real anvil: the driver "dies" (is frozen for good, without cleanup) at a
 * chosen point and a new driver on the same database finishes every order exactly once, as the token balances on
 * chain show; the RPC goes away for a while; a transaction is stuck below the base fee and gets bumped.
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
  formatEther,
  type Hex,
  http,
  parseEther,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { openDatabase } from '../../src/core/db/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import type { PaymentOrder } from '../../src/core/payment/driver.ts';
import { lockPaymentArtifact, testGlmArtifact } from '../../src/core/payment/erc20/contracts.generated.ts';
import {
  createErc20Driver,
  DEV_CONTRACTS,
  type Erc20Driver,
  type Erc20DriverOptions,
  type FaultPoint,
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
let dir: string;
const running: Erc20Driver[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'golem-erc20-faults-'));
});
after(async () => {
  for (const driver of running) await driver.stop();
  rmSync(dir, { recursive: true, force: true });
});

function driverOn(anvil: Anvil, dbFile: string, extra: Partial<Erc20DriverOptions> = {}): Erc20Driver {
  return createErc20Driver({
    db: openDatabase(join(dir, dbFile)),
    logger: silentLogger,
    sign: keySigner(anvil.privateKeys),
    env: { DEV_GETH_ADDR: anvil.rpcUrl, ERC20_SENDOUT_INTERVAL_SECS: '1' },
    tickMs: 50,
    maxBackoffMs: 400,
    rebroadcastMs: 1000,
    ...extra,
  });
}

const balanceOf = (anvil: Anvil, address: Address) =>
  createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) }).readContract({
    address: (globalThis as { devToken?: Address }).devToken as Address,
    abi: testGlmArtifact.abi,
    functionName: 'balanceOf',
    args: [address],
  });

/** Deterministic pseudo-random numbers (mulberry32), so a failing variant can be replayed by its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Confirmed orders of a database, counted: every order must appear exactly once. */
function confirmedCount(driver: Erc20Driver): number {
  return (
    driver.store.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM erc20_order WHERE status = 'confirmed'`)
      ?.n ?? 0
  );
}

const DEPOSIT_AMOUNT = parseEther('100');
const DEPOSIT_FEE = parseEther('1');

/** Account `funderIndex` locks 100 tGLM (+1 fee) for `spender`; balances are read before, for the final account. */
async function createDeposit(anvil: Anvil, funderIndex: number, spender: Address, nonce: bigint) {
  const funder = anvil.accounts[funderIndex]!;
  const client = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
  const wallet = createWalletClient({
    account: privateKeyToAccount(anvil.privateKeys[funderIndex]!),
    chain: foundry,
    transport: http(anvil.rpcUrl),
  });
  const token = (globalThis as { devToken?: Address }).devToken as Address;
  const lock = DEV_CONTRACTS.lockPayment;
  const send = async (hash: Hex) => client.waitForTransactionReceipt({ hash });
  await send(
    await wallet.writeContract({ address: token, abi: testGlmArtifact.abi, functionName: 'create' }),
  );
  await send(
    await wallet.writeContract({
      address: token,
      abi: testGlmArtifact.abi,
      functionName: 'approve',
      args: [lock, DEPOSIT_AMOUNT + DEPOSIT_FEE],
    }),
  );
  const funderStart = await balanceOf(anvil, funder);
  const spenderStart = await balanceOf(anvil, spender);
  const validTo = (await client.getBlock()).timestamp + 3600n;
  await send(
    await wallet.writeContract({
      address: lock,
      abi: lockPaymentArtifact.abi,
      functionName: 'createDeposit',
      args: [nonce, spender, DEPOSIT_AMOUNT, DEPOSIT_FEE, validTo],
    }),
  );
  return {
    id: `0x${((BigInt(funder) << 96n) ^ nonce).toString(16)}`,
    contract: lock as Address,
    funder,
    funderStart,
    spenderStart,
  };
}

describe('a driver killed at a chosen point; a new one on the same database pays every order exactly once', () => {
  let anvil: Anvil;
  before(async () => {
    anvil = await startAnvil({ accounts: 20 });
    (globalThis as { devToken?: Address }).devToken = (await deployDevContracts(anvil.rpcUrl)).token;
  });
  after(async () => anvil?.stop());

  const points: FaultPoint[] = ['order-stored', 'tx-stored', 'tx-broadcast'];
  // Seeds 13–15 pay from a deposit and release it, so the kill can also hit the close.
  for (let seed = 1; seed <= 15; seed++) {
    const point = points[seed % 3] as FaultPoint;
    const viaDeposit = seed > 12;
    test(`seed ${seed}: killed at ${point}${viaDeposit ? ', paying from a deposit' : ''}`, async () => {
      const rand = random(seed);
      const payer = anvil.accounts[seed]!;
      const deposit = viaDeposit ? await createDeposit(anvil, seed + 3, payer, BigInt(seed)) : undefined;
      const payees = Array.from(
        { length: 2 + Math.floor(rand() * 10) },
        () => privateKeyToAccount(generatePrivateKey()).address,
      );
      const orders: PaymentOrder[] = Array.from({ length: 3 + Math.floor(rand() * 25) }, (_, i) => ({
        orderId: `seed${seed}-${i}`,
        platform: PLATFORM,
        payer,
        payee: payees[Math.floor(rand() * payees.length)]!,
        amount: `0.${String(1 + Math.floor(rand() * 999)).padStart(3, '0')}`,
        ...(deposit === undefined ? {} : { deposit: { id: deposit.id, contract: deposit.contract } }),
      }));
      const expected = new Map<Address, bigint>();
      for (const o of orders)
        expected.set(o.payee as Address, (expected.get(o.payee as Address) ?? 0n) + parseEther(o.amount));
      // Which occurrence of the point kills the driver: the 1st or a later one; with a deposit, the 2nd transaction
      // is the close.
      let countdown =
        point === 'order-stored'
          ? 1 + Math.floor(rand() * orders.length)
          : viaDeposit
            ? 2
            : 1 + Math.floor(rand() * 2);
      let dead = false;
      let died: () => void = () => {};
      const death = new Promise<void>((resolve) => {
        died = resolve;
      });
      const frozen = new Promise<void>(() => {});
      const first = driverOn(anvil, `seed${seed}.db`, {
        faults: async (at) => {
          if (!dead && at === point && --countdown === 0) {
            dead = true;
            died();
          }
          if (dead) await frozen;
        },
      });
      // A spender pays from the deposit, not from its own tokens: it is not funded.
      if (deposit === undefined) await first.fund(PLATFORM, payer);
      await first.start();
      for (const order of orders) {
        await Promise.race([first.schedulePayment(order), death]);
        if (dead) break;
      }
      const release =
        deposit === undefined
          ? undefined
          : { platform: PLATFORM, payer, deposit: { id: deposit.id, contract: deposit.contract } };
      if (!dead && release !== undefined) await Promise.race([first.releaseDeposit(release), death]);
      if (!dead) await Promise.race([first.flush(), death]);
      await waitFor('the first driver to die', () => dead, 30_000);

      // The "restarted process": a new driver on the same database file; the payment module schedules again every
      // order it did not see acknowledged (here: all of them).
      const second = driverOn(anvil, `seed${seed}.db`);
      running.push(second);
      const confirmed: string[] = [];
      second.onConfirmed(async (c) => {
        confirmed.push(...c.orderIds);
      });
      await second.start();
      for (const order of orders) await second.schedulePayment(order);
      if (release !== undefined) await second.releaseDeposit(release);
      await second.flush();
      await waitFor(
        `all ${orders.length} orders confirmed`,
        () => confirmedCount(second) === orders.length,
        30_000,
      );
      await waitFor('all confirmations delivered', () => new Set(confirmed).size === orders.length, 10_000);
      for (const [payee, amount] of expected) {
        assert.equal(formatEther(await balanceOf(anvil, payee)), formatEther(amount), `balance of ${payee}`);
      }
      if (deposit !== undefined) {
        await waitFor('the deposit closed', () =>
          second.store.db.get("SELECT 1 FROM erc20_deposit_close WHERE status = 'closed'"),
        );
        const paid = [...expected.values()].reduce((a, b) => a + b, 0n);
        // Whatever the first driver managed before dying, in the end: the rest back to the funder, the fee to the
        // spender, nothing left in the lock contract.
        assert.equal(await balanceOf(anvil, deposit.funder), deposit.funderStart - DEPOSIT_FEE - paid);
        assert.equal(await balanceOf(anvil, payer), deposit.spenderStart + DEPOSIT_FEE);
        assert.equal(await balanceOf(anvil, deposit.contract), 0n);
      }
    });
  }
});

describe('the nonce moves on without us', () => {
  test('a stored transaction whose nonce another transaction took is dropped, and its orders are paid once in a new one', async () => {
    const anvil = await startAnvil();
    (globalThis as { devToken?: Address }).devToken = (await deployDevContracts(anvil.rpcUrl)).token;
    try {
      const payer = anvil.accounts[1]!;
      const payee = privateKeyToAccount(generatePrivateKey()).address;
      let dead = false;
      const first = driverOn(anvil, 'nonce.db', {
        faults: async (at) => {
          if (at === 'tx-stored') dead = true;
          if (dead) await new Promise(() => {});
        },
      });
      await first.fund(PLATFORM, payer);
      await first.start();
      await first.schedulePayment({ orderId: 'n1', platform: PLATFORM, payer, payee, amount: '2' });
      void first.flush();
      await waitFor('the transaction stored, not broadcast', () => dead, 20_000);
      // The same key is used elsewhere (another wallet): the stored nonce is taken on chain.
      const wallet = createWalletClient({
        account: privateKeyToAccount(anvil.privateKeys[1]!),
        chain: foundry,
        transport: http(anvil.rpcUrl),
      });
      const rival = await wallet.sendTransaction({ to: anvil.accounts[2]!, value: 1n });
      await createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) }).waitForTransactionReceipt({
        hash: rival,
      });

      const second = driverOn(anvil, 'nonce.db');
      running.push(second);
      await second.start();
      await second.flush();
      await waitFor('the order confirmed', () => confirmedCount(second) === 1, 20_000);
      const statuses = second.store.db.all<{ status: string; nonce: number }>(
        'SELECT status, nonce FROM erc20_tx ORDER BY tx_id',
      );
      assert.deepEqual(
        statuses.map((s) => s.status),
        ['dropped', 'confirmed'],
      );
      assert.equal(await balanceOf(anvil, payee), parseEther('2'));
    } finally {
      await anvil.stop();
    }
  });
});

describe('orders arriving while a transaction is being sent', () => {
  test('go into the next transaction: held between storing and broadcasting, nothing is claimed twice', async () => {
    const anvil = await startAnvil();
    (globalThis as { devToken?: Address }).devToken = (await deployDevContracts(anvil.rpcUrl)).token;
    let hold: (() => void) | undefined;
    let held = false;
    const driver = driverOn(anvil, 'race.db', {
      faults: async (at) => {
        if (at === 'tx-stored' && !held) {
          held = true;
          await new Promise<void>((resolve) => {
            hold = resolve;
          });
        }
      },
    });
    running.push(driver);
    try {
      const payer = anvil.accounts[1]!;
      const payee = privateKeyToAccount(generatePrivateKey()).address;
      await driver.fund(PLATFORM, payer);
      await driver.start();
      await driver.schedulePayment({ orderId: 'r0', platform: PLATFORM, payer, payee, amount: '1' });
      void driver.flush();
      await waitFor('the first transaction held after storing', () => hold !== undefined);
      for (let i = 1; i <= 3; i++) {
        await driver.schedulePayment({ orderId: `r${i}`, platform: PLATFORM, payer, payee, amount: '1' });
      }
      assert.equal(driver.store.getOrder('r0')?.status, 'sent');
      assert.equal(driver.store.getOrder('r1')?.status, 'pending');
      hold?.();
      await driver.flush();
      await waitFor('all four confirmed', () => confirmedCount(driver) === 4, 20_000);
      const txs = driver.store.db.all<{ n: number }>(
        "SELECT COUNT(*) AS n FROM erc20_order WHERE status = 'confirmed' GROUP BY tx_id ORDER BY tx_id",
      );
      assert.deepEqual(
        txs.map((t) => t.n),
        [1, 3],
      );
      assert.equal(await balanceOf(anvil, payee), parseEther('4'));
    } finally {
      await driver.stop();
      await anvil.stop();
    }
  });
});

describe('the RPC goes away for a while', () => {
  test('payments are delayed, none is lost or doubled, and the driver carries on after the outage', async () => {
    const stateFile = join(dir, 'anvil-state.json');
    let anvil = await startAnvil({ stateFile });
    (globalThis as { devToken?: Address }).devToken = (await deployDevContracts(anvil.rpcUrl)).token;
    const driver = driverOn(anvil, 'outage.db');
    running.push(driver);
    const payer = anvil.accounts[1]!;
    await driver.fund(PLATFORM, payer);
    await driver.start();
    const payees = Array.from({ length: 4 }, () => privateKeyToAccount(generatePrivateKey()).address);
    const orders = payees.map((payee, i) => ({
      orderId: `out-${i}`,
      platform: PLATFORM,
      payer,
      payee,
      amount: '1.5',
    }));
    await driver.schedulePayment(orders[0]!);
    await driver.flush();
    await waitFor('first order confirmed', () => confirmedCount(driver) === 1, 20_000);

    await anvil.stop();
    // Orders during the outage are stored; sending fails and is retried with backoff.
    for (const order of orders.slice(1)) await driver.schedulePayment(order);
    await driver.flush();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(confirmedCount(driver), 1);

    anvil = await startAnvil({ stateFile, port: anvil.port });
    try {
      await waitFor(
        'all orders confirmed after the outage',
        () => confirmedCount(driver) === orders.length,
        30_000,
      );
      for (const payee of payees) assert.equal(await balanceOf(anvil, payee), parseEther('1.5'));
      // And it keeps working.
      await driver.schedulePayment({
        orderId: 'out-after',
        platform: PLATFORM,
        payer,
        payee: payees[0]!,
        amount: '1',
      });
      await driver.flush();
      await waitFor(
        'order after the outage confirmed',
        () => confirmedCount(driver) === orders.length + 1,
        20_000,
      );
      assert.equal(await balanceOf(anvil, payees[0]!), parseEther('2.5'));
    } finally {
      await driver.stop();
      await anvil.stop();
    }
  });
});

describe('the RPC goes away between broadcast and confirmation', () => {
  test('the driver finds the mined transaction after the outage and completes its orders once', async () => {
    const stateFile = join(dir, 'anvil-state-2.json');
    let anvil = await startAnvil({ stateFile });
    (globalThis as { devToken?: Address }).devToken = (await deployDevContracts(anvil.rpcUrl)).token;
    let outage: Promise<void> | undefined;
    const driver = driverOn(anvil, 'outage-2.db', {
      // Right after the broadcast (the transaction is mined at once), anvil goes down.
      faults: async (at) => {
        if (at === 'tx-broadcast' && outage === undefined) {
          outage = anvil.stop();
          await outage;
        }
      },
    });
    running.push(driver);
    try {
      const payer = anvil.accounts[1]!;
      const payee = privateKeyToAccount(generatePrivateKey()).address;
      await driver.fund(PLATFORM, payer);
      await driver.start();
      await driver.schedulePayment({ orderId: 'o2', platform: PLATFORM, payer, payee, amount: '4' });
      await driver.flush();
      await waitFor('anvil stopped after the broadcast', () => outage !== undefined, 20_000);
      await outage;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(confirmedCount(driver), 0);
      anvil = await startAnvil({ stateFile, port: anvil.port });
      await waitFor('the order confirmed after the outage', () => confirmedCount(driver) === 1, 30_000);
      assert.equal(driver.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_tx_attempt')?.n, 1);
      assert.equal(await balanceOf(anvil, payee), parseEther('4'));
    } finally {
      await driver.stop();
      await anvil.stop();
    }
  });
});

describe('a stuck transaction', () => {
  test('is bumped (same nonce, higher fee) and the orders complete once', async () => {
    const anvil = await startAnvil();
    (globalThis as { devToken?: Address }).devToken = (await deployDevContracts(anvil.rpcUrl)).token;
    const driver = driverOn(anvil, 'stuck.db', { bumpAfterMs: 500 });
    running.push(driver);
    try {
      const payer = anvil.accounts[1]!;
      const payee = privateKeyToAccount(generatePrivateKey()).address;
      await driver.fund(PLATFORM, payer);
      await anvilRpc(anvil.rpcUrl, 'evm_setAutomine', [false]);
      await driver.start();
      await driver.schedulePayment({ orderId: 'stuck-1', platform: PLATFORM, payer, payee, amount: '3' });
      await driver.flush();
      const first = await waitFor('the transaction sent', () =>
        driver.store.db.get<{ tx_id: number; max_fee_per_gas: string; hash: string }>(
          `SELECT t.tx_id, a.max_fee_per_gas, a.hash FROM erc20_tx t JOIN erc20_tx_attempt a USING (tx_id)
           WHERE t.status = 'sent'`,
        ),
      );
      // The next block's base fee is above what the transaction offers: it stays in the pool.
      await anvilRpc(anvil.rpcUrl, 'anvil_setNextBlockBaseFeePerGas', [
        `0x${(BigInt(first.max_fee_per_gas) + 1n).toString(16)}`,
      ]);
      await anvilRpc(anvil.rpcUrl, 'evm_mine');
      assert.equal(await anvilRpc(anvil.rpcUrl, 'eth_getTransactionReceipt', [first.hash]), null);
      const attempts = () =>
        driver.store.db.all<{ hash: string; max_fee_per_gas: string }>(
          'SELECT hash, max_fee_per_gas FROM erc20_tx_attempt WHERE tx_id = ? ORDER BY rowid',
          first.tx_id,
        );
      await waitFor('a bumped variant', () => attempts().length >= 2 || undefined, 20_000);
      await anvilRpc(anvil.rpcUrl, 'evm_setAutomine', [true]);
      await anvilRpc(anvil.rpcUrl, 'evm_mine');
      await waitFor('the order confirmed', () => confirmedCount(driver) === 1, 20_000);
      const all = attempts();
      assert.ok(BigInt(all[1]!.max_fee_per_gas) > BigInt(all[0]!.max_fee_per_gas));
      const tx = driver.store.getTx(first.tx_id)!;
      assert.ok(
        all.slice(1).some((a) => a.hash === tx.confirmed_hash),
        'a bumped variant was mined',
      );
      assert.equal(await balanceOf(anvil, payee), parseEther('3'));
    } finally {
      await driver.stop();
      await anvil.stop();
    }
  });
});
