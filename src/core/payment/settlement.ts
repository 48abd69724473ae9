/**
 * From accepted amounts to money on chain and back to documents: the requestor's batch groups what was accepted
 * but not yet scheduled per payee into payment orders (persisted with their ids before the driver sees them, so a
 * restart hands the driver the same ids again), the driver's confirmation becomes a signed `Payment` for the
 * provider, and the provider settles its documents only after checking the signature, the chain and that no
 * transaction is claimed for more than it carried.
 */
import { createHash } from 'node:crypto';
import { Notifier } from '../api/index.ts';
import type { Bus } from '../bus/index.ts';
import { digestOf, fromHex, toHex, verifyNodeSignature } from '../crypto/index.ts';
import type { Database } from '../db/index.ts';
import { errorMessage } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { IdentityAddress } from '../model/identity.ts';
import { type Payment, PaymentPublicAddress, type SignedPayment } from '../model/payment.ts';
import type { Outbox } from '../outbox/index.ts';
import { formatAmount, parseAmount, units } from './amount.ts';
import { type AgreementRow, addToTotal, type Counterparties } from './counterparty.ts';
import type { Documents } from './documents.ts';
import type { PaymentConfirmation, PaymentOrder } from './driver.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';
import type { Role } from './events.ts';
import type { PeerLimiter } from './limits.ts';
import type { DriverRegistry } from './platforms.ts';

export interface SettlementOptions {
  /** Batch window on test networks (`GOLEM_PAYMENT_BATCH_WINDOW_S`, default 10 s). */
  testnetWindowMs: number;
  /** Batch window on networks with real value (`GOLEM_PAYMENT_MAINNET_WINDOW_S`, default 24 h, as yagna). */
  mainnetWindowMs: number;
}

interface OrderItem {
  kind: 'activity' | 'agreement';
  id: string;
  agreementId: string;
  amount: string;
}

interface OrderRow {
  order_id: string;
  owner_id: string;
  platform: string;
  payer_addr: string;
  payee_addr: string;
  payee_id: string;
  amount: string;
  items: string;
  status: 'new' | 'scheduled' | 'confirmed';
  /** `{id, contract}` of the deposit the order is paid from (JSON), or null. */
  deposit: string | null;
  payment_id: string | null;
  created_at: string;
}

interface PaymentRow {
  payment_id: string;
  role: Role;
  owner_id: string;
  body: string;
  signature: string;
  created_at: string;
}

