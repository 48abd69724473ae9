/**
 * The `erc20` payment driver: GLM on EVM chains through viem. Keys stay with the identity service (every signature
 * goes through the injected `sign`); orders, transactions and confirmations live in the driver's own tables.
 */
import {
  type Address,
  ContractFunctionRevertedError,
  createWalletClient,
  formatEther,
  parseEther,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { Database } from '../../db/index.ts';
import type { Logger } from '../../log/index.ts';
import type {
  AccountBalance,
  ConfirmationListener,
  DepositInfo,
  FundResult,
  PaymentDriver,
  PaymentOrder,
  PaymentPlatform,
  PlatformInfo,
  ReleaseDepositRequest,
  VerifiedPayment,
  VerifyPaymentRequest,
} from '../driver.ts';
import { checkedAddress, fromWei, MAX_PACKED_AMOUNT, toWei } from './amounts.ts';
import { lockPaymentArtifact, testGlmArtifact } from './contracts.generated.ts';
import { Erc20ErrorCode, erc20Error } from './errors.ts';
import { type FaultHook, TransactionManager } from './manager.ts';
import {
  ANVIL_DEV_PRIVATE_KEY,
  type Env,
  NETWORK_NAMES,
  networkOfPlatform,
  platformName,
  resolveNetwork,
} from './networks.ts';
import type { DigestSigner } from './signer.ts';
import { Erc20Store } from './store.ts';
import { rpc, verifyTransfer } from './verify.ts';

export interface Erc20DriverOptions {
  db: Database;
  logger: Logger;
  /** Signs a 32-byte digest as an identity of this node (the identity service's `Sign`). */
  sign: DigestSigner;
  /** Environment for network overrides (`HOLESKY_GETH_ADDR`, `ERC20_SENDOUT_INTERVAL_SECS`, …); default process.env. */
  env?: Env;
  /** Loop period (default 1 s). */
  tickMs?: number;
  /** A transaction still unmined after this long gets a higher fee (default 60 s). */
  bumpAfterMs?: number;
  /** Open transactions are rebroadcast this often (default 30 s). */
  rebroadcastMs?: number;
  /** Payees per multi-transfer transaction (default 50). */
  maxPerTx?: number;
  /** Longest wait between retries while an RPC endpoint fails (default 60 s). */
  maxBackoffMs?: number;
  /** Tests only: holds the driver at a point, as if its process died there. */
  faults?: FaultHook;
  now?: () => number;
}

/** What the dev faucet gives an address that has less than half of it. */
const DEV_GAS_GIFT = parseEther('10');
const FAUCET_MAX_BALANCE = parseEther('400');

export class Erc20Driver implements PaymentDriver {
  readonly name = 'payment:erc20';
  readonly driverName = 'erc20';
  readonly #store: Erc20Store;
  readonly #manager: TransactionManager;
  readonly #logger: Logger;
  readonly #env: Env;
  readonly #faults: FaultHook | undefined;
  #listener: ConfirmationListener | undefined;
  #fundQueue: Promise<unknown> = Promise.resolve();

  constructor(options: Erc20DriverOptions) {
    this.#logger = options.logger;
    this.#env = options.env ?? process.env;
    this.#faults = options.faults;
    this.#store = new Erc20Store(options.db, options.now);
    this.#manager = new TransactionManager({
      store: this.#store,
      logger: options.logger,
      sign: options.sign,
      env: this.#env,
      tickMs: options.tickMs ?? 1000,
      bumpAfterMs: options.bumpAfterMs ?? 60_000,
      rebroadcastMs: options.rebroadcastMs ?? 30_000,
      maxPerTx: options.maxPerTx ?? 50,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
      faults: options.faults,
      now: options.now,
    });
    this.#manager.afterStep(() => this.#deliverConfirmations());
  }

  /** The driver's tables, for tests and diagnostics. */
  get store(): Erc20Store {
    return this.#store;
  }

  async start(): Promise<void> {
    this.#manager.start();
  }

  async stop(): Promise<void> {
    await this.#manager.stop();
  }

  platforms(): PlatformInfo[] {
    return NETWORK_NAMES.map((name) => {
      const network = resolveNetwork(name, this.#env);
      return {
        platform: platformName(network),
        driver: this.driverName,
        network: name,
        token: network.token,
        chainId: network.chainId,
        testnet: network.testnet,
      };
    });
  }

  async getBalance(platform: PaymentPlatform, address: string): Promise<AccountBalance> {
    const chain = this.#manager.clientOfPlatform(platform);
    const account = checkedAddress(address, 'address');
    const [blockNumber, token, gas] = await rpc(chain, async () => {
      const blockNumber = await chain.client.getBlockNumber();
      return [
        blockNumber,
        ...(await Promise.all([
          chain.client.readContract({
            address: chain.network.tokenAddress,
            abi: testGlmArtifact.abi,
            functionName: 'balanceOf',
            args: [account],
            blockNumber,
          }),
          chain.client.getBalance({ address: account, blockNumber }),
        ])),
      ] as const;
    });
    return {
      platform,
      address: account,
      token: fromWei(token),
      gas: formatEther(gas),
      blockNumber: blockNumber.toString(),
    };
  }

  async schedulePayment(order: PaymentOrder): Promise<void> {
    if (typeof order.orderId !== 'string' || order.orderId === '' || order.orderId.length > 200) {
      throw erc20Error(
        Erc20ErrorCode.BadAmount,
        'orderId must be a non-empty string of at most 200 characters',
        {
          orderId: order.orderId,
        },
      );
    }
    networkOfPlatform(order.platform);
    const payer = checkedAddress(order.payer, 'payer');
    const payee = checkedAddress(order.payee, 'payee');
    const amountWei = toWei(order.amount);
    if (amountWei === 0n || amountWei > MAX_PACKED_AMOUNT) {
      throw erc20Error(Erc20ErrorCode.BadAmount, 'amount must be above 0 and below 2^96 wei', {
        amount: order.amount,
      });
    }
    if (payer === payee) {
      throw erc20Error(Erc20ErrorCode.BadAddress, 'payer and payee are the same address', { payer, payee });
    }
    let deposit: { depositId: string; depositContract: string } | undefined;
    if (order.deposit !== undefined) {
      const ref = depositRef(order.deposit);
      // A retry of an order stored before the release is fine (idempotent); a new one is not.
      const released = this.#store.getDepositClose(ref.contract, ref.depositId) !== undefined;
      if (released && this.#store.getOrder(order.orderId) === undefined) {
        throw erc20Error(
          Erc20ErrorCode.DepositReleased,
          'the deposit is being closed; no more orders are paid from it',
          {
            deposit: order.deposit,
          },
        );
      }
      deposit = { depositId: ref.depositId, depositContract: ref.contract };
    }
    const created = this.#store.insertOrder({
      orderId: order.orderId,
      platform: order.platform,
      payer,
      payee,
      amountWei,
      ...deposit,
    });
    if (created === 'created') {
      this.#logger.debug('order stored', {
        orderId: order.orderId,
        platform: order.platform,
        payee,
        amount: order.amount,
      });
      await this.#faults?.('order-stored', { orderId: order.orderId });
    }
  }

  async releaseDeposit(request: ReleaseDepositRequest): Promise<void> {
    networkOfPlatform(request.platform);
    const payer = checkedAddress(request.payer, 'payer');
    const ref = depositRef(request.deposit);
    this.#store.insertDepositClose({ ...ref, platform: request.platform, payer });
    this.#manager.wake();
  }

  async flush(platform?: PaymentPlatform): Promise<void> {
    if (platform !== undefined) networkOfPlatform(platform);
    await this.#manager.flush(platform);
  }

  onConfirmed(listener: ConfirmationListener): void {
    this.#listener = listener;
    this.#manager.wake();
  }

  async verifyPayment(request: VerifyPaymentRequest): Promise<VerifiedPayment> {
    const chain = this.#manager.clientOfPlatform(request.platform);
    return verifyTransfer(chain, request);
  }

  async fund(platform: PaymentPlatform, address: string): Promise<FundResult> {
    const network = this.#manager.network(networkOfPlatform(platform));
    const account = checkedAddress(address, 'address');
    if (network.name !== 'dev') {
      return { platform, address: account, message: `${network.name}: ${network.fundingHint}`, txHashes: [] };
    }
    const work = this.#fundQueue.then(() => this.#fundDev(platform, account));
    this.#fundQueue = work.catch(() => undefined);
    return work;
  }

  async #fundDev(platform: string, account: Address): Promise<FundResult> {
    const chain = this.#manager.clientOfPlatform(platform);
    const faucet = privateKeyToAccount(ANVIL_DEV_PRIVATE_KEY);
    const wallet = createWalletClient({
      account: faucet,
      chain: chain.chain,
      transport: chain.transport,
    });
    const done: string[] = [];
    const txHashes: `0x${string}`[] = [];
    const tokenBalance = await chain.client.readContract({
      address: chain.network.tokenAddress,
      abi: testGlmArtifact.abi,
      functionName: 'balanceOf',
      args: [account],
    });
    if (tokenBalance < FAUCET_MAX_BALANCE) {
      const hash = await wallet.writeContract({
        address: chain.network.tokenAddress,
        abi: testGlmArtifact.abi,
        functionName: 'mint',
        args: [account],
      });
      await chain.client.waitForTransactionReceipt({ hash });
      txHashes.push(hash);
      done.push('minted 1000 tGLM');
    } else {
      done.push(`holds ${fromWei(tokenBalance)} tGLM already (the faucet gives below 400)`);
    }
    const gas = await chain.client.getBalance({ address: account });
    if (gas < DEV_GAS_GIFT / 2n) {
      const hash = await wallet.sendTransaction({ to: account, value: DEV_GAS_GIFT });
      await chain.client.waitForTransactionReceipt({ hash });
      txHashes.push(hash);
      done.push(`sent ${formatEther(DEV_GAS_GIFT)} ETH`);
    }
    return { platform, address: account, message: done.join(' and '), txHashes };
  }

  async getDeposit(platform: PaymentPlatform, contract: string, id: string): Promise<DepositInfo> {
    const chain = this.#manager.clientOfPlatform(platform);
    const address = checkedAddress(contract, 'contract');
    let depositId: bigint;
    try {
      depositId = BigInt(id);
    } catch {
      throw erc20Error(Erc20ErrorCode.DepositNotFound, 'deposit id must be a number', { id });
    }
    try {
      const view = await chain.client.readContract({
        address,
        abi: lockPaymentArtifact.abi,
        functionName: 'getDeposit',
        args: [depositId],
      });
      return {
        id: `0x${view.id.toString(16)}`,
        contract: address,
        funder: view.funder,
        spender: view.spender,
        amount: fromWei(view.amount),
        fee: fromWei(view.feeAmount),
        validTo: new Date(Number(view.validTo) * 1000).toISOString(),
      };
    } catch (error) {
      const reverted =
        error instanceof Error && 'walk' in error && typeof error.walk === 'function'
          ? error.walk((e: unknown) => e instanceof ContractFunctionRevertedError)
          : undefined;
      if (reverted !== undefined && reverted !== null) {
        throw erc20Error(
          Erc20ErrorCode.DepositNotFound,
          `no deposit ${id} in ${address}`,
          { id, contract: address },
          {
            httpStatus: 404,
          },
        );
      }
      throw erc20Error(
        Erc20ErrorCode.Rpc,
        `reading deposit ${id} failed`,
        { id, contract: address },
        {
          cause: error,
          httpStatus: 502,
        },
      );
    }
  }

  async #deliverConfirmations(): Promise<void> {
    const listener = this.#listener;
    if (listener === undefined) return;
    for (const row of this.#store.undeliveredConfirmations()) {
      await listener({
        orderIds: JSON.parse(row.order_ids) as string[],
        platform: row.platform,
        payer: row.payer,
        payee: row.payee,
        amount: fromWei(BigInt(row.amount)),
        txHash: row.tx_hash,
        blockNumber: row.block_number,
        confirmedAt: row.confirmed_at,
      });
      this.#store.markDelivered(row.confirmation_id);
    }
  }
}

/** A deposit as orders and close requests name it: checksummed contract, id as 0x hex. */
function depositRef(deposit: { id: string; contract: string }): { contract: string; depositId: string } {
  const contract = checkedAddress(deposit?.contract, 'deposit.contract');
  let id: bigint;
  try {
    id = BigInt(deposit.id);
  } catch {
    throw erc20Error(Erc20ErrorCode.DepositNotFound, 'deposit.id must be a number (decimal or 0x hex)', {
      depositId: deposit.id,
    });
  }
  return { contract, depositId: `0x${id.toString(16)}` };
}
