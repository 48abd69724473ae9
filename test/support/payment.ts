/**
 * Payment test helpers over real daemons: the environment that points them at an anvil and shortens the batch
 * windows, funding through the control socket, token balances read with viem, and an allocation with an approved
 * agreement whose demand carries the allocation's decorations.
 */
import { join } from 'node:path';
import { type Address, createPublicClient, http } from 'viem';
import { PaymentApi } from 'ya-ts-client';
import { ControlConnection } from '../../src/core/control/index.ts';
import { PaymentLocalAddress } from '../../src/core/model/payment.ts';
import { testGlmArtifact } from '../../src/core/payment/erc20/contracts.generated.ts';
import { approvedAgreement } from './agreement.ts';
import type { Anvil } from './anvil.ts';
import type { DaemonHandle, RelayHandle } from './daemon.ts';

export const PLATFORM = 'erc20-dev-tglm';
export const PLATFORM_KEY = `golem.com.payment.platform.${PLATFORM}.address`;

export const payments = (daemon: DaemonHandle) =>
  new PaymentApi.Client({ BASE: `${daemon.apiUrl}/payment-api/v1`, TOKEN: daemon.appKey });

export function paymentEnv(anvil: Anvil, relay: RelayHandle): Record<string, string> {
  return {
    YA_NET_RELAY: relay.addresses[0]!,
    DEV_GETH_ADDR: anvil.rpcUrl,
    ERC20_SENDOUT_INTERVAL_SECS: '1',
    GOLEM_PAYMENT_BATCH_WINDOW_S: '1',
    GOLEM_PAYMENT_RETRY_INITIAL_MS: '250',
    GOLEM_PAYMENT_RETRY_MAX_MS: '2000',
  };
}

export async function tokenBalance(anvil: Anvil, token: Address, address: string): Promise<bigint> {
  const client = createPublicClient({ transport: http(anvil.rpcUrl) });
  return client.readContract({
    address: token,
    abi: testGlmArtifact.abi,
    functionName: 'balanceOf',
    args: [address as Address],
  }) as Promise<bigint>;
}

export async function fund(daemon: DaemonHandle): Promise<void> {
  const control = await ControlConnection.connect(join(daemon.dataDir, 'yagna.sock'));
  try {
    await control.call(PaymentLocalAddress.Fund, { platform: PLATFORM });
  } finally {
    control.close();
  }
}

/** An allocation and an approved agreement whose demand carries the allocation's decorations. */
export async function paidAgreement(
  requestor: DaemonHandle,
  provider: DaemonHandle,
  total = '10',
  appSessionId?: string,
) {
  const allocation = await payments(requestor).requestor.createAllocation({
    totalAmount: total,
    paymentPlatform: PLATFORM,
    address: requestor.nodeId,
    timeout: new Date(Date.now() + 3_600_000).toISOString(),
    makeDeposit: false,
  } as never);
  return {
    allocationId: allocation.allocationId,
    agreementId: await agreementFor(requestor, provider, allocation.allocationId, appSessionId),
  };
}

/** An approved agreement whose demand carries `allocationId`'s decorations (as golem-js builds its demand). */
export async function agreementFor(
  requestor: DaemonHandle,
  provider: DaemonHandle,
  allocationId: string,
  appSessionId?: string,
): Promise<string> {
  const decorations = await payments(requestor).requestor.getDemandDecorations([allocationId]);
  const demand = Object.fromEntries(decorations.properties.map((p) => [p.key, p.value]));
  return approvedAgreement(requestor, provider, {
    runtime: 'test-runtime',
    offer: { [PLATFORM_KEY]: provider.nodeId, 'golem.com.payment.protocol.version': '3' },
    demand,
    ...(appSessionId === undefined ? {} : { appSessionId }),
  });
}