/** A UUID-shaped id derived from `parts`: the same transaction and orders give the same payment id. */
function derivedUuid(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export class Settlement {
  /** Wakes `GET /payments` long polls (`payments:<owner>`). */
  readonly notifier = new Notifier();
  #db: Database;
  #bus: Bus;
  #log: Logger;
  #drivers: DriverRegistry;
  #parties: Counterparties;
  #documents: Documents;
  #outbox: Outbox;
  #limiter: PeerLimiter;
  #options: SettlementOptions;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #running = false;
  #processing: Promise<void> | undefined;

  constructor(deps: {
    db: Database;
    bus: Bus;
    log: Logger;
    drivers: DriverRegistry;
    parties: Counterparties;
    documents: Documents;
    outbox: Outbox;
    limiter: PeerLimiter;
    options: SettlementOptions;
  }) {
    this.#db = deps.db;
    this.#bus = deps.bus;
    this.#log = deps.log.child('settlement');
    this.#drivers = deps.drivers;
    this.#parties = deps.parties;
    this.#documents = deps.documents;
    this.#outbox = deps.outbox;
    this.#limiter = deps.limiter;
    this.#options = deps.options;
  }

  start(): void {
    this.#running = true;
    for (const driver of this.#drivers.drivers)
      driver.onConfirmed((confirmation) => this.onConfirmed(confirmation));
    // Orders persisted but maybe never handed over (a crash in between): the driver deduplicates by id.
    void this.#handOver().catch((error) => this.#log.error('handing orders to the driver failed', { error }));
    if (this.#pending()) this.scheduleBatch(Date.now() + this.#windowMs());
    this.#closeDepositsInBackground();
  }

  #closeDepositsInBackground(): void {
    void this.closeReleasedDeposits().catch((error) =>
      this.#log.error('closing released deposits failed', { error: errorMessage(error) }),
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
    this.#timerAt = Number.POSITIVE_INFINITY;
    await this.#processing?.catch(() => {});
  }

  /** After an acceptance: the batch runs at the end of the window, or before a payable document falls due. */
  onAccepted(role: Role, agreementId: string, dueDate: string | undefined): void {
    this.#documents.settleCovered(role, agreementId);
    if (role !== 'requestor') return;
    const windowEnd = Date.now() + this.#windowMs();
    const due = dueDate === undefined ? Number.POSITIVE_INFINITY : Date.parse(dueDate) - 60_000;
    this.scheduleBatch(Math.min(windowEnd, due));
  }

  scheduleBatch(at: number): void {
    if (!this.#running || at >= this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timerAt = Number.POSITIVE_INFINITY;
        void this.processNow().catch((error) =>
          this.#log.error('payment batch failed', { error: errorMessage(error) }),
        );
      },
      Math.max(0, at - Date.now()),
    );
    this.#timer.unref?.();
  }

  #windowMs(): number {
    const mainnet = this.#drivers.platforms().some((p) => !p.testnet && this.#hasPending(p.platform));
    return mainnet ? this.#options.mainnetWindowMs : this.#options.testnetWindowMs;
  }

  #hasPending(platform: string): boolean {
    return (
      this.#db.get(
        "SELECT 1 FROM payment_agreement WHERE role = 'requestor' AND platform = ? AND total_accepted != total_scheduled",
        platform,
      ) !== undefined
    );
  }

  #pending(): boolean {
    return this.#drivers.platforms().some((p) => this.#hasPending(p.platform));
  }

  /**
   * Released deposit-backed allocations: what they accepted is ordered first (the driver pays it from the deposit
   * before closing it), then the driver is asked to close the deposit (remainder back to the funder). Persisted
   * per allocation, so a restart in between asks again (the driver's release is idempotent).
   */
  async closeReleasedDeposits(): Promise<void> {
    const released = this.#db.all<{
      allocation_id: string;
      platform: string;
      address: string;
      deposit: string;
    }>(
      'SELECT allocation_id, platform, address, deposit FROM payment_allocation WHERE deposit IS NOT NULL AND released_at IS NOT NULL AND deposit_released_at IS NULL',
    );
    if (released.length === 0) return;
    await this.processNow();
    for (const row of released) {
      const driver = this.#drivers.driverFor(row.platform);
      if (driver.releaseDeposit === undefined) continue;
      const { id, contract } = JSON.parse(row.deposit) as { id: string; contract: string };
      await driver.releaseDeposit({ platform: row.platform, payer: row.address, deposit: { id, contract } });
      this.#db.run(
        'UPDATE payment_allocation SET deposit_released_at = ? WHERE allocation_id = ?',
        new Date().toISOString(),
        row.allocation_id,
      );
      this.#log.info('deposit handed to the driver to close', {
        allocationId: row.allocation_id,
        deposit: id,
      });
    }
  }

  /** Runs the batch now (also what the batch timer does); one batch at a time. */
  async processNow(): Promise<void> {
    while (this.#processing !== undefined) await this.#processing.catch(() => {});
    this.#processing = (async () => {
      this.#createOrders();
      await this.#handOver();
      for (const driver of this.#drivers.drivers) await driver.flush();
    })().finally(() => {
      this.#processing = undefined;
    });
    return this.#processing;
  }

  /**
   * One transaction: every accepted-but-unscheduled amount (activities via their debit notes, the rest of an
   * agreement via its invoice) becomes an item of one order per payer, platform and payee; the scheduled totals
   * move by compare-and-set, so an amount is ordered once.
   */
  #createOrders(): void {
    this.#db.transaction(() => {
      const agreements = this.#db.all<AgreementRow>(
        "SELECT * FROM payment_agreement WHERE role = 'requestor' AND total_accepted != total_scheduled",
      );
      const groups = new Map<
        string,
        { agreement: AgreementRow; deposit: string | null; items: OrderItem[] }
      >();
      for (const agreement of agreements) {
        const open = units(agreement.total_accepted) - units(agreement.total_scheduled);
        if (open <= 0n) continue;
        const items: OrderItem[] = [];
        let activitiesTotal = 0n;
        const activities = this.#db.all<{
          activity_id: string;
          total_accepted: string;
          total_scheduled: string;
        }>(
          "SELECT activity_id, total_accepted, total_scheduled FROM payment_activity WHERE agreement_id = ? AND role = 'requestor'",
          agreement.agreement_id,
        );
        for (const activity of activities) {
          const amount = units(activity.total_accepted) - units(activity.total_scheduled);
          if (amount <= 0n) continue;
          addToTotal(
            this.#db,
            'activity',
            activity.activity_id,
            'requestor',
            'total_scheduled',
            activity.total_scheduled,
            amount,
          );
          items.push({
            kind: 'activity',
            id: activity.activity_id,
            agreementId: agreement.agreement_id,
            amount: amount.toString(),
          });
          activitiesTotal += amount;
        }
        const rest = open - activitiesTotal;
        if (rest > 0n)
          items.push({
            kind: 'agreement',
            id: agreement.agreement_id,
            agreementId: agreement.agreement_id,
            amount: rest.toString(),
          });
        addToTotal(
          this.#db,
          'agreement',
          agreement.agreement_id,
          'requestor',
          'total_scheduled',
          agreement.total_scheduled,
          open,
        );
        const deposit = this.#depositOf(agreement.agreement_id);
        const key = [
          agreement.owner_id,
          agreement.platform,
          agreement.payer_addr,
          agreement.peer_id,
          agreement.payee_addr,
          deposit ?? '',
        ].join('|');
        const group = groups.get(key) ?? { agreement, deposit, items: [] };
        group.items.push(...items);
        groups.set(key, group);
      }
      const now = new Date().toISOString();
      for (const [key, { agreement, deposit, items }] of groups) {
        const amount = items.reduce((sum, item) => sum + units(item.amount), 0n);
        const orderId = derivedUuid('order', key, now, String(Math.random()));
        this.#db.run(
          `INSERT INTO payment_order (order_id, owner_id, platform, payer_addr, payee_addr, payee_id, amount, items, status, created_at, deposit)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)`,
          orderId,
          agreement.owner_id,
          agreement.platform,
          agreement.payer_addr,
          agreement.payee_addr,
          agreement.peer_id,
          amount.toString(),
          JSON.stringify(items),
          now,
          deposit,
        );
        this.#log.info('payment order created', {
          orderId,
          payee: agreement.payee_addr,
          amount: formatAmount(amount),
        });
      }
    });
  }

  /**
   * The deposit an agreement is paid from: that of the allocation its latest acceptance spent (an agreement is paid
   * from one allocation in practice; mixing a deposit-backed and a plain one in one agreement is not supported).
   */
  #depositOf(agreementId: string): string | null {
    const row = this.#db.get<{ deposit: string | null }>(
      `SELECT a.deposit FROM payment_expenditure e JOIN payment_allocation a ON a.allocation_id = e.allocation_id
       WHERE e.agreement_id = ? ORDER BY e.created_at DESC, e.rowid DESC LIMIT 1`,
      agreementId,
    );
    if (row?.deposit === null || row?.deposit === undefined) return null;
    const { id, contract } = JSON.parse(row.deposit) as { id: string; contract: string };
    return JSON.stringify({ id, contract });
  }

  async #handOver(): Promise<void> {
    const orders = this.#db.all<OrderRow>(
      "SELECT * FROM payment_order WHERE status = 'new' ORDER BY created_at",
    );
    for (const order of orders) {
      const paymentOrder: PaymentOrder = {
        orderId: order.order_id,
        platform: order.platform,
        payer: order.payer_addr,
        payee: order.payee_addr,
        amount: formatAmount(units(order.amount)),
        ...(order.deposit === null
          ? {}
          : { deposit: JSON.parse(order.deposit) as { id: string; contract: string } }),
      };
      await this.#drivers.driverFor(order.platform).schedulePayment(paymentOrder);
      this.#db.run(
        "UPDATE payment_order SET status = 'scheduled' WHERE order_id = ? AND status = 'new'",
        order.order_id,
      );
    }
  }

  /**
   * Requestor: the driver confirmed a transfer. Idempotent (the driver redelivers until this resolves): the payment
   * id follows from the transaction and the orders, and every row is written once.
   */
  async onConfirmed(confirmation: PaymentConfirmation): Promise<void> {
    const orders = confirmation.orderIds
      .map((id) => this.#db.get<OrderRow>('SELECT * FROM payment_order WHERE order_id = ?', id))
      .filter((order): order is OrderRow => order !== undefined);
    if (orders.length === 0) {
      this.#log.warn('confirmation for unknown orders', { orderIds: confirmation.orderIds });
      return;
    }
    const total = orders.reduce((sum, order) => sum + units(order.amount), 0n);
    if (parseAmount(confirmation.amount) < total)
      this.#log.error('the driver confirmed less than the orders hold', {
        txHash: confirmation.txHash,
        confirmed: confirmation.amount,
        ordered: formatAmount(total),
      });
    // One payment per payee node (two nodes may share a payee address, and so one transfer).
    const byPayee = new Map<string, OrderRow[]>();
    for (const order of orders) byPayee.set(order.payee_id, [...(byPayee.get(order.payee_id) ?? []), order]);
    for (const group of byPayee.values()) await this.#recordPayment(confirmation, group);
  }

  async #recordPayment(confirmation: PaymentConfirmation, orders: OrderRow[]): Promise<void> {
    const first = orders[0]!;
    const paymentId = derivedUuid('payment', confirmation.txHash, ...orders.map((o) => o.order_id).sort());
    const known = () =>
      this.#db.get(
        'SELECT 1 FROM payment_payment WHERE payment_id = ? AND role = ?',
        paymentId,
        'requestor',
      ) !== undefined;
    if (!known()) {
      const activityPayments = new Map<string, bigint>();
      const agreementPayments = new Map<string, bigint>();
      for (const order of orders)
        for (const item of JSON.parse(order.items) as OrderItem[]) {
          const target = item.kind === 'activity' ? activityPayments : agreementPayments;
          target.set(item.id, (target.get(item.id) ?? 0n) + units(item.amount));
        }
      const payment: Payment = {
        paymentId,
        payerId: first.owner_id,
        payeeId: first.payee_id,
        payerAddr: first.payer_addr,
        payeeAddr: first.payee_addr,
        paymentPlatform: first.platform,
        amount: formatAmount(orders.reduce((sum, order) => sum + units(order.amount), 0n)),
        timestamp: confirmation.confirmedAt,
        agreementPayments: [...agreementPayments].map(([agreementId, amount]) => ({
          agreementId,
          amount: formatAmount(amount),
        })),
        activityPayments: [...activityPayments].map(([activityId, amount]) => ({
          activityId,
          amount: formatAmount(amount),
        })),
        details: confirmation.txHash,
      };
      const signature = await this.#bus.call<string>(IdentityAddress.Sign, {
        nodeId: first.owner_id,
        digest: toHex(digestOf(payment)),
      });
      this.#db.transaction(() => {
        if (known()) return;
        this.#insertPayment(payment, 'requestor', first.owner_id, signature);
        for (const order of orders)
          this.#db.run(
            "UPDATE payment_order SET status = 'confirmed', payment_id = ? WHERE order_id = ?",
            paymentId,
            order.order_id,
          );
        this.#applyPaid(payment, 'requestor');
        const signed: SignedPayment = { payment, signature };
        this.#outbox.enqueue(
          `payment:${paymentId}`,
          payment.payeeId,
          payment.payerId,
          PaymentPublicAddress.SendPayment,
          signed,
        );
      });
      this.#log.info('payment confirmed', { paymentId, txHash: confirmation.txHash, amount: payment.amount });
    }
    void this.#outbox.deliverNow(`payment:${paymentId}`).catch(() => {});
  }

  /** Provider: a requestor says it paid. */
  async onPayment(message: unknown, caller: string): Promise<Record<string, never>> {
    this.#limiter.admit(caller, message);
    const { payment, signature } = parseSignedPayment(message);
    if (payment.payerId !== caller)
      throw paymentError(PaymentErrorCode.NotCounterparty, 'a payment comes from its payer', 403, { caller });
    if (!this.#bus.isLocalNode(payment.payeeId))
      throw paymentError(PaymentErrorCode.NotCounterparty, 'the payment is for another node', 403, {
        payeeId: payment.payeeId,
      });
    if (!verifyNodeSignature(payment.payerId, digestOf(payment), fromHex(signature)))
      throw paymentError(PaymentErrorCode.BadSignature, 'the payment is not signed by its payer', 400, {
        paymentId: payment.paymentId,
      });
    if (this.#hasPayment(payment.paymentId, 'provider')) return {};
    const shares = this.#checkShares(payment);
    const verified = await this.#drivers.driverFor(payment.paymentPlatform).verifyPayment({
      platform: payment.paymentPlatform,
      txHash: payment.details,
      payer: payment.payerAddr,
      payee: payment.payeeAddr,
      amount: payment.amount,
    });
    const onChain = parseAmount(verified.amount, 'verified amount');
    this.#db.transaction(() => {
      if (this.#hasPayment(payment.paymentId, 'provider')) return;
      const claimed = this.#db
        .all<{ amount: string }>(
          "SELECT amount FROM payment_payment WHERE tx_hash = ? AND payee_addr = ? AND role = 'provider'",
          payment.details.toLowerCase(),
          payment.payeeAddr,
        )
        .reduce((sum, row) => sum + units(row.amount), 0n);
      if (claimed + shares > onChain)
        throw paymentError(
          PaymentErrorCode.DoubleClaim,
          'the transaction is already claimed by other payments',
          400,
          {
            txHash: payment.details,
            onChain: formatAmount(onChain),
            alreadyClaimed: formatAmount(claimed),
            claimed: payment.amount,
          },
        );
      this.#insertPayment(payment, 'provider', payment.payeeId, signature);
      this.#applyPaid(payment, 'provider');
    });
    this.#log.info('payment verified', {
      paymentId: payment.paymentId,
      txHash: payment.details,
      amount: payment.amount,
    });
    return {};
  }

  /** Every share names a known agreement or activity of this payer and payee; the shares add up to the amount. */
  #checkShares(payment: Payment): bigint {
    const invalid = (message: string, details: Record<string, unknown>) =>
      paymentError(PaymentErrorCode.PaymentInvalid, message, 400, {
        paymentId: payment.paymentId,
        ...details,
      });
    const matches = (agreement: AgreementRow | undefined) =>
      agreement !== undefined &&
      agreement.peer_id === payment.payerId &&
      agreement.owner_id === payment.payeeId &&
      agreement.payee_addr === payment.payeeAddr &&
      agreement.payer_addr === payment.payerAddr &&
      agreement.platform === payment.paymentPlatform;
    let total = 0n;
    for (const share of payment.agreementPayments) {
      const amount = parseAmount(share.amount, 'agreementPayments.amount');
      if (amount === 0n) throw invalid('a payment share is zero', { agreementId: share.agreementId });
      if (!matches(this.#parties.agreement(share.agreementId, 'provider')))
        throw invalid('the payment names an agreement of other parties', { agreementId: share.agreementId });
      total += amount;
    }
    for (const share of payment.activityPayments) {
      const amount = parseAmount(share.amount, 'activityPayments.amount');
      if (amount === 0n) throw invalid('a payment share is zero', { activityId: share.activityId });
      const activity = this.#parties.activity(share.activityId, 'provider');
      if (activity === undefined || !matches(this.#parties.agreement(activity.agreement_id, 'provider')))
        throw invalid('the payment names an activity of other parties', { activityId: share.activityId });
      total += amount;
    }
    if (total !== parseAmount(payment.amount, 'amount'))
      throw invalid('the shares do not add up to the amount', {
        shares: formatAmount(total),
        amount: payment.amount,
      });
    return total;
  }

  #applyPaid(payment: Payment, role: Role): void {
    const agreements = new Set<string>();
    for (const share of payment.activityPayments) {
      const activity = this.#parties.activity(share.activityId, role);
      if (activity === undefined) continue;
      const amount = parseAmount(share.amount);
      addToTotal(this.#db, 'activity', share.activityId, role, 'total_paid', activity.total_paid, amount);
      const agreement = this.#parties.agreement(activity.agreement_id, role)!;
      addToTotal(
        this.#db,
        'agreement',
        agreement.agreement_id,
        role,
        'total_paid',
        agreement.total_paid,
        amount,
      );
      agreements.add(activity.agreement_id);
    }
    for (const share of payment.agreementPayments) {
      const agreement = this.#parties.agreement(share.agreementId, role);
      if (agreement === undefined) continue;
      addToTotal(
        this.#db,
        'agreement',
        share.agreementId,
        role,
        'total_paid',
        agreement.total_paid,
        parseAmount(share.amount),
      );
      agreements.add(share.agreementId);
    }
    for (const agreementId of agreements) this.#documents.settleCovered(role, agreementId);
  }

  #hasPayment(paymentId: string, role: Role): boolean {
    return (
      this.#db.get('SELECT 1 FROM payment_payment WHERE payment_id = ? AND role = ?', paymentId, role) !==
      undefined
    );
  }

  #insertPayment(payment: Payment, role: Role, owner: string, signature: string): void {
    this.#db.run(
      'INSERT INTO payment_payment (payment_id, role, owner_id, tx_hash, payee_addr, amount, body, signature, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      payment.paymentId,
      role,
      owner,
      payment.details.toLowerCase(),
      payment.payeeAddr,
      parseAmount(payment.amount).toString(),
      JSON.stringify(payment),
      signature,
      new Date().toISOString(),
    );
    queueMicrotask(() => this.notifier.notify(`payments:${owner}`));
  }

  // ------------------------------------------------------------------ reading

  /** `GET /allocations/{id}/orders`: the orders that pay the agreements this allocation spent on. */
  ordersOfAllocation(expenditures: { agreementId: string }[]): Record<string, unknown>[] {
    const agreements = new Set(expenditures.map((e) => e.agreementId));
    return this.#db
      .all<OrderRow>('SELECT * FROM payment_order ORDER BY created_at')
      .filter((order) =>
        (JSON.parse(order.items) as OrderItem[]).some((item) => agreements.has(item.agreementId)),
      )
      .map((order) => ({
        orderId: order.order_id,
        platform: order.platform,
        payerAddr: order.payer_addr,
        payeeAddr: order.payee_addr,
        payeeId: order.payee_id,
        amount: formatAmount(units(order.amount)),
        status: order.status,
        paymentId: order.payment_id,
        createdAt: order.created_at,
        ...(order.deposit === null ? {} : { deposit: JSON.parse(order.deposit) }),
      }));
  }

  payments(owner: string, afterTimestamp?: string, maxItems = 1000): Payment[] {
    return this.#db
      .all<PaymentRow>(
        'SELECT * FROM payment_payment WHERE owner_id = ? AND created_at > ? ORDER BY created_at LIMIT ?',
        owner,
        afterTimestamp ?? '',
        maxItems,
      )
      .map((row) => JSON.parse(row.body) as Payment);
  }

  payment(owner: string, paymentId: string): Payment {
    const row = this.#db.get<PaymentRow>(
      'SELECT * FROM payment_payment WHERE payment_id = ? AND owner_id = ?',
      paymentId,
      owner,
    );
    if (row === undefined)
      throw paymentError(PaymentErrorCode.DocumentNotFound, `payment ${paymentId} not found`, 404, {
        paymentId,
      });
    return JSON.parse(row.body) as Payment;
  }

  /** Sums for `payment status` (smallest units). */
  totals(
    owner: string,
    platform: string,
  ): { outgoingPending: bigint; outgoingPaid: bigint; incomingPending: bigint; incomingPaid: bigint } {
    const sum = (role: Role, column: string) =>
      this.#db
        .all<{ v: string }>(
          `SELECT ${column} AS v FROM payment_agreement WHERE owner_id = ? AND platform = ? AND role = ?`,
          owner,
          platform,
          role,
        )
        .reduce((total, row) => total + units(row.v), 0n);
    const outAccepted = sum('requestor', 'total_accepted');
    const outPaid = sum('requestor', 'total_paid');
    const inAccepted = sum('provider', 'total_accepted');
    const inPaid = sum('provider', 'total_paid');
    return {
      outgoingPending: outAccepted - outPaid,
      outgoingPaid: outPaid,
      incomingPending: inAccepted > inPaid ? inAccepted - inPaid : 0n,
      incomingPaid: inPaid,
    };
  }
}

