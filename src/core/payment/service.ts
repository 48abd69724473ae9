/**
 * The payment module of one node: accounts and allocations (requestor budgets), debit notes and invoices in both
 * roles, the payment batch and the settlement of documents once money moved on chain. Network-facing handlers
 * check the authenticated caller against the agreement and the per-peer bounds before anything is stored.
 */
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import { migrate } from '../db/index.ts';
import { errorMessage } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { AGREEMENT_EVENTS_TOPIC, type AgreementEvent } from '../model/market.ts';
import {
  type Account,
  type FundRequest,
  type InitAccount,
  PaymentLocalAddress,
  PaymentPublicAddress,
  type PaymentStatus,
  remotePaymentAddress,
  type StatusRequest,
} from '../model/payment.ts';
import { Outbox, type OutboxOptions } from '../outbox/index.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { Allocations } from './allocations.ts';
import { formatAmount, parseAmount } from './amount.ts';
import { Counterparties } from './counterparty.ts';
import { Documents } from './documents.ts';
import type { FundResult, PaymentDriver, PlatformInfo } from './driver.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';
import { DocumentEvents } from './events.ts';
import { PeerLimiter, type PeerLimits } from './limits.ts';
import { paymentMigrations } from './migrations.ts';
import { DriverRegistry } from './platforms.ts';
import { registerPaymentRoutes } from './rest.ts';
import { Settlement, type SettlementOptions } from './settlement.ts';

export interface PaymentServiceOptions {
  drivers?: PaymentDriver[];
  limits?: Partial<PeerLimits>;
  outbox?: Partial<OutboxOptions>;
  settlement?: Partial<SettlementOptions>;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : fallback;
}

export class PaymentService implements Service {
  readonly name = 'payment';
  readonly drivers: DriverRegistry;
  readonly allocations: Allocations;
  readonly documents: Documents;
  readonly settlement: Settlement;
  readonly events: DocumentEvents;
  readonly outbox: Outbox;
  #bus: Bus;
  #db: Database;
  #log: Logger;
  #unbinds: Unbind[] = [];
  #parties: Counterparties;

