/**
 * A payment driver over an in-memory ledger, for the payment module's unit tests only (the real driver is erc20
 * on anvil): one `FakeChain` is shared by the drivers of several nodes, so a payee can verify what a payer sent.
 */
import { createHash } from 'node:crypto';
import { GolemError } from '../../../../src/core/errors/index.ts';
import type {
  AccountBalance,
  ConfirmationListener,
  DepositInfo,
  FundResult,
  PaymentConfirmation,
  PaymentDriver,
  PaymentOrder,
  PlatformInfo,
  ReleaseDepositRequest,
  VerifiedPayment,
  VerifyPaymentRequest,
} from '../../../../src/core/payment/driver.ts';
import { Erc20ErrorCode } from '../../../../src/core/payment/erc20/index.ts';
import { formatAmount, PaymentErrorCode, parseAmount } from '../../../../src/core/payment/index.ts';

export const PLATFORM = 'erc20-dev-tglm';

interface Transfer {
  txHash: string;
  from: string;
  to: string;
  amount: bigint;
}

export class FakeChain {
  balances = new Map<string, bigint>();
  transfers: Transfer[] = [];
  deposits = new Map<string, DepositInfo>();
  #block = 0;

  balance(address: string): bigint {
    return this.balances.get(address.toLowerCase()) ?? 0n;
  }

  mint(address: string, amount: string): void {
    this.balances.set(address.toLowerCase(), this.balance(address) + parseAmount(amount));
  }

  transfer(from: string, to: string, amount: bigint): string {
    if (this.balance(from) < amount)
      throw new GolemError(PaymentErrorCode.InsufficientFunds, 'not enough tokens');
    this.#block++;
    const txHash = `0x${createHash('sha256').update(`${this.#block}:${from}:${to}:${amount}`).digest('hex')}`;
    this.balances.set(from, this.balance(from) - amount);
    this.balances.set(to, this.balance(to) + amount);
    this.transfers.push({ txHash, from, to, amount });
    return txHash;
  }

  get blockNumber(): string {
    return String(this.#block);
  }
}

export class FakeDriver implements PaymentDriver {
  readonly name = 'fake-driver';
  readonly driverName = 'erc20';
  readonly chain: FakeChain;
  /** Orders by id, persisted across "restarts" of the owning service when the same driver object is reused. */
  orders = new Map<string, PaymentOrder & { sent: boolean }>();
  unconfirmed: PaymentConfirmation[] = [];
  scheduleCalls = 0;
  /** Deposits asked to be closed, each with the orders handed over before it. */
  releasedDeposits: { request: ReleaseDepositRequest; ordersBefore: number }[] = [];
  /** Keep confirmations back (a process that dies before its listener acknowledged them). */
  holdConfirmations = false;
  #listener: ConfirmationListener | undefined;

  constructor(chain: FakeChain) {
    this.chain = chain;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {
    this.#listener = undefined;
  }

  platforms(): PlatformInfo[] {
    return [
      { platform: PLATFORM, driver: 'erc20', network: 'dev', token: 'tglm', chainId: 31337, testnet: true },
    ];
  }

  async getBalance(platform: string, address: string): Promise<AccountBalance> {
    return {
      platform,
      address,
      token: formatAmount(this.chain.balance(address)),
      gas: '1',
      blockNumber: this.chain.blockNumber,
    };
  }

  async schedulePayment(order: PaymentOrder): Promise<void> {
    this.scheduleCalls++;
    if (!this.orders.has(order.orderId)) this.orders.set(order.orderId, { ...order, sent: false });
  }

  async flush(): Promise<void> {
    for (const order of this.orders.values()) {
      if (order.sent) continue;
      order.sent = true;
      const amount = parseAmount(order.amount);
      const txHash = this.chain.transfer(order.payer, order.payee, amount);
      this.unconfirmed.push({
        orderIds: [order.orderId],
        platform: order.platform,
        payer: order.payer,
        payee: order.payee,
        amount: order.amount,
        txHash,
        blockNumber: this.chain.blockNumber,
        confirmedAt: new Date().toISOString(),
      });
    }
    await this.redeliver();
  }

  /** Hands unacknowledged confirmations to the listener (as a driver does after a restart). */
  async redeliver(): Promise<void> {
    if (this.holdConfirmations) return;
    for (const confirmation of [...this.unconfirmed]) {
      if (this.#listener === undefined) return;
      await this.#listener(confirmation);
      this.unconfirmed = this.unconfirmed.filter((c) => c !== confirmation);
    }
  }

  onConfirmed(listener: ConfirmationListener): void {
    this.#listener = listener;
  }

  async verifyPayment(request: VerifyPaymentRequest): Promise<VerifiedPayment> {
    const transfer = this.chain.transfers.find((t) => t.txHash === request.txHash.toLowerCase());
    if (
      transfer === undefined ||
      transfer.to !== request.payee.toLowerCase() ||
      transfer.from !== request.payer.toLowerCase()
    )
      throw new GolemError(Erc20ErrorCode.NoMatchingTransfer, 'no such transfer', { httpStatus: 400 });
    if (transfer.amount < parseAmount(request.amount))
      throw new GolemError(Erc20ErrorCode.AmountTooSmall, 'transfer carries less', { httpStatus: 400 });
    return {
      txHash: transfer.txHash,
      payer: transfer.from,
      payee: transfer.to,
      amount: formatAmount(transfer.amount),
      blockNumber: this.chain.blockNumber,
    };
  }

  async fund(platform: string, address: string): Promise<FundResult> {
    this.chain.mint(address, '1000');
    return { platform, address, message: 'minted 1000 tGLM', txHashes: [] };
  }

  async releaseDeposit(request: ReleaseDepositRequest): Promise<void> {
    this.releasedDeposits.push({ request, ordersBefore: this.orders.size });
  }

  async getDeposit(_platform: string, contract: string, id: string): Promise<DepositInfo> {
    const deposit = this.chain.deposits.get(`${contract}:${id}`);
    if (deposit === undefined) throw new GolemError(Erc20ErrorCode.DepositNotFound, 'no such deposit');
    return deposit;
  }
}
