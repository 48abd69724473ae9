/**
 * Time from invoice acceptance to SETTLED on the provider, on the dev network (anvil mining a block every second,
 * two daemons, the erc20 driver, 1 s batch and send-out windows), beside the chain's own confirmation time measured
 * in the same run: a plain transfer from send to receipt. The ratio says how many block times the payment
 * module, the batch windows and the provider's verification add.
 */
import { createPublicClient, createWalletClient, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { PaymentApi } from 'ya-ts-client';
import { deployDevContracts, startAnvil } from '../test/support/anvil.ts';
import { startDaemon, startRelayProcess } from '../test/support/daemon.ts';
import { fund, paidAgreement, paymentEnv } from '../test/support/payment.ts';
import { type Benchmark, percentile } from './harness.ts';

const ROUNDS = 3;

async function measure() {
  const anvil = await startAnvil({ extraArgs: ['--block-time', '1'] });
  const relay = await startRelayProcess();
  const daemons = [] as Awaited<ReturnType<typeof startDaemon>>[];
  try {
    await deployDevContracts(anvil.rpcUrl);
    const env = paymentEnv(anvil, relay);
    const [requestor, provider] = await Promise.all([startDaemon({ env }), startDaemon({ env })]);
    daemons.push(requestor!, provider!);
    await fund(requestor!);
    const pay = (d: typeof requestor) =>
      new PaymentApi.Client({ BASE: `${d!.apiUrl}/payment-api/v1`, TOKEN: d!.appKey });

    const settle: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const { allocationId, agreementId } = await paidAgreement(requestor!, provider!, '1');
      const invoice = (await pay(provider).provider.issueInvoice({
        agreementId,
        activityIds: [],
        amount: '0.1',
        paymentDueDate: new Date().toISOString(),
      } as never)) as { invoiceId: string };
      await pay(provider).provider.sendInvoice(invoice.invoiceId, 5);
      const start = performance.now();
      await pay(requestor).requestor.acceptInvoice(
        invoice.invoiceId,
        { totalAmountAccepted: '0.1', allocationId },
        5,
      );
      for (;;) {
        const { status } = (await pay(provider).provider.getInvoice(invoice.invoiceId)) as { status: string };
        if (status === 'SETTLED') break;
        if (performance.now() - start > 120_000) throw new Error('the invoice was not settled in 2 minutes');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      settle.push(performance.now() - start);
    }

    // The chain's own confirmation time: a plain transfer from the dev account, send to receipt.
    const account = privateKeyToAccount(anvil.privateKeys[0]!);
    const wallet = createWalletClient({ account, chain: foundry, transport: http(anvil.rpcUrl) });
    const client = createPublicClient({ chain: foundry, transport: http(anvil.rpcUrl) });
    const confirm: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const start = performance.now();
      const hash = await wallet.sendTransaction({ to: anvil.accounts[1]!, value: 1n });
      await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      confirm.push(performance.now() - start);
    }
    return {
      value: percentile(settle, 50),
      baseline: percentile(confirm, 50),
      baselineName: 'one transfer mined (1 s blocks)',
    };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await relay.stop();
    await anvil.stop();
  }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'payment: invoice accepted → SETTLED on the provider (dev network, median of 3)',
    unit: 'ms',
    better: 'lower',
    run: measure,
  },
];
