/**
 * The persistent transaction manager: turns stored orders into as few transactions as it can (one multi-transfer per
 * batch of payees, one deposit payout per deposit), signs them with a nonce kept in the database, stores the signed
 * bytes before broadcasting, bumps the fee of a stuck transaction (same nonce; whichever variant is mined completes
 * the orders), waits for confirmations, and retries with backoff while the RPC is down. After a restart it picks up
 * every open transaction from the database and rebroadcasts the stored bytes instead of signing anew, so an order is
 * never paid twice.
 */
import {
  type Address,
  encodeFunctionData,
  getAddress,
  type Hex,
  keccak256,
  maxUint256,
  numberToHex,
  padHex,
} from 'viem';
import type { Logger } from '../../log/index.ts';
import { type ChainClient, createChainClient } from './chain.ts';
import { lockPaymentArtifact, multiTransferArtifact, testGlmArtifact } from './contracts.generated.ts';
import {
  type Env,
  type NetworkConfig,
  networkOfPlatform,
  resolveNetwork,
  sendoutIntervalMs,
} from './networks.ts';
import { type DigestSigner, remoteAccount } from './signer.ts';
import type { Erc20Store, NewTx, OrderRow, TxKind, TxRow } from './store.ts';

const erc20Abi = testGlmArtifact.abi;

/** Where a test can hold the manager (a never-resolving promise = the process died there). */
export type FaultPoint = 'step' | 'order-stored' | 'tx-stored' | 'tx-broadcast';
export type FaultHook = (point: FaultPoint, details: Record<string, unknown>) => Promise<void> | void;

export interface ManagerOptions {
  store: Erc20Store;
  logger: Logger;
  sign: DigestSigner;
  env: Env;
  /** How often the loop looks at open work. */
  tickMs: number;
  /** A transaction not mined after this long gets a higher fee. */
  bumpAfterMs: number;
  /** Open transactions are rebroadcast this often (a node may have dropped them). */
  rebroadcastMs: number;
  /** Payees per multi-transfer transaction. */
  maxPerTx: number;
  /** Ceiling of the retry delay while an RPC endpoint fails. */
  maxBackoffMs: number;
  faults?: FaultHook;
  now?: () => number;
}

/** Replacement needs ≥ 10 % more on both fees; 25 % moves a stuck transaction in one or two steps. */
const BUMP_NUMERATOR = 125n;
const BUMP_DENOMINATOR = 100n;
const GAS_MARGIN_PERCENT = 120n;
/** After a broadcast, passes come this often (ms) for `QUICK_RECEIPT_WINDOW_MS`, then every `tickMs` again. */
const QUICK_RECEIPT_POLL_MS = 100;
const QUICK_RECEIPT_WINDOW_MS = 2_000;

/**
 * The pause before the manager's next pass: short for a while after a broadcast, since a chain that mines at once
 * (a dev chain) has the receipt ready long before a whole tick is over (measured: a second of every `golem run` on
 * the devnet); a few extra receipt reads per transaction, then the normal tick, so a slow chain is not polled hard.
 */
export function nextPassInMs(now: number, lastBroadcastAt: number, tickMs: number): number {
  const sinceBroadcast = now - lastBroadcastAt;
  return sinceBroadcast >= 0 && sinceBroadcast < QUICK_RECEIPT_WINDOW_MS
    ? Math.min(tickMs, QUICK_RECEIPT_POLL_MS)
    : tickMs;
}

interface AccountKey {
  platform: string;
  payer: string;
}

export class TransactionManager {
  readonly #o: ManagerOptions;
  readonly #now: () => number;
  readonly #clients = new Map<string, ChainClient>();
  readonly #networks = new Map<string, NetworkConfig>();
  readonly #backoff = new Map<string, { failures: number; until: number }>();
  readonly #flushRequested = new Set<string>();
  #running = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #stepWaiters: (() => void)[] = [];
  #deliver: (() => Promise<void>) | undefined;
  #lastBroadcastAt = Number.NEGATIVE_INFINITY;

