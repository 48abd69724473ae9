/**
 * The driver's persistent state. Every step that must survive a crash is one SQLite transaction: an order is stored
 * before `schedulePayment` returns; a transaction's signed bytes are stored, its orders claimed and its nonce taken
 * together, before anything is broadcast; a confirmation is stored together with the orders it completes.
 */
import { type Database, migrate } from '../../db/index.ts';
import { Erc20ErrorCode, erc20Error } from './errors.ts';
import { erc20Migrations } from './migrations.ts';

export type OrderStatus = 'pending' | 'sent' | 'confirmed';
/** signed: stored, maybe not broadcast; sent: broadcast; confirmed/failed: final on chain; dropped: its nonce was
 * taken by a transaction that is not ours, so its orders went back to pending. */
export type TxStatus = 'signed' | 'sent' | 'confirmed' | 'failed' | 'dropped';
export type TxKind = 'transfer' | 'multi' | 'approve' | 'deposit' | 'close';

export interface OrderRow {
  order_id: string;
  platform: string;
  payer: string;
  payee: string;
  amount: string;
  deposit_id: string | null;
  deposit_contract: string | null;
  status: OrderStatus;
  tx_id: number | null;
  failures: number;
  created_at: number;
}

export interface TxRow {
  tx_id: number;
  platform: string;
  chain_id: number;
  payer: string;
  nonce: number;
  kind: TxKind;
  to_address: string;
  data: string;
  gas_limit: string;
  status: TxStatus;
  confirmed_hash: string | null;
  block_number: string | null;
  gas_used: string | null;
  created_at: number;
}

export interface AttemptRow {
  hash: string;
  tx_id: number;
  raw: string;
  max_fee_per_gas: string;
  priority_fee_per_gas: string;
  broadcast: number;
  created_at: number;
  broadcast_at: number | null;
}

export interface ConfirmationRow {
  confirmation_id: number;
  tx_id: number;
  platform: string;
  payer: string;
  payee: string;
  amount: string;
  order_ids: string;
  tx_hash: string;
  block_number: string;
  confirmed_at: string;
}

export interface NewOrder {
  orderId: string;
  platform: string;
  payer: string;
  payee: string;
  amountWei: bigint;
  depositId?: string;
  depositContract?: string;
}

export interface DepositCloseRow {
  contract: string;
  deposit_id: string;
  platform: string;
  payer: string;
  status: 'pending' | 'sent' | 'closed';
  tx_id: number | null;
}

export interface NewTx {
  platform: string;
  chainId: number;
  payer: string;
  nonce: number;
  kind: TxKind;
  to: string;
  data: string;
  gasLimit: bigint;
  orderIds: string[];
  /** The deposit this transaction closes (kind `close`). */
  depositClose?: { contract: string; depositId: string };
  attempt: { hash: string; raw: string; maxFeePerGas: bigint; priorityFeePerGas: bigint };
}

const OPEN: TxStatus[] = ['signed', 'sent'];

export class Erc20Store {
  readonly db: Database;
  readonly #now: () => number;

  constructor(db: Database, now: () => number = Date.now) {
    this.db = db;
    this.#now = now;
    migrate(db, erc20Migrations);
  }

