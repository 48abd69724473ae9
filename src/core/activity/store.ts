/**
 * Activities of both roles in SQLite. Every state change is a compare-and-set against the pair it came from;
 * `Terminated` is final.
 */
import type { Database } from '../db/index.ts';
import { httpError } from '../errors/index.ts';
import type { ActivityInfo, ActivityState, ActivityUsage, StatePair } from '../model/activity.ts';
import { ActivityErrorCode } from './errors.ts';

export type Role = 'requestor' | 'provider';

export interface ActivityRow {
  activity_id: string;
  role: Role;
  agreement_id: string;
  requestor_id: string;
  provider_id: string;
  state: StatePair[0];
  pending: StatePair[1];
  reason: string | null;
  error_message: string | null;
  usage: string | null;
  usage_at: number | null;
  created_at: string;
  updated_at: string;
}

export function pairOf(row: ActivityRow): StatePair {
  return [row.state, row.pending];
}

export function stateOf(row: ActivityRow): ActivityState {
  return { state: pairOf(row), reason: row.reason, errorMessage: row.error_message };
}

export function usageOf(row: ActivityRow): ActivityUsage {
  if (row.usage === null)
    return { currentUsage: null, timestamp: Math.floor(Date.parse(row.created_at) / 1000) };
  return { currentUsage: JSON.parse(row.usage) as number[], timestamp: row.usage_at ?? 0 };
}

export function infoOf(row: ActivityRow): ActivityInfo {
  return {
    activityId: row.activity_id,
    agreementId: row.agreement_id,
    role: row.role,
    requestorId: row.requestor_id,
    providerId: row.provider_id,
    state: pairOf(row),
    createdAt: row.created_at,
  };
}

export function isTerminated(row: ActivityRow): boolean {
  return row.state === 'Terminated' && row.pending === null;
}

export class ActivityStore {
  #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  insert(
    row: Omit<ActivityRow, 'reason' | 'error_message' | 'usage' | 'usage_at' | 'updated_at'>,
  ): ActivityRow {
    this.#db.run(
      `INSERT INTO activity (activity_id, role, agreement_id, requestor_id, provider_id, state, pending, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      row.activity_id,
      row.role,
      row.agreement_id,
      row.requestor_id,
      row.provider_id,
      row.state,
      row.pending,
      row.created_at,
      row.created_at,
    );
    return this.get(row.activity_id, row.role)!;
  }

  get(activityId: string, role?: Role): ActivityRow | undefined {
    return role === undefined
      ? this.#db.get<ActivityRow>(
          'SELECT * FROM activity WHERE activity_id = ? ORDER BY role LIMIT 1',
          activityId,
        )
      : this.#db.get<ActivityRow>(
          'SELECT * FROM activity WHERE activity_id = ? AND role = ?',
          activityId,
          role,
        );
  }

  require(activityId: string, role?: Role): ActivityRow {
    const row = this.get(activityId, role);
    if (row === undefined)
      throw httpError.notFound(ActivityErrorCode.NotFound, `activity ${activityId} not found`, {
        activityId,
      });
    return row;
  }

  byAgreement(agreementId: string, role: Role): ActivityRow[] {
    return this.#db.all<ActivityRow>(
      'SELECT * FROM activity WHERE agreement_id = ? AND role = ? ORDER BY created_at',
      agreementId,
      role,
    );
  }

  ofProvider(providerId: string): ActivityRow[] {
    return this.#db.all<ActivityRow>(
      "SELECT * FROM activity WHERE role = 'provider' AND provider_id = ? ORDER BY created_at",
      providerId,
    );
  }

  alive(role: Role): ActivityRow[] {
    return this.#db.all<ActivityRow>(
      "SELECT * FROM activity WHERE role = ? AND NOT (state = 'Terminated' AND pending IS NULL)",
      role,
    );
  }

  /** Sets the state if it is still `from`; false when someone else changed it first. */
  compareAndSet(row: ActivityRow, next: ActivityState): boolean {
    const { changes } = this.#db.run(
      `UPDATE activity SET state = ?, pending = ?, reason = ?, error_message = ?, updated_at = ?
       WHERE activity_id = ? AND role = ? AND state = ? AND pending IS ?`,
      next.state[0],
      next.state[1],
      next.reason,
      next.errorMessage,
      new Date().toISOString(),
      row.activity_id,
      row.role,
      row.state,
      row.pending,
    );
    return changes === 1;
  }

  /**
   * Moves to `next` from whatever the state is now, unless it is `Terminated` already; retries when it loses a
   * race. Returns the row as it ends up, and whether this call changed it.
   */
  transition(activityId: string, role: Role, next: ActivityState): { row: ActivityRow; changed: boolean } {
    for (;;) {
      const row = this.require(activityId, role);
      if (isTerminated(row)) return { row, changed: false };
      if (row.state === next.state[0] && row.pending === next.state[1] && row.reason === next.reason)
        return { row, changed: false };
      if (this.compareAndSet(row, next)) return { row: this.require(activityId, role), changed: true };
    }
  }

  setUsage(activityId: string, role: Role, usage: ActivityUsage): void {
    this.#db.run(
      'UPDATE activity SET usage = ?, usage_at = ? WHERE activity_id = ? AND role = ?',
      usage.currentUsage === null ? null : JSON.stringify(usage.currentUsage),
      usage.timestamp,
      activityId,
      role,
    );
  }
}