  constructor(
    components: Pick<CoreComponents, 'bus' | 'db' | 'logger'> & Partial<Pick<CoreComponents, 'rest'>>,
    options: PaymentServiceOptions = {},
  ) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('payment');
    this.drivers = new DriverRegistry(options.drivers ?? []);
    const limiter = new PeerLimiter(options.limits);
    this.events = new DocumentEvents(this.#db, this.#bus);
    this.outbox = new Outbox(
      this.#db,
      this.#bus,
      this.#log,
      {
        initialDelayMs: envNumber('GOLEM_PAYMENT_RETRY_INITIAL_MS', 1_000),
        maxDelayMs: envNumber('GOLEM_PAYMENT_RETRY_MAX_MS', 600_000),
        callTimeoutMs: 15_000,
        ...options.outbox,
      },
      { table: 'payment_outbox', addressOf: remotePaymentAddress },
    );
    this.#parties = new Counterparties(
      this.#db,
      this.#bus,
      (platform) => this.drivers.info(platform) !== undefined,
    );
    this.allocations = new Allocations(this.#db, this.#bus, this.drivers, this.#log, (platform, address) =>
      this.#registerAccount(platform, address, true, false),
    );
    let settlement: Settlement | undefined;
    this.documents = new Documents({
      db: this.#db,
      bus: this.#bus,
      log: this.#log,
      parties: this.#parties,
      allocations: this.allocations,
      events: this.events,
      outbox: this.outbox,
      limiter,
      hooks: { accepted: (role, agreementId, dueDate) => settlement?.onAccepted(role, agreementId, dueDate) },
    });
    settlement = new Settlement({
      db: this.#db,
      bus: this.#bus,
      log: this.#log,
      drivers: this.drivers,
      parties: this.#parties,
      documents: this.documents,
      outbox: this.outbox,
      limiter,
      options: {
        testnetWindowMs: envNumber('GOLEM_PAYMENT_BATCH_WINDOW_S', 10) * 1000,
        mainnetWindowMs: envNumber('GOLEM_PAYMENT_MAINNET_WINDOW_S', 86_400) * 1000,
        ...options.settlement,
      },
    });
    this.settlement = settlement;
    this.allocations.onReleased = () =>
      void settlement
        .closeReleasedDeposits()
        .catch((error) =>
          this.#log.error('closing released deposits failed', { error: errorMessage(error) }),
        );
    components.rest?.register('/payment-api/v1', (app) => registerPaymentRoutes(app, this));
  }

  async start(): Promise<void> {
    migrate(this.#db, paymentMigrations);
    this.events.load();
    for (const driver of this.drivers.drivers) await driver.start();
    const bind = (address: string, handler: (message: unknown, context: CallContext) => unknown) =>
      this.#unbinds.push(this.#bus.bind(address, handler));
    bind(PaymentPublicAddress.SendDebitNote, (m, c) => this.documents.onDebitNote(m, c.caller));
    bind(PaymentPublicAddress.AcceptDebitNote, (m, c) => this.documents.onAcceptDebitNote(m, c.caller));
    bind(PaymentPublicAddress.SendInvoice, (m, c) => this.documents.onInvoice(m, c.caller));
    bind(PaymentPublicAddress.AcceptInvoice, (m, c) => this.documents.onAcceptInvoice(m, c.caller));
    bind(PaymentPublicAddress.RejectInvoice, (m, c) => this.documents.onRejectInvoice(m, c.caller));
    bind(PaymentPublicAddress.CancelInvoice, (m, c) => this.documents.onCancelInvoice(m, c.caller));
    bind(PaymentPublicAddress.SendPayment, (m, c) => this.settlement.onPayment(m, c.caller));
    bind(PaymentLocalAddress.Init, (m) => this.initAccount((m ?? {}) as InitAccount));
    bind(PaymentLocalAddress.Accounts, () => this.accounts());
    bind(PaymentLocalAddress.Status, (m) => this.status((m ?? {}) as StatusRequest));
    bind(PaymentLocalAddress.Fund, (m) => this.fund((m ?? {}) as FundRequest));
    bind(PaymentLocalAddress.ReleaseAllocations, (m) => ({
      released: this.allocations.releaseAll(this.#owner((m as { owner?: string } | null)?.owner)),
    }));
    bind(PaymentLocalAddress.ListDebitNotes, (m) =>
      this.documents.listDebitNotes(this.#owner((m as { owner?: string } | null)?.owner)),
    );
    bind(PaymentLocalAddress.ListInvoices, (m) =>
      this.documents.listInvoices(this.#owner((m as { owner?: string } | null)?.owner)),
    );
    bind(PaymentLocalAddress.ProcessPayments, async () => {
      await this.settlement.processNow();
      return {};
    });
    // Agreements are recorded as soon as they are approved, so a payment for them is recognised after a restart.
    this.#unbinds.push(
      this.#bus.subscribe<AgreementEvent>(AGREEMENT_EVENTS_TOPIC, (event) => {
        if (event.type !== 'approved') return;
        void this.#parties.ensureAgreement(event.agreementId, event.role).catch((error) =>
          this.#log.debug('agreement without payment terms', {
            agreementId: event.agreementId,
            error: errorMessage(error),
          }),
        );
      }),
    );
    this.allocations.start();
    this.outbox.start();
    this.settlement.start();
  }

  async stop(): Promise<void> {
    for (const unbind of this.#unbinds.splice(0)) unbind();
    await this.settlement.stop();
    this.outbox.stop();
    this.allocations.stop();
    for (const driver of [...this.drivers.drivers].reverse()) await driver.stop();
  }

  #owner(owner: string | undefined): string {
    const id = owner ?? this.#bus.nodeId;
    if (id === undefined)
      throw paymentError(PaymentErrorCode.AccountNotRegistered, 'this node has no identity yet', 500);
    return id.toLowerCase();
  }

  // ------------------------------------------------------------------ accounts

  #registerAccount(platform: string, address: string, send: boolean, receive: boolean): void {
    this.#db.run(
      `INSERT INTO payment_account (platform, address, send, receive) VALUES (?, ?, ?, ?)
       ON CONFLICT (platform, address) DO UPDATE SET send = MAX(send, excluded.send), receive = MAX(receive, excluded.receive)`,
      platform,
      address,
      send ? 1 : 0,
      receive ? 1 : 0,
    );
  }

  initAccount(request: InitAccount): Account {
    const platform = this.drivers.resolve(request.platform);
    const address = this.#owner(request.address);
    if (!this.#bus.isLocalNode(address))
      throw paymentError(
        PaymentErrorCode.AccountNotRegistered,
        `address ${address} is not an identity of this node`,
        400,
      );
    const send = request.send === true;
    const receive = request.receive === true || !send;
    this.#registerAccount(platform, address, send, receive);
    return this.accounts().find((a) => a.platform === platform && a.address === address)!;
  }

  accounts(): Account[] {
    return this.#db
      .all<{ platform: string; address: string; send: number; receive: number }>(
        'SELECT * FROM payment_account ORDER BY platform, address',
      )
      .map((row) => {
        const info = this.drivers.info(row.platform);
        return {
          platform: row.platform,
          address: row.address,
          driver: info?.driver ?? row.platform.split('-')[0] ?? '',
          network: info?.network ?? row.platform.split('-')[1] ?? '',
          token: info?.token ?? row.platform.split('-')[2] ?? '',
          send: row.send === 1,
          receive: row.receive === 1,
        };
      });
  }

  async status(request: StatusRequest): Promise<PaymentStatus> {
    const platform = this.drivers.resolve(request.platform);
    const address = this.#owner(request.address);
    const balance = await this.drivers.driverFor(platform).getBalance(platform, address);
    const totals = this.settlement.totals(address, platform);
    return {
      platform,
      address,
      token: formatAmount(parseAmount(balance.token, 'balance')),
      gas: balance.gas,
      blockNumber: balance.blockNumber,
      reserved: formatAmount(this.allocations.reserved(platform, address)),
      outgoingPending: formatAmount(totals.outgoingPending),
      outgoingPaid: formatAmount(totals.outgoingPaid),
      incomingPending: formatAmount(totals.incomingPending),
      incomingPaid: formatAmount(totals.incomingPaid),
    };
  }

  /**
   * `GET /payments/status`: yagna's `DriverStatusProperty` list for the caller's sending accounts on `platforms`
   * (`[]` = healthy): no gas, or fewer tokens than what is accepted and not yet paid.
   */
  async driverStatus(owner: string, platforms: PlatformInfo[]): Promise<Record<string, unknown>[]> {
    const problems: Record<string, unknown>[] = [];
    for (const info of platforms) {
      const account = this.accounts().find(
        (a) => a.platform === info.platform && a.address === owner && a.send,
      );
      if (account === undefined) continue;
      const base = { driver: info.driver, network: info.network, address: owner };
      try {
        const balance = await this.drivers.driverFor(info.platform).getBalance(info.platform, owner);
        const owed = this.settlement.totals(owner, info.platform).outgoingPending;
        if (Number(balance.gas) === 0) problems.push({ kind: 'InsufficientGas', ...base, neededGasEst: '0' });
        if (parseAmount(balance.token, 'balance') < owed)
          problems.push({ kind: 'InsufficientToken', ...base, neededTokenEst: formatAmount(owed) });
      } catch {
        problems.push({ kind: 'RpcError', driver: info.driver, network: info.network });
      }
    }
    return problems;
  }

  async fund(request: FundRequest): Promise<FundResult> {
    const platform = this.drivers.resolve(request.platform);
    const address = this.#owner(request.address);
    this.#registerAccount(platform, address, true, true);
    return this.drivers.driverFor(platform).fund(platform, address);
  }
}