  /** Stores the order; the same id again with the same content is a no-op, with other content a conflict. */
  insertOrder(order: NewOrder): 'created' | 'exists' {
    return this.db.transaction(() => {
      const existing = this.db.get<OrderRow>('SELECT * FROM erc20_order WHERE order_id = ?', order.orderId);
      if (existing !== undefined) {
        const same =
          existing.platform === order.platform &&
          existing.payer === order.payer &&
          existing.payee === order.payee &&
          existing.amount === order.amountWei.toString() &&
          existing.deposit_id === (order.depositId ?? null);
        if (!same) {
          throw erc20Error(
            Erc20ErrorCode.OrderConflict,
            `order ${order.orderId} was already scheduled with other content`,
            { orderId: order.orderId },
            { httpStatus: 409 },
          );
        }
        return 'exists';
      }
      const now = this.#now();
      this.db.run(
        `INSERT INTO erc20_order (order_id, platform, payer, payee, amount, deposit_id, deposit_contract, status,
           created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
        order.orderId,
        order.platform,
        order.payer,
        order.payee,
        order.amountWei.toString(),
        order.depositId ?? null,
        order.depositContract ?? null,
        now,
        now,
      );
      return 'created';
    });
  }

  getOrder(orderId: string): OrderRow | undefined {
    return this.db.get<OrderRow>('SELECT * FROM erc20_order WHERE order_id = ?', orderId);
  }

  pendingOrders(platform: string, payer: string): OrderRow[] {
    return this.db.all<OrderRow>(
      `SELECT * FROM erc20_order WHERE status = 'pending' AND platform = ? AND payer = ? ORDER BY created_at, order_id`,
      platform,
      payer,
    );
  }

  /** (platform, payer) pairs with work: pending orders or open transactions. */
  activeAccounts(): { platform: string; payer: string }[] {
    return this.db.all<{ platform: string; payer: string }>(
      `SELECT DISTINCT platform, payer FROM erc20_order WHERE status = 'pending'
       UNION SELECT DISTINCT platform, payer FROM erc20_tx WHERE status IN ('signed', 'sent')
       UNION SELECT DISTINCT platform, payer FROM erc20_deposit_close WHERE status = 'pending'`,
    );
  }

  openTxs(platform: string, payer: string): TxRow[] {
    return this.db.all<TxRow>(
      `SELECT * FROM erc20_tx WHERE platform = ? AND payer = ? AND status IN ('signed', 'sent') ORDER BY nonce`,
      platform,
      payer,
    );
  }

  getTx(txId: number): TxRow | undefined {
    return this.db.get<TxRow>('SELECT * FROM erc20_tx WHERE tx_id = ?', txId);
  }

  attempts(txId: number): AttemptRow[] {
    return this.db.all<AttemptRow>(
      'SELECT * FROM erc20_tx_attempt WHERE tx_id = ? ORDER BY created_at, rowid',
      txId,
    );
  }

  ordersOfTx(txId: number): OrderRow[] {
    return this.db.all<OrderRow>('SELECT * FROM erc20_order WHERE tx_id = ? ORDER BY order_id', txId);
  }

  storedNextNonce(chainId: number, address: string): number {
    return (
      this.db.get<{ next_nonce: number }>(
        'SELECT next_nonce FROM erc20_nonce WHERE chain_id = ? AND address = ?',
        chainId,
        address,
      )?.next_nonce ?? 0
    );
  }

  /**
   * Stores a signed transaction with its first attempt, claims its orders (only those still pending and unclaimed:
   * compare-and-set) and advances the stored nonce, all at once. Returns the new transaction's id.
   */
  insertTx(tx: NewTx): number {
    return this.db.transaction(() => {
      const now = this.#now();
      const { lastInsertRowid: txId } = this.db.run(
        `INSERT INTO erc20_tx (platform, chain_id, payer, nonce, kind, to_address, data, gas_limit, status,
           created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'signed', ?, ?)`,
        tx.platform,
        tx.chainId,
        tx.payer,
        tx.nonce,
        tx.kind,
        tx.to,
        tx.data,
        tx.gasLimit.toString(),
        now,
        now,
      );
      this.#insertAttempt(txId, tx.attempt, now);
      for (const orderId of tx.orderIds) {
        const { changes } = this.db.run(
          `UPDATE erc20_order SET status = 'sent', tx_id = ?, updated_at = ?
           WHERE order_id = ? AND status = 'pending' AND tx_id IS NULL`,
          txId,
          now,
          orderId,
        );
        if (changes !== 1) throw new Error(`order ${orderId} is no longer pending; transaction not stored`);
      }
      if (tx.depositClose !== undefined) {
        const { changes } = this.db.run(
          `UPDATE erc20_deposit_close SET status = 'sent', tx_id = ?, updated_at = ?
           WHERE contract = ? AND deposit_id = ? AND status = 'pending' AND tx_id IS NULL`,
          txId,
          now,
          tx.depositClose.contract,
          tx.depositClose.depositId,
        );
        if (changes !== 1)
          throw new Error(`close of deposit ${tx.depositClose.depositId} is no longer pending`);
      }
      this.db.run(
        `INSERT INTO erc20_nonce (chain_id, address, next_nonce) VALUES (?, ?, ?)
         ON CONFLICT (chain_id, address) DO UPDATE SET next_nonce = MAX(next_nonce, excluded.next_nonce)`,
        tx.chainId,
        tx.payer,
        tx.nonce + 1,
      );
      return txId;
    });
  }

  insertAttempt(txId: number, attempt: NewTx['attempt']): void {
    this.db.transaction(() => this.#insertAttempt(txId, attempt, this.#now()));
  }

  #insertAttempt(txId: number, attempt: NewTx['attempt'], now: number): void {
    this.db.run(
      `INSERT INTO erc20_tx_attempt (hash, tx_id, raw, max_fee_per_gas, priority_fee_per_gas, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
      attempt.hash,
      txId,
      attempt.raw,
      attempt.maxFeePerGas.toString(),
      attempt.priorityFeePerGas.toString(),
      now,
    );
  }

  markBroadcast(hash: string): void {
    this.db.transaction(() => {
      const now = this.#now();
      const attempt = this.db.get<AttemptRow>('SELECT * FROM erc20_tx_attempt WHERE hash = ?', hash);
      if (attempt === undefined) return;
      this.db.run('UPDATE erc20_tx_attempt SET broadcast = 1, broadcast_at = ? WHERE hash = ?', now, hash);
      this.db.run(
        `UPDATE erc20_tx SET status = 'sent', updated_at = ? WHERE tx_id = ? AND status = 'signed'`,
        now,
        attempt.tx_id,
      );
    });
  }

  /**
   * The transaction was mined successfully as `hash`: it and its orders are final, and one confirmation per payee is
   * stored for delivery. Compare-and-set on the open state, so finishing twice does nothing.
   */
  confirmTx(txId: number, hash: string, blockNumber: bigint, gasUsed: bigint, confirmedAt: string): boolean {
    return this.db.transaction(() => {
      const now = this.#now();
      const { changes } = this.db.run(
        `UPDATE erc20_tx SET status = 'confirmed', confirmed_hash = ?, block_number = ?, gas_used = ?, updated_at = ?
         WHERE tx_id = ? AND status IN ('signed', 'sent')`,
        hash,
        blockNumber.toString(),
        gasUsed.toString(),
        now,
        txId,
      );
      if (changes !== 1) return false;
      const orders = this.ordersOfTx(txId);
      this.db.run(`UPDATE erc20_order SET status = 'confirmed', updated_at = ? WHERE tx_id = ?`, now, txId);
      this.db.run(
        `UPDATE erc20_deposit_close SET status = 'closed', updated_at = ? WHERE tx_id = ?`,
        now,
        txId,
      );
      const byPayee = new Map<string, OrderRow[]>();
      for (const order of orders) byPayee.set(order.payee, [...(byPayee.get(order.payee) ?? []), order]);
      for (const [payee, list] of byPayee) {
        const first = list[0] as OrderRow;
        this.db.run(
          `INSERT INTO erc20_confirmation (tx_id, platform, payer, payee, amount, order_ids, tx_hash, block_number,
             confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          txId,
          first.platform,
          first.payer,
          payee,
          list.reduce((sum, o) => sum + BigInt(o.amount), 0n).toString(),
          JSON.stringify(list.map((o) => o.order_id)),
          hash,
          blockNumber.toString(),
          confirmedAt,
        );
      }
      return true;
    });
  }

  /** The transaction reverted or was displaced: its orders go back to pending for another transaction. */
  releaseTx(txId: number, status: 'failed' | 'dropped', error: string, hash?: string): boolean {
    return this.db.transaction(() => {
      const now = this.#now();
      const { changes } = this.db.run(
        `UPDATE erc20_tx SET status = ?, error = ?, confirmed_hash = ?, updated_at = ?
         WHERE tx_id = ? AND status IN ('signed', 'sent')`,
        status,
        error,
        hash ?? null,
        now,
        txId,
      );
      if (changes !== 1) return false;
      this.db.run(
        `UPDATE erc20_order SET status = 'pending', tx_id = NULL, failures = failures + 1, updated_at = ?
         WHERE tx_id = ? AND status = 'sent'`,
        now,
        txId,
      );
      this.db.run(
        `UPDATE erc20_deposit_close SET status = 'pending', tx_id = NULL, updated_at = ? WHERE tx_id = ?`,
        now,
        txId,
      );
      return true;
    });
  }

  /** Records a close request; a second request for the same deposit changes nothing. */
  insertDepositClose(close: { contract: string; depositId: string; platform: string; payer: string }): void {
    const now = this.#now();
    this.db.run(
      `INSERT INTO erc20_deposit_close (contract, deposit_id, platform, payer, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (contract, deposit_id) DO NOTHING`,
      close.contract,
      close.depositId,
      close.platform,
      close.payer,
      now,
      now,
    );
  }

  getDepositClose(contract: string, depositId: string): DepositCloseRow | undefined {
    return this.db.get<DepositCloseRow>(
      'SELECT * FROM erc20_deposit_close WHERE contract = ? AND deposit_id = ?',
      contract,
      depositId,
    );
  }

  pendingDepositCloses(platform: string, payer: string): DepositCloseRow[] {
    return this.db.all<DepositCloseRow>(
      `SELECT * FROM erc20_deposit_close WHERE status = 'pending' AND platform = ? AND payer = ?`,
      platform,
      payer,
    );
  }

  /** Orders paid from the deposit that are not final yet. */
  openOrdersOfDeposit(contract: string, depositId: string): number {
    return (
      this.db.get<{ n: number }>(
        `SELECT COUNT(*) AS n FROM erc20_order WHERE deposit_contract = ? AND deposit_id = ? AND status != 'confirmed'`,
        contract,
        depositId,
      )?.n ?? 0
    );
  }

  /** The deposit was found closed on chain already (by us before a crash, or terminated by its funder). */
  markDepositClosed(contract: string, depositId: string): void {
    this.db.run(
      `UPDATE erc20_deposit_close SET status = 'closed', updated_at = ?
       WHERE contract = ? AND deposit_id = ? AND status = 'pending'`,
      this.#now(),
      contract,
      depositId,
    );
  }

  undeliveredConfirmations(limit = 100): ConfirmationRow[] {
    return this.db.all<ConfirmationRow>(
      'SELECT * FROM erc20_confirmation WHERE delivered = 0 ORDER BY confirmation_id LIMIT ?',
      limit,
    );
  }

  markDelivered(confirmationId: number): void {
    this.db.run('UPDATE erc20_confirmation SET delivered = 1 WHERE confirmation_id = ?', confirmationId);
  }

  static isOpen(status: TxStatus): boolean {
    return OPEN.includes(status);
  }
}
