/**
 * What batching saves on chain, measured on a real anvil in the same run as its baseline:
 * - gas per payment inside a packed multi-transfer (50 payees) vs a plain ERC-20 `transfer`, for payees that already
 *   hold tokens (the steady state of a provider network) and for fresh payees (a new balance slot costs the same
 *   20k gas in both, so the ratio is worse there);
 * - transactions the erc20 driver sends for 1,000 payments to 100 payees vs one transaction per payment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Address, createPublicClient, createWalletClient, type Hex, http, maxUint256 } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { openDatabase } from '../src/core/db/index.ts';
import { silentLogger } from '../src/core/log/index.ts';
import { multiTransferArtifact, testGlmArtifact } from '../src/core/payment/erc20/contracts.generated.ts';
import { createErc20Driver } from '../src/core/payment/erc20/index.ts';
import { pack } from '../src/core/payment/erc20/manager.ts';
import { deployDevContracts, keySigner, startAnvil, waitFor } from '../test/support/anvil.ts';
import type { Benchmark, Measurement } from './harness.ts';

const BATCH = 50;
const PLAIN_SAMPLES = 10;

interface Figures {
  steady: Measurement;
  fresh: Measurement;
  txs: Measurement;
}
let figures: Promise<Figures> | undefined;

async function measure(): Promise<Figures> {
  const anvil = await startAnvil();
  const dir = mkdtempSync(join(tmpdir(), 'golem-bench-chain-'));
  try {
    const contracts = await deployDevContracts(anvil.rpcUrl);
    const client = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
    const wallet = createWalletClient({
      account: privateKeyToAccount(anvil.privateKeys[1]!),
      chain: foundry,
      transport: http(anvil.rpcUrl),
    });
    const gasOf = async (hash: Hex) =>
      (await client.waitForTransactionReceipt({ hash, pollingInterval: 20 })).gasUsed;
    const token = { address: contracts.token, abi: testGlmArtifact.abi } as const;
    await gasOf(await wallet.writeContract({ ...token, functionName: 'create' }));
    await gasOf(
      await wallet.writeContract({
        ...token,
        functionName: 'approve',
        args: [contracts.multiTransfer, maxUint256],
      }),
    );
    const fresh = (n: number) =>
      Array.from({ length: n }, () => privateKeyToAccount(generatePrivateKey()).address);

    const batchGas = async (payees: Address[]) =>
      Number(
        await gasOf(
          await wallet.writeContract({
            address: contracts.multiTransfer,
            abi: multiTransferArtifact.abi,
            functionName: 'golemTransferDirectPacked',
            args: [payees.map((p) => pack(p, 1000n))],
          }),
        ),
      ) / payees.length;
    const plainGas = async (payees: Address[]) => {
      let total = 0n;
      for (const payee of payees)
        total += await gasOf(
          await wallet.writeContract({ ...token, functionName: 'transfer', args: [payee, 1000n] }),
        );
      return Number(total) / payees.length;
    };
    const batchPayees = fresh(BATCH);
    const plainPayees = fresh(PLAIN_SAMPLES);
    const freshBatch = await batchGas(batchPayees);
    const freshPlain = await plainGas(plainPayees);
    const steadyBatch = await batchGas(batchPayees);
    const steadyPlain = await plainGas(plainPayees);

    // The driver: 1,000 payments to 100 payees.
    const driver = createErc20Driver({
      db: openDatabase(join(dir, 'bench.db')),
      logger: silentLogger,
      sign: keySigner(anvil.privateKeys),
      env: { DEV_GETH_ADDR: anvil.rpcUrl, ERC20_SENDOUT_INTERVAL_SECS: '1' },
      tickMs: 50,
    });
    const payer = anvil.accounts[2]!;
    await driver.fund('erc20-dev-tglm', payer);
    let confirmed = 0;
    driver.onConfirmed(async (c) => {
      confirmed += c.orderIds.length;
    });
    await driver.start();
    const payees = fresh(100);
    for (let i = 0; i < 1000; i++) {
      await driver.schedulePayment({
        orderId: `b${i}`,
        platform: 'erc20-dev-tglm',
        payer,
        payee: payees[i % 100]!,
        amount: '0.001',
      });
    }
    await driver.flush();
    await waitFor('1000 payments confirmed', () => confirmed >= 1000, 120_000);
    const txCount =
      driver.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM erc20_tx WHERE payer = ?', payer)?.n ?? 0;
    await driver.stop();
    return {
      steady: { value: steadyBatch, baseline: steadyPlain, baselineName: 'plain ERC-20 transfer' },
      fresh: { value: freshBatch, baseline: freshPlain, baselineName: 'plain ERC-20 transfer' },
      txs: { value: txCount, baseline: 1000, baselineName: 'one tx per payment' },
    };
  } finally {
    await anvil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const figure = async (key: keyof Figures) => {
  figures ??= measure();
  return (await figures)[key];
};

export const benchmarks: Benchmark[] = [
  {
    name: `payment-chain: gas per payment in a ${BATCH}-payee batch, payees holding tokens`,
    unit: 'gas',
    better: 'lower',
    goal: { op: '<=', ratio: 0.4 },
    run: () => figure('steady'),
  },
  {
    name: `payment-chain: gas per payment in a ${BATCH}-payee batch, fresh payees`,
    unit: 'gas',
    better: 'lower',
    goal: { op: '<=', ratio: 0.4 },
    run: () => figure('fresh'),
  },
  {
    name: 'payment-chain: transactions per 1,000 payments to 100 payees (driver)',
    unit: 'tx',
    better: 'lower',
    run: () => figure('txs'),
  },
];
