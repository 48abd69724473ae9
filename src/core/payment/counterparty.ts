/**
 * What the payment module knows of agreements and activities: asked of the market and the activity module over
 * the bus (never imported), remembered in `payment_agreement`/`payment_activity` with the parties, addresses and
 * running totals.
 */
import type { Bus } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import { isGolemError } from '../errors/index.ts';
import { type ActivityInfo, ActivityLocalAddress } from '../model/activity.ts';
import { type AgreementView, MarketLocalAddress } from '../model/market.ts';
import { PaymentErrorCode, paymentError } from './errors.ts';
import type { Role } from './events.ts';
import { agreementPlatform } from './platforms.ts';

export interface AgreementRow {
  agreement_id: string;
  role: Role;
  owner_id: string;
  peer_id: string;
  payee_addr: string;
  payer_addr: string;
  platform: string;
  app_session_id: string | null;
  total_accepted: string;
  total_scheduled: string;
  total_paid: string;
  created_at: string;
}

export interface ActivityRow {
  activity_id: string;
  role: Role;
  agreement_id: string;
  total_accepted: string;
  total_scheduled: string;
  total_paid: string;
}

export class Counterparties {
  #db: Database;
  #bus: Bus;
  #supported: (platform: string) => boolean;

  constructor(db: Database, bus: Bus, supported: (platform: string) => boolean) {
    this.#db = db;
    this.#bus = bus;
    this.#supported = supported;
  }

  agreement(agreementId: string, role: Role): AgreementRow | undefined {
    return this.#db.get<AgreementRow>(
      'SELECT * FROM payment_agreement WHERE agreement_id = ? AND role = ?',
      agreementId,
      role,
    );
  }

  activity(activityId: string, role: Role): ActivityRow | undefined {
    return this.#db.get<ActivityRow>(
      'SELECT * FROM payment_activity WHERE activity_id = ? AND role = ?',
      activityId,
      role,
    );
  }

  /** The agreement as this node's `role` holds it, recorded on first use. */
  async ensureAgreement(agreementId: string, role: Role): Promise<AgreementRow> {
    const known = this.agreement(agreementId, role);
    if (known !== undefined) return known;
    let view: AgreementView;
    try {
      view = await this.#bus.call<AgreementView>(MarketLocalAddress.GetAgreement, { agreementId, role });
    } catch (cause) {
      throw paymentError(
        PaymentErrorCode.AgreementUnknown,
        `agreement ${agreementId} not found`,
        404,
        { agreementId },
        cause,
      );
    }
    if (view.role !== role)
      throw paymentError(
        PaymentErrorCode.AgreementUnknown,
        `this node is not the ${role} of agreement ${agreementId}`,
        404,
        {
          agreementId,
        },
      );
    // Documents exist only for agreements both sides signed (running or ended).
    if (view.state !== 'Approved' && view.state !== 'Terminated')
      throw paymentError(
        PaymentErrorCode.AgreementUnknown,
        `agreement ${agreementId} is ${view.state}, not approved`,
        409,
        { agreementId, state: view.state },
      );
    const terms = agreementPlatform(view.demandProperties, view.offerProperties, this.#supported);
    if (terms === undefined)
      throw paymentError(
        PaymentErrorCode.AgreementUnknown,
        `agreement ${agreementId} names no common payment platform`,
        400,
        {
          agreementId,
        },
      );
    const owner = role === 'requestor' ? view.requestorId : view.providerId;
    const peer = role === 'requestor' ? view.providerId : view.requestorId;
    const appSessionId = view.appSessionId;
    this.#db.run(
      `INSERT OR IGNORE INTO payment_agreement (agreement_id, role, owner_id, peer_id, payee_addr, payer_addr, platform, app_session_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      agreementId,
      role,
      owner.toLowerCase(),
      peer.toLowerCase(),
      terms.payeeAddr,
      terms.payerAddr,
      terms.platform,
      typeof appSessionId === 'string' ? appSessionId : null,
      new Date().toISOString(),
    );
    return this.agreement(agreementId, role)!;
  }

  /** The activity (and so its agreement) as the activity module knows it, recorded on first use. */
  async ensureActivity(activityId: string, role: Role): Promise<ActivityRow> {
    const known = this.activity(activityId, role);
    if (known !== undefined) return known;
    let info: ActivityInfo;
    try {
      info = await this.#bus.call<ActivityInfo>(ActivityLocalAddress.GetActivity, { activityId });
    } catch (cause) {
      const status = isGolemError(cause) && cause.httpStatus === 404 ? 404 : 400;
      throw paymentError(
        PaymentErrorCode.ActivityUnknown,
        `activity ${activityId} not found`,
        status,
        { activityId },
        cause,
      );
    }
    await this.ensureAgreement(info.agreementId, role);
    this.#db.run(
      'INSERT OR IGNORE INTO payment_activity (activity_id, role, agreement_id) VALUES (?, ?, ?)',
      activityId,
      role,
      info.agreementId,
    );
    return this.activity(activityId, role)!;
  }

  /** Refuses a message whose authenticated sender is not the agreement's other party. */
  checkCounterparty(agreement: AgreementRow, caller: string, owner: string): void {
    if (agreement.peer_id !== caller.toLowerCase() || agreement.owner_id !== owner.toLowerCase())
      throw paymentError(
        PaymentErrorCode.NotCounterparty,
        'only the counterparty of the agreement may send or answer its documents',
        403,
        { agreementId: agreement.agreement_id, caller },
      );
  }
}

const TOTALS = {
  activity: { table: 'payment_activity', id: 'activity_id' },
  agreement: { table: 'payment_agreement', id: 'agreement_id' },
} as const;

/**
 * `column += delta` on an activity's or agreement's running total (inside the caller's transaction), as a
 * compare-and-set against the value the caller read: a total that moved meanwhile fails instead of counting twice.
 */
export function addToTotal(
  db: Database,
  entity: keyof typeof TOTALS,
  id: string,
  role: Role,
  column: 'total_accepted' | 'total_scheduled' | 'total_paid',
  from: string,
  delta: bigint,
): void {
  if (delta === 0n) return;
  const { table, id: idColumn } = TOTALS[entity];
  const changed = db.run(
    `UPDATE ${table} SET ${column} = ? WHERE ${idColumn} = ? AND role = ? AND ${column} = ?`,
    (BigInt(from) + delta).toString(),
    id,
    role,
    from,
  ).changes;
  if (changed !== 1)
    throw paymentError(PaymentErrorCode.DocumentState, 'payment totals changed meanwhile; try again', 409, {
      [idColumn]: id,
      column,
    });
}
