/**
 * What the payment module asks of a payment driver (after Golem's driver messages: GetAccountBalance,
 * SchedulePayment, VerifyPayment, Fund, ValidateAllocation). The payment module keeps the books (allocations,
 * documents, what is owed to whom); a driver moves money on one kind of chain and reports what really happened.
 * Amounts cross this boundary as decimal strings of whole tokens (`"1.5"` = 1.5 GLM, 18 decimals), never floats.
 */
import type { Service } from '../service/index.ts';

/** `erc20-dev-tglm`, `erc20-polygon-glm`: `<driver>-<network>-<token>`. */
export type PaymentPlatform = string;

export interface PlatformInfo {
  platform: PaymentPlatform;
  driver: string;
  network: string;
  token: string;
  chainId: number;
  /** Mainnet platforms carry real value; test networks can be funded by the driver. */
  testnet: boolean;
}

export interface AccountBalance {
  platform: PaymentPlatform;
  address: string;
  /** Token balance (GLM), decimal string. */
  token: string;
  /** Native currency for gas (ETH/POL), decimal string. */
  gas: string;
  /** Block the balances were read at. */
  blockNumber: string;
}

/**
 * One transfer the payment module wants made. `orderId` is the idempotency key: scheduling the same id twice
 * (a retry, a restart) never pays twice.
 */
export interface PaymentOrder {
  orderId: string;
  platform: PaymentPlatform;
  /** Payer address (an identity of this node). */
  payer: string;
  payee: string;
  amount: string;
  /** Deposit to pay from instead of the payer's balance. */
  deposit?: { id: string; contract: string };
}

/** Reported once an order's transfer is confirmed on chain. */
export interface PaymentConfirmation {
  orderIds: string[];
  platform: PaymentPlatform;
  payer: string;
  payee: string;
  /** Total transferred to `payee` in this transaction for these orders. */
  amount: string;
  txHash: string;
  blockNumber: string;
  confirmedAt: string;
}

export interface VerifyPaymentRequest {
  platform: PaymentPlatform;
  txHash: string;
  payer: string;
  payee: string;
  /** The least the transfer to `payee` in `txHash` must carry. */
  amount: string;
}

export interface VerifiedPayment {
  txHash: string;
  payer: string;
  payee: string;
  /** Token amount actually transferred to `payee` by `payer` in this transaction. */
  amount: string;
  blockNumber: string;
  /**
   * The token transfer logs that make up `amount` (a transaction may pay a payee in several), so the payment module
   * can make sure no log is claimed by two payments.
   */
  transfers?: { logIndex: number; amount: string }[];
}

export interface FundResult {
  platform: PaymentPlatform;
  address: string;
  /** What was done, for the CLI (`minted 1000 tGLM and sent 1 ETH`), or what the user must do on a real network. */
  message: string;
  txHashes: string[];
}

export interface DepositInfo {
  id: string;
  contract: string;
  funder: string;
  spender: string;
  amount: string;
  fee: string;
  validTo: string;
}

export interface ReleaseDepositRequest {
  platform: PaymentPlatform;
  payer: string;
  deposit: { id: string; contract: string };
}

/** Listener for confirmations; called again after a restart for confirmations not yet acknowledged. */
export type ConfirmationListener = (confirmation: PaymentConfirmation) => Promise<void>;

export interface PaymentDriver extends Service {
  readonly driverName: string;
  platforms(): PlatformInfo[];
  getBalance(platform: PaymentPlatform, address: string): Promise<AccountBalance>;
  /** Persists the order before it returns; sends it in a later batch. Idempotent by `orderId`. */
  schedulePayment(order: PaymentOrder): Promise<void>;
  /** Sends what is scheduled now instead of at the end of the batch window (tests, shutdown). */
  flush(platform?: PaymentPlatform): Promise<void>;
  /**
   * Registers the listener that receives confirmations. A confirmation is redelivered (after a restart too)
   * until the listener's promise resolves, so the listener must be idempotent.
   */
  onConfirmed(listener: ConfirmationListener): void;
  /** Payee side: reads the transaction from the chain; throws a coded error when it does not pay as claimed. */
  verifyPayment(request: VerifyPaymentRequest): Promise<VerifiedPayment>;
  /** Test networks: tokens and gas for `address`; real networks: a message saying what to do. */
  fund(platform: PaymentPlatform, address: string): Promise<FundResult>;
  getDeposit(platform: PaymentPlatform, contract: string, id: string): Promise<DepositInfo>;
  /**
   * Golem's `DriverReleaseDeposit`: closes the deposit (remainder back to the funder, fee to the spender) once every
   * order paid from it is confirmed. Persisted before it returns and idempotent; `payer` is the deposit's spender.
   * Optional: a driver without deposits leaves it out.
   */
  releaseDeposit?(request: ReleaseDepositRequest): Promise<void>;
}