function parseSignedPayment(message: unknown): SignedPayment {
  const bad = (what: string) =>
    paymentError(PaymentErrorCode.PaymentInvalid, `malformed payment: ${what}`, 400);
  if (message === null || typeof message !== 'object') throw bad('not an object');
  const { payment, signature } = message as Record<string, unknown>;
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(signature)) throw bad('signature');
  if (payment === null || typeof payment !== 'object') throw bad('payment');
  const p = payment as Record<string, unknown>;
  for (const field of [
    'paymentId',
    'payerId',
    'payeeId',
    'payerAddr',
    'payeeAddr',
    'paymentPlatform',
    'amount',
    'timestamp',
    'details',
  ])
    if (typeof p[field] !== 'string' || (p[field] as string).length > 256) throw bad(field);
  if (!Array.isArray(p.agreementPayments) || !Array.isArray(p.activityPayments)) throw bad('shares');
  if (p.agreementPayments.length + p.activityPayments.length > 1000) throw bad('too many shares');
  const shares = (list: unknown[], idField: string) =>
    list.map((entry) => {
      const share = entry as Record<string, unknown>;
      if (typeof share?.[idField] !== 'string' || typeof share.amount !== 'string') throw bad(idField);
      return { [idField]: share[idField], amount: share.amount };
    });
  // Lower-case ids, as this node stores them; the signature covers the payment exactly as sent.
  const exact: Payment = {
    paymentId: p.paymentId as string,
    payerId: p.payerId as string,
    payeeId: p.payeeId as string,
    payerAddr: p.payerAddr as string,
    payeeAddr: p.payeeAddr as string,
    paymentPlatform: p.paymentPlatform as string,
    amount: p.amount as string,
    timestamp: p.timestamp as string,
    agreementPayments: shares(p.agreementPayments, 'agreementId') as unknown as Payment['agreementPayments'],
    activityPayments: shares(p.activityPayments, 'activityId') as unknown as Payment['activityPayments'],
    details: p.details as string,
  };
  for (const field of ['payerId', 'payeeId', 'payerAddr', 'payeeAddr'] as const)
    if (exact[field] !== exact[field].toLowerCase()) throw bad(`${field} must be lower-case`);
  return { payment: exact, signature };
}
