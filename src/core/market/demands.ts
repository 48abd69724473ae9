/** Demands (they never leave the requestor's node), as stored: prepared statements, rows checked as read. */

import type { Database } from '../db/index.ts';
import { GolemError } from '../errors/index.ts';
import { MarketErrorCode } from './errors.ts';
import { isRecord, parseStored, Statements } from './statements.ts';

export interface Demand {
  demandId: string;
  requestorId: string;
  properties: Record<string, unknown>;
  constraints: string;
  createdAt: string;
  expiresAt: string;
  active: boolean;
}

interface DemandRow {
  demand_id: string;
  requestor_id: string;
  properties: string;
  constraints: string;
  created_at: string;
  expires_at: string;
  active: number;
}

function fromRow(row: DemandRow): Demand {
  const properties = parseStored(row.properties);
  if (!isRecord(properties))
    throw new GolemError(MarketErrorCode.DemandCorrupt, `stored demand ${row.demand_id} is damaged`, {
      httpStatus: 500,
      details: { demandId: row.demand_id },
    });
  return {
    demandId: row.demand_id,
    requestorId: row.requestor_id,
    properties,
    constraints: row.constraints,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    active: row.active === 1,
  };
}

/** A demand as `GET /demands` serves it. */
export function demandView(demand: Demand): Record<string, unknown> {
  return {
    properties: demand.properties,
    constraints: demand.constraints,
    demandId: demand.demandId,
    requestorId: demand.requestorId,
    timestamp: demand.createdAt,
  };
}

export class DemandStore {
  #sql: Statements;

  constructor(db: Database) {
    this.#sql = new Statements(db);
  }

  insert(demand: Omit<Demand, 'active'>): void {
    this.#sql
      .get(
        'INSERT INTO market_demand (demand_id, requestor_id, properties, constraints, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        demand.demandId,
        demand.requestorId,
        JSON.stringify(demand.properties),
        demand.constraints,
        demand.createdAt,
        demand.expiresAt,
      );
  }

  get(demandId: string): Demand | undefined {
    const row = this.#sql.get('SELECT * FROM market_demand WHERE demand_id = ?').get(demandId);
    return row === undefined ? undefined : fromRow(row as unknown as DemandRow);
  }

  /** Active demands not expired at `now` (of one owner, when given). */
  active(now: string, owner?: string): Demand[] {
    const rows =
      owner === undefined
        ? this.#sql.get('SELECT * FROM market_demand WHERE active = 1 AND expires_at > ?').all(now)
        : this.#sql
            .get('SELECT * FROM market_demand WHERE requestor_id = ? AND active = 1 AND expires_at > ?')
            .all(owner, now);
    return (rows as unknown as DemandRow[]).map(fromRow);
  }

  deactivate(demandId: string): void {
    this.#sql.get('UPDATE market_demand SET active = 0 WHERE demand_id = ?').run(demandId);
  }
}