  constructor(options: ManagerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  network(name: string): NetworkConfig {
    let network = this.#networks.get(name);
    if (network === undefined) {
      network = resolveNetwork(name, this.#o.env);
      this.#networks.set(name, network);
    }
    return network;
  }

  client(network: NetworkConfig): ChainClient {
    let client = this.#clients.get(network.name);
    if (client === undefined) {
      client = createChainClient(network);
      this.#clients.set(network.name, client);
    }
    return client;
  }

  clientOfPlatform(platform: string): ChainClient {
    return this.client(this.network(networkOfPlatform(platform)));
  }

  /** The work done after each step (delivering confirmations). */
  afterStep(deliver: () => Promise<void>): void {
    this.#deliver = deliver;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
    for (const waiter of this.#stepWaiters.splice(0)) waiter();
  }

  wake(): void {
    this.#wake?.();
  }

  /** Sends what is scheduled now; resolves after the next complete pass over the open work. */
  async flush(platform?: string): Promise<void> {
    for (const { platform: p, payer } of this.#o.store.activeAccounts()) {
      if (platform === undefined || p === platform) this.#flushRequested.add(`${p}|${payer}`);
    }
    if (!this.#running) return;
    // Wait for a pass that started after this call.
    await new Promise<void>((resolve) => {
      let passes = 0;
      const waiter = () => {
        passes++;
        if (passes >= 2 || !this.#running) resolve();
        else this.#stepWaiters.push(waiter);
      };
      this.#stepWaiters.push(waiter);
      this.wake();
    });
  }

  async #run(): Promise<void> {
    while (this.#running) {
      await this.step();
      for (const waiter of this.#stepWaiters.splice(0)) waiter();
      if (!this.#running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, nextPassInMs(this.#now(), this.#lastBroadcastAt, this.#o.tickMs));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  async #broadcast(chain: ChainClient, raw: Hex, hash: string): Promise<void> {
    await chain.sendRaw(raw);
    this.#o.store.markBroadcast(hash);
    this.#lastBroadcastAt = this.#now();
  }

  /** One pass: every account with open work, each behind its own backoff. Never throws. */
  async step(): Promise<void> {
    await this.#o.faults?.('step', {});
    for (const account of this.#o.store.activeAccounts()) {
      if (!this.#running) return;
      const key = `${account.platform}|${account.payer}`;
      const backoff = this.#backoff.get(key);
      if (backoff !== undefined && backoff.until > this.#now()) continue;
      try {
        await this.#processAccount(account);
        this.#backoff.delete(key);
      } catch (error) {
        const failures = (backoff?.failures ?? 0) + 1;
        const delay = Math.min(this.#o.maxBackoffMs, 250 * 2 ** Math.min(failures, 16));
        this.#backoff.set(key, { failures, until: this.#now() + delay });
        this.#o.logger.warn('payment account step failed; retrying', {
          ...account,
          failures,
          retryInMs: delay,
          error: (error as Error).message?.split('\n')[0],
        });
      }
    }
    try {
      await this.#deliver?.();
    } catch (error) {
      this.#o.logger.warn('delivering confirmations failed; retrying', { error: (error as Error).message });
    }
  }

  async #processAccount({ platform, payer }: AccountKey): Promise<void> {
    const network = this.network(networkOfPlatform(platform));
    const chain = this.client(network);
    for (const tx of this.#o.store.openTxs(platform, payer)) {
      if (!this.#running) return;
      await this.#watch(chain, tx);
    }
    await this.#closeDeposits(chain, platform, getAddress(payer));
    const key = `${platform}|${payer}`;
    const orders = this.#o.store.pendingOrders(platform, payer);
    if (orders.length === 0) {
      this.#flushRequested.delete(key);
      return;
    }
    const oldest = Math.min(...orders.map((o) => o.created_at));
    const due =
      this.#flushRequested.has(key) || this.#now() - oldest >= sendoutIntervalMs(network.name, this.#o.env);
    if (!due) return;
    await this.#sendOrders(chain, platform, getAddress(payer), orders);
    this.#flushRequested.delete(key);
  }

  // ---- sending -------------------------------------------------------------------------------------------------

  async #sendOrders(chain: ChainClient, platform: string, payer: Address, orders: OrderRow[]): Promise<void> {
    const network = chain.network;
    const plain = orders.filter((o) => o.deposit_id === null);
    const byDeposit = new Map<string, OrderRow[]>();
    for (const order of orders) {
      if (order.deposit_id === null) continue;
      const key = `${order.deposit_contract}|${order.deposit_id}`;
      byDeposit.set(key, [...(byDeposit.get(key) ?? []), order]);
    }

    for (const group of byDeposit.values()) {
      const first = group[0] as OrderRow;
      const payments = aggregate(group);
      const lock = getAddress(first.deposit_contract as string);
      const id = BigInt(first.deposit_id as string);
      const data =
        payments.length === 1
          ? encodeFunctionData({
              abi: lockPaymentArtifact.abi,
              functionName: 'depositSingleTransfer',
              args: [id, payments[0]?.payee as Address, payments[0]?.amount as bigint],
            })
          : encodeFunctionData({
              abi: lockPaymentArtifact.abi,
              functionName: 'depositTransfer',
              args: [id, payments.map((p) => pack(p.payee, p.amount))],
            });
      await this.#createAndSend(chain, platform, payer, 'deposit', lock, data, group);
    }

    if (plain.length === 0) return;
    const payments = aggregate(plain);
    const multi = network.multiTransferAddress;
    if (payments.length > 1 && multi !== undefined) {
      if (!(await this.#ensureApproved(chain, platform, payer, multi))) return;
    }
    for (const chunk of chunks(payments, multi === undefined ? 1 : this.#o.maxPerTx)) {
      const chunkOrders = plain.filter((o) => chunk.some((p) => p.payee === getAddress(o.payee)));
      if (chunk.length === 1) {
        const only = chunk[0] as Payment;
        const data = encodeFunctionData({
          abi: erc20Abi,
          functionName: 'transfer',
          args: [only.payee, only.amount],
        });
        await this.#createAndSend(
          chain,
          platform,
          payer,
          'transfer',
          network.tokenAddress,
          data,
          chunkOrders,
        );
      } else {
        const data = encodeFunctionData({
          abi: multiTransferArtifact.abi,
          functionName: 'golemTransferDirectPacked',
          args: [chunk.map((p) => pack(p.payee, p.amount))],
        });
        await this.#createAndSend(chain, platform, payer, 'multi', multi as Address, data, chunkOrders);
      }
    }
  }

  /** Requested closes whose deposit has no unfinished orders left: `closeDeposit`, unless it is closed already. */
  async #closeDeposits(chain: ChainClient, platform: string, payer: Address): Promise<void> {
    for (const close of this.#o.store.pendingDepositCloses(platform, payer)) {
      if (this.#o.store.openOrdersOfDeposit(close.contract, close.deposit_id) > 0) continue;
      const lock = getAddress(close.contract);
      const id = BigInt(close.deposit_id);
      const deposit = await chain.client.readContract({
        address: lock,
        abi: lockPaymentArtifact.abi,
        functionName: 'deposits',
        args: [id],
      });
      if (getAddress(deposit[0]) !== payer) {
        // Closed or terminated already (spender 0x…0Bad), or never ours: nothing left to close.
        this.#o.store.markDepositClosed(close.contract, close.deposit_id);
        this.#o.logger.info('deposit needs no close', { deposit: close.deposit_id, spender: deposit[0] });
        continue;
      }
      const data = encodeFunctionData({
        abi: lockPaymentArtifact.abi,
        functionName: 'closeDeposit',
        args: [id],
      });
      await this.#createAndSend(chain, platform, payer, 'close', lock, data, [], {
        contract: close.contract,
        depositId: close.deposit_id,
      });
    }
  }

  /** The one-time unlimited `approve` of the multi-transfer contract; false while it is not yet on chain. */
  async #ensureApproved(
    chain: ChainClient,
    platform: string,
    payer: Address,
    spender: Address,
  ): Promise<boolean> {
    const allowance = await chain.client.readContract({
      address: chain.network.tokenAddress,
      abi: erc20Abi,
      functionName: 'allowance',
      args: [payer, spender],
    });
    if (allowance >= maxUint256 / 2n) return true;
    if (this.#o.store.openTxs(platform, payer).some((tx) => tx.kind === 'approve')) return false;
    const data = encodeFunctionData({ abi: erc20Abi, functionName: 'approve', args: [spender, maxUint256] });
    await this.#createAndSend(chain, platform, payer, 'approve', chain.network.tokenAddress, data, []);
    return false;
  }

  async #createAndSend(
    chain: ChainClient,
    platform: string,
    payer: Address,
    kind: TxKind,
    to: Address,
    data: Hex,
    orders: OrderRow[],
    depositClose?: NewTx['depositClose'],
  ): Promise<void> {
    const network = chain.network;
    // A transfer that would revert (no funds, no allowance, a closed deposit) is not sent: no gas is burnt on it and
    // the orders wait, with backoff, for the account to be fixed.
    const estimate = await chain.client.estimateGas({ account: payer, to, data });
    const gasLimit = (estimate * GAS_MARGIN_PERCENT) / 100n;
    const stored = this.#o.store.storedNextNonce(network.chainId, payer);
    const onChain = await chain.nonce(payer, 'pending');
    const nonce = Math.max(stored, onChain);
    const fees = await this.#initialFees(chain);
    const signed = await this.#sign(network, payer, { nonce, to, data, gas: gasLimit, ...fees });
    const newTx: NewTx = {
      platform,
      chainId: network.chainId,
      payer,
      nonce,
      kind,
      to,
      data,
      gasLimit,
      orderIds: orders.map((o) => o.order_id),
      depositClose,
      attempt: { ...signed, ...fees },
    };
    const txId = this.#o.store.insertTx(newTx);
    this.#o.logger.info('transaction stored', {
      txId,
      kind,
      nonce,
      hash: signed.hash,
      orders: orders.length,
    });
    await this.#o.faults?.('tx-stored', { txId, hash: signed.hash });
    await this.#broadcast(chain, signed.raw, signed.hash);
    await this.#o.faults?.('tx-broadcast', { txId, hash: signed.hash });
  }

  async #initialFees(chain: ChainClient): Promise<{ maxFeePerGas: bigint; priorityFeePerGas: bigint }> {
    const network = chain.network;
    const block = await chain.client.getBlock({ blockTag: 'latest' });
    const base = block.baseFeePerGas ?? 0n;
    const maxFeePerGas = min(network.maxFeePerGas, base * 2n + network.priorityFeePerGas);
    return { maxFeePerGas, priorityFeePerGas: min(network.priorityFeePerGas, maxFeePerGas) };
  }

  async #sign(
    network: NetworkConfig,
    payer: Address,
    tx: {
      nonce: number;
      to: Address;
      data: Hex;
      gas: bigint;
      maxFeePerGas: bigint;
      priorityFeePerGas: bigint;
    },
  ): Promise<{ hash: Hex; raw: Hex }> {
    const account = remoteAccount(payer, this.#o.sign);
    const raw = await account.signTransaction({
      type: 'eip1559',
      chainId: network.chainId,
      nonce: tx.nonce,
      to: tx.to,
      data: tx.data,
      gas: tx.gas,
      value: 0n,
      maxFeePerGas: tx.maxFeePerGas,
      maxPriorityFeePerGas: tx.priorityFeePerGas,
    });
    return { raw, hash: keccak256(raw) };
  }

  // ---- watching ------------------------------------------------------------------------------------------------

  async #watch(chain: ChainClient, tx: TxRow): Promise<void> {
    const attempts = this.#o.store.attempts(tx.tx_id);
    for (const attempt of attempts) {
      const receipt = await chain.receipt(attempt.hash as Hex);
      if (receipt === null) continue;
      const latest = await chain.client.getBlockNumber();
      const confirmations = latest - receipt.blockNumber + 1n;
      if (confirmations < BigInt(chain.network.requiredConfirmations)) return;
      if (receipt.status === 'success') {
        if (
          this.#o.store.confirmTx(
            tx.tx_id,
            attempt.hash,
            receipt.blockNumber,
            receipt.gasUsed,
            new Date(this.#now()).toISOString(),
          )
        ) {
          this.#o.logger.info('transaction confirmed', { txId: tx.tx_id, hash: attempt.hash, kind: tx.kind });
        }
      } else if (this.#o.store.releaseTx(tx.tx_id, 'failed', 'reverted on chain', attempt.hash)) {
        this.#o.logger.warn('transaction reverted; its orders wait for another one', {
          txId: tx.tx_id,
          hash: attempt.hash,
        });
      }
      return;
    }
    // None mined. If the chain's nonce is past ours, another transaction took the nonce: ours can never be mined.
    const minedNonce = await chain.nonce(getAddress(tx.payer), 'latest');
    if (minedNonce > tx.nonce) {
      // Receipts are checked again: one of ours may have been mined between the two reads.
      for (const attempt of attempts) if ((await chain.receipt(attempt.hash as Hex)) !== null) return;
      if (this.#o.store.releaseTx(tx.tx_id, 'dropped', `nonce ${tx.nonce} used by another transaction`)) {
        this.#o.logger.warn('transaction displaced; its orders wait for another one', { txId: tx.tx_id });
      }
      return;
    }
    const last = attempts[attempts.length - 1];
    if (last === undefined) return;
    const now = this.#now();
    if (now - last.created_at >= this.#o.bumpAfterMs && (await this.#bump(chain, tx, last))) return;
    for (const attempt of attempts) {
      if (attempt.broadcast === 0 || now - (attempt.broadcast_at ?? 0) >= this.#o.rebroadcastMs) {
        await this.#broadcast(chain, attempt.raw as Hex, attempt.hash);
      }
    }
  }

  /** Same nonce, fees up by a quarter (capped by the network's maximum); false when already at the cap. */
  async #bump(
    chain: ChainClient,
    tx: TxRow,
    last: { max_fee_per_gas: string; priority_fee_per_gas: string },
  ): Promise<boolean> {
    const network = chain.network;
    const block = await chain.client.getBlock({ blockTag: 'latest' });
    const base = block.baseFeePerGas ?? 0n;
    const previousMax = BigInt(last.max_fee_per_gas);
    const previousTip = BigInt(last.priority_fee_per_gas);
    const tip = max(network.priorityFeePerGas, ceilDiv(previousTip * BUMP_NUMERATOR, BUMP_DENOMINATOR));
    const maxFeePerGas = min(
      network.maxFeePerGas,
      max(ceilDiv(previousMax * BUMP_NUMERATOR, BUMP_DENOMINATOR), base * 2n + tip),
    );
    if (maxFeePerGas <= previousMax) return false;
    const priorityFeePerGas = min(tip, maxFeePerGas);
    const signed = await this.#sign(network, getAddress(tx.payer), {
      nonce: tx.nonce,
      to: getAddress(tx.to_address),
      data: tx.data as Hex,
      gas: BigInt(tx.gas_limit),
      maxFeePerGas,
      priorityFeePerGas,
    });
    this.#o.store.insertAttempt(tx.tx_id, { ...signed, maxFeePerGas, priorityFeePerGas });
    this.#o.logger.info('transaction bumped', {
      txId: tx.tx_id,
      hash: signed.hash,
      maxFeePerGas,
      priorityFeePerGas,
    });
    await this.#broadcast(chain, signed.raw, signed.hash);
    return true;
  }
}

interface Payment {
  payee: Address;
  amount: bigint;
}

/** Orders to the same payee become one payment. */
function aggregate(orders: OrderRow[]): Payment[] {
  const sums = new Map<Address, bigint>();
  for (const order of orders) {
    const payee = getAddress(order.payee);
    sums.set(payee, (sums.get(payee) ?? 0n) + BigInt(order.amount));
  }
  return [...sums].map(([payee, amount]) => ({ payee, amount }));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Golem's packed payment: payee (20 bytes) ‖ amount (12 bytes, big-endian). */
export function pack(payee: Address, amount: bigint): Hex {
  return `0x${payee.slice(2).toLowerCase()}${padHex(numberToHex(amount), { size: 12 }).slice(2)}`;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
const ceilDiv = (a: bigint, b: bigint) => (a + b - 1n) / b;
