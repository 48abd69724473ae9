/**
 * Allocations: the requestor's budgets. Creating one reserves against the account's token balance minus what
 * other active allocations still hold; accepting documents spends from it (compare-and-set on `spent`); a
 * timeout releases it on its own. Deposit-backed allocations are checked against the deposit on chain.
 */
import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { formatAmount, parseAmount, units } from './amount.ts';
import type { DepositInfo } from './driver.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';
import type { DriverRegistry } from './platforms.ts';
import { platformKey } from './platforms.ts';

/** Longest single wait of the release timer (yagna sleeps in steps of at most 60 s). */
const RELEASE_STEP_MS = 60_000;

export interface AllocationRow {
  allocation_id: string;
  owner_id: string;
  address: string;
  platform: string;
  total: string;
  spent: string;
  timeout: string | null;
  deposit: string | null;
  deposit_key: string | null;
  make_deposit: number;
  created_at: string;
  updated_at: string;
  released_at: string | null;
}

interface DepositRef {
  id: string;
  contract: string;
  validate?: unknown;
}

export function allocationView(row: AllocationRow): Record<string, unknown> {
  const total = units(row.total);
  const spent = units(row.spent);
  return {
    allocationId: row.allocation_id,
    address: row.address,
    paymentPlatform: row.platform,
    totalAmount: formatAmount(total),
    spentAmount: formatAmount(spent),
    remainingAmount: formatAmount(total - spent),
    timestamp: row.updated_at,
    ...(row.timeout === null ? {} : { timeout: row.timeout }),
    ...(row.deposit === null ? {} : { deposit: JSON.parse(row.deposit) }),
    createdTs: row.created_at,
    updatedTs: row.updated_at,
    makeDeposit: row.make_deposit === 1,
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw paymentError(PaymentErrorCode.BadRequest, 'the body must be a JSON object', 400);
  return body as Record<string, unknown>;
}

function parseTimeout(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw paymentError(PaymentErrorCode.AllocationInvalid, 'timeout must be an RFC 3339 date', 400, {
      timeout: value,
    });
  if (ms <= Date.now())
    throw paymentError(PaymentErrorCode.AllocationInvalid, 'timeout is in the past', 400, { timeout: value });
  return new Date(ms).toISOString();
}

export class Allocations {
  #db: Database;
  #bus: Bus;
  #drivers: DriverRegistry;
  #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Called after any release (DELETE, timeout, release-all): deposits of released allocations get closed. */
  onReleased: () => void = () => {};
  /** Registers the sender account (allocation creation auto-initialises it, as yagna does). */
  #initSender: (platform: string, address: string) => void;

  constructor(
    db: Database,
    bus: Bus,
    drivers: DriverRegistry,
    log: Logger,
    initSender: (platform: string, address: string) => void,
  ) {
    this.#db = db;
    this.#bus = bus;
    this.#drivers = drivers;
    this.#log = log.child('allocations');
    this.#initSender = initSender;
  }

  start(): void {
    this.#running = true;
    this.#releaseDue();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  row(allocationId: string): AllocationRow | undefined {
    return this.#db.get<AllocationRow>(
      'SELECT * FROM payment_allocation WHERE allocation_id = ?',
      allocationId,
    );
  }

  /** An allocation of `owner` (404 when unknown or someone else's, 410 when released). */
  get(owner: string, allocationId: string): AllocationRow {
    const row = this.row(allocationId);
    if (row === undefined || row.owner_id !== owner)
      throw paymentError(PaymentErrorCode.AllocationNotFound, `allocation ${allocationId} not found`, 404, {
        allocationId,
      });
    if (row.released_at !== null)
      throw paymentError(
        PaymentErrorCode.AllocationReleased,
        `allocation ${allocationId} was released`,
        410,
        {
          allocationId,
          releasedAt: row.released_at,
        },
      );
    return row;
  }

  list(owner: string): AllocationRow[] {
    return this.#db.all<AllocationRow>(
      'SELECT * FROM payment_allocation WHERE owner_id = ? AND released_at IS NULL ORDER BY created_at',
      owner,
    );
  }

  /**
   * Funds of `platform`/`address` already promised: what active allocations (except `exceptId`) still hold, plus
   * what was accepted but is not yet paid (still on the balance, but owed).
   */
  committed(platform: string, address: string, exceptId = ''): bigint {
    const owed = this.#db
      .all<{ accepted: string; paid: string }>(
        "SELECT total_accepted AS accepted, total_paid AS paid FROM payment_agreement WHERE role = 'requestor' AND platform = ? AND payer_addr = ?",
        platform,
        address,
      )
      .reduce((sum, row) => sum + units(row.accepted) - units(row.paid), 0n);
    return this.reserved(platform, address, exceptId) + owed;
  }

  /** What active allocations on `platform`/`address` still hold, except `exceptId`. */
  reserved(platform: string, address: string, exceptId = ''): bigint {
    return this.#db
      .all<{ total: string; spent: string }>(
        'SELECT total, spent FROM payment_allocation WHERE platform = ? AND address = ? AND released_at IS NULL AND allocation_id != ?',
        platform,
        address,
        exceptId,
      )
      .reduce((sum, row) => sum + units(row.total) - units(row.spent), 0n);
  }

  async create(owner: string, body: unknown): Promise<AllocationRow> {
    const request = objectBody(body);
    const platform = this.#drivers.resolve(request.paymentPlatform);
    const address =
      typeof request.address === 'string' && request.address !== '' ? request.address.toLowerCase() : owner;
    if (!this.#bus.isLocalNode(address))
      throw paymentError(
        PaymentErrorCode.AccountNotRegistered,
        `address ${address} is not an identity of this node`,
        400,
        {
          address,
        },
      );
    const total = parseAmount(request.totalAmount, 'totalAmount');
    const timeout = parseTimeout(request.timeout);
    const deposit = this.#depositRef(request.deposit);
    const driver = this.#drivers.driverFor(platform);
    this.#initSender(platform, address);
    let available: bigint | undefined;
    if (deposit !== undefined) {
      await this.#checkDeposit(platform, address, total, timeout, deposit);
    } else if (process.env.YAGNA_DEV_SKIP_ALLOCATION_VALIDATION !== '1') {
      const balance = await driver.getBalance(platform, address);
      available = parseAmount(balance.token, 'balance');
    }
    const now = new Date().toISOString();
    const id = randomUUID();
    // The reservation is read and written in one transaction after the balance arrived, so two concurrent
    // creations cannot both count the same funds.
    this.#db.transaction(() => {
      if (available !== undefined) {
        const reserved = this.committed(platform, address);
        if (available - reserved < total)
          throw paymentError(PaymentErrorCode.InsufficientFunds, 'Insufficient account funds', 400, {
            requestedFunds: formatAmount(total),
            availableFunds: formatAmount(available - reserved > 0n ? available - reserved : 0n),
            reservedFunds: formatAmount(reserved),
            paymentPlatform: platform,
            address,
          });
      }
      if (
        deposit !== undefined &&
        this.#db.get(
          'SELECT 1 FROM payment_allocation WHERE deposit_key = ? AND released_at IS NULL',
          depositKey(deposit),
        )
      )
        throw paymentError(
          PaymentErrorCode.DepositInvalid,
          'the deposit is already used by another allocation',
          400,
          {
            deposit,
          },
        );
      this.#db.run(
        `INSERT INTO payment_allocation (allocation_id, owner_id, address, platform, total, spent, timeout, deposit, deposit_key, make_deposit, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, '0', ?, ?, ?, ?, ?, ?)`,
        id,
        owner,
        address,
        platform,
        total.toString(),
        timeout,
        deposit === undefined ? null : JSON.stringify(deposit),
        deposit === undefined ? null : depositKey(deposit),
        request.makeDeposit === true ? 1 : 0,
        now,
        now,
      );
    });
    this.#log.info('allocation created', { allocationId: id, platform, total: formatAmount(total) });
    this.#armRelease();
    return this.row(id)!;
  }

  /** PUT: a new total (never below what is spent; only the increase is checked against funds) and timeout. */
  async amend(owner: string, allocationId: string, body: unknown): Promise<AllocationRow> {
    const request = objectBody(body);
    const before = this.get(owner, allocationId);
    const total =
      request.totalAmount === undefined
        ? units(before.total)
        : parseAmount(request.totalAmount, 'totalAmount');
    const timeout = request.timeout === undefined ? before.timeout : parseTimeout(request.timeout);
    if (before.deposit === null && request.deposit !== undefined && request.deposit !== null)
      throw paymentError(
        PaymentErrorCode.DepositInvalid,
        'a deposit cannot be added to an allocation without one',
        400,
      );
    if (total < units(before.spent))
      throw paymentError(
        PaymentErrorCode.AllocationInvalid,
        'the new total is below the amount already spent',
        400,
        {
          totalAmount: formatAmount(total),
          spentAmount: formatAmount(units(before.spent)),
        },
      );
    const increase = total - units(before.total);
    let available: bigint | undefined;
    if (
      increase > 0n &&
      before.deposit === null &&
      process.env.YAGNA_DEV_SKIP_ALLOCATION_VALIDATION !== '1'
    ) {
      const balance = await this.#drivers
        .driverFor(before.platform)
        .getBalance(before.platform, before.address);
      available = parseAmount(balance.token, 'balance');
    }
    if (increase > 0n && before.deposit !== null) {
      const deposit = JSON.parse(before.deposit) as DepositRef;
      await this.#checkDeposit(before.platform, before.address, total, timeout, deposit);
    }
    this.#db.transaction(() => {
      const current = this.get(owner, allocationId);
      if (available !== undefined) {
        const reserved = this.committed(current.platform, current.address);
        if (available - reserved < increase)
          throw paymentError(PaymentErrorCode.InsufficientFunds, 'Insufficient account funds', 400, {
            requestedFunds: formatAmount(increase),
            availableFunds: formatAmount(available - reserved > 0n ? available - reserved : 0n),
            reservedFunds: formatAmount(reserved),
          });
      }
      // Compare-and-set against the state the checks saw: an acceptance in between means amend again.
      const changed = this.#db.run(
        'UPDATE payment_allocation SET total = ?, timeout = ?, updated_at = ? WHERE allocation_id = ? AND spent = ? AND total = ? AND released_at IS NULL',
        total.toString(),
        timeout,
        new Date().toISOString(),
        allocationId,
        before.spent,
        before.total,
      ).changes;
      if (changed !== 1 || units(current.spent) > total)
        throw paymentError(
          PaymentErrorCode.AllocationInvalid,
          'the allocation changed meanwhile; amend it again',
          409,
          {
            allocationId,
          },
        );
    });
    this.#armRelease();
    return this.row(allocationId)!;
  }

  release(owner: string, allocationId: string): void {
    this.get(owner, allocationId);
    this.#db.run(
      'UPDATE payment_allocation SET released_at = ?, updated_at = ? WHERE allocation_id = ? AND released_at IS NULL',
      new Date().toISOString(),
      new Date().toISOString(),
      allocationId,
    );
    this.#log.info('allocation released', { allocationId });
    this.onReleased();
  }

  releaseAll(owner: string): string[] {
    const ids = this.list(owner).map((row) => row.allocation_id);
    for (const id of ids) this.release(owner, id);
    return ids;
  }

  /**
   * Spends `amount` (inside the caller's transaction): compare-and-set on `spent`, so two acceptances that read
   * the same allocation cannot both spend its last funds.
   */
  spend(row: AllocationRow, amount: bigint): void {
    const remaining = units(row.total) - units(row.spent);
    if (amount > remaining)
      throw paymentError(
        PaymentErrorCode.NotEnoughAllocated,
        `Not enough funds. Allocated: ${formatAmount(remaining)} Needed: ${formatAmount(amount)}`,
        400,
        { allocationId: row.allocation_id, remaining: formatAmount(remaining), needed: formatAmount(amount) },
      );
    if (amount === 0n) return;
    const changed = this.#db.run(
      'UPDATE payment_allocation SET spent = ?, updated_at = ? WHERE allocation_id = ? AND spent = ? AND released_at IS NULL',
      (units(row.spent) + amount).toString(),
      new Date().toISOString(),
      row.allocation_id,
      row.spent,
    ).changes;
    if (changed !== 1)
      throw paymentError(
        PaymentErrorCode.AllocationInvalid,
        'the allocation changed meanwhile; try again',
        409,
        {
          allocationId: row.allocation_id,
        },
      );
  }

  /** `GET /allocations/{id}/expenditures`: what each acceptance spent (released allocations included). */
  expenditures(
    owner: string,
    allocationId: string,
  ): {
    allocationId: string;
    agreementId: string;
    activityId: string | null;
    documentId: string;
    amount: string;
    timestamp: string;
  }[] {
    const row = this.row(allocationId);
    if (row === undefined || row.owner_id !== owner)
      throw paymentError(PaymentErrorCode.AllocationNotFound, `allocation ${allocationId} not found`, 404, {
        allocationId,
      });
    return this.#db
      .all<{
        agreement_id: string;
        activity_id: string | null;
        document_id: string;
        amount: string;
        created_at: string;
      }>('SELECT * FROM payment_expenditure WHERE allocation_id = ? ORDER BY created_at', allocationId)
      .map((e) => ({
        allocationId,
        agreementId: e.agreement_id,
        activityId: e.activity_id,
        documentId: e.document_id,
        amount: formatAmount(units(e.amount)),
        timestamp: e.created_at,
      }));
  }

  /** `demandDecorations`: the payment properties and constraints a demand needs for these allocations. */
  decorations(
    owner: string,
    ids: string[],
  ): { properties: { key: string; value: string }[]; constraints: string[] } {
    const rows = ids.map((id) => this.get(owner, id));
    const properties = rows.map((row) => ({ key: platformKey(row.platform), value: row.address }));
    properties.push({ key: 'golem.com.payment.protocol.version', value: '3' });
    const platforms = [...new Set(rows.map((row) => `(${platformKey(row.platform)}=*)`))];
    const platformConstraint = platforms.length === 1 ? platforms[0]! : `(|\n  ${platforms.join('\n  ')}\n)`;
    const hasDeposit = rows.some((row) => row.deposit !== null);
    const constraints = platforms.length === 0 ? [] : [platformConstraint];
    constraints.push(`(golem.com.payment.protocol.version>${hasDeposit ? 2 : 1})`);
    return { properties: dedupe(properties), constraints };
  }

  #depositRef(value: unknown): DepositRef | undefined {
    if (value === undefined || value === null) return undefined;
    const deposit = value as Record<string, unknown>;
    if (typeof deposit !== 'object' || typeof deposit.id !== 'string' || typeof deposit.contract !== 'string')
      throw paymentError(
        PaymentErrorCode.DepositInvalid,
        'deposit must be {"id", "contract", "validate"?}',
        400,
      );
    return {
      id: deposit.id,
      contract: deposit.contract.toLowerCase(),
      ...(deposit.validate === undefined ? {} : { validate: deposit.validate }),
    };
  }

  async #checkDeposit(
    platform: string,
    address: string,
    total: bigint,
    timeout: string | null,
    ref: DepositRef,
  ): Promise<void> {
    const fail = (message: string, details: Record<string, unknown> = {}) =>
      paymentError(PaymentErrorCode.DepositInvalid, message, 400, { deposit: ref, ...details });
    if (timeout === null) throw fail('an allocation backed by a deposit needs a timeout');
    let deposit: DepositInfo;
    try {
      deposit = await this.#drivers.driverFor(platform).getDeposit(platform, ref.contract, ref.id);
    } catch (cause) {
      throw paymentError(
        PaymentErrorCode.DepositInvalid,
        'the deposit cannot be read from the chain',
        400,
        { deposit: ref },
        cause,
      );
    }
    if (deposit.spender.toLowerCase() !== address)
      throw fail('the deposit names another spender', { spender: deposit.spender, address });
    if (total > parseAmount(deposit.amount, 'deposit.amount'))
      throw fail('the allocation is larger than the deposit', { depositAmount: deposit.amount });
    if (Date.parse(timeout) > Date.parse(deposit.validTo))
      throw fail('the allocation outlives the deposit', { validTo: deposit.validTo, timeout });
  }

  #releaseDue(): void {
    if (!this.#running) return;
    const now = new Date().toISOString();
    const due = this.#db.all<{ allocation_id: string }>(
      'SELECT allocation_id FROM payment_allocation WHERE released_at IS NULL AND timeout IS NOT NULL AND timeout <= ?',
      now,
    );
    for (const { allocation_id } of due) {
      this.#db.run(
        'UPDATE payment_allocation SET released_at = ?, updated_at = ? WHERE allocation_id = ? AND released_at IS NULL',
        now,
        now,
        allocation_id,
      );
      this.#log.info('allocation timed out and was released', { allocationId: allocation_id });
    }
    if (due.length > 0) this.onReleased();
    this.#armRelease();
  }

  #armRelease(): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    const next = this.#db.get<{ at: string | null }>(
      'SELECT MIN(timeout) AS at FROM payment_allocation WHERE released_at IS NULL AND timeout IS NOT NULL',
    );
    if (next?.at === null || next?.at === undefined) return;
    const wait = Math.min(Math.max(0, Date.parse(next.at) - Date.now()), RELEASE_STEP_MS);
    this.#timer = setTimeout(() => this.#releaseDue(), wait);
    this.#timer.unref?.();
  }
}

function depositKey(deposit: DepositRef): string {
  return `${deposit.contract}:${deposit.id.toLowerCase()}`;
}

function dedupe(properties: { key: string; value: string }[]): { key: string; value: string }[] {
  const seen = new Set<string>();
  return properties.filter((p) => {
    const id = `${p.key}=${p.value}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}
