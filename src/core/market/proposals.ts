/** Proposals of both roles, as stored: prepared statements, and every row checked as it is read. */

import type { Database } from '../db/index.ts';
import { GolemError } from '../errors/index.ts';
import { MarketErrorCode } from './errors.ts';
import { isRecord, parseStored, Statements } from './statements.ts';
import type { Role } from './views.ts';

export type ProposalState = 'Initial' | 'Draft' | 'Rejected' | 'Accepted';

/** One proposal on one side of a negotiation (`role` is the side holding it). */
export interface Proposal {
  /** Bare 64-hex id. */
  id: string;
  role: Role;
  demandId: string;
  offerId: string;
  issuer: Role;
  issuerId: string;
  /** The other party's node id. */
  peerId: string;
  properties: Record<string, unknown>;
  constraints: string;
  prevId: string | null;
  state: ProposalState;
  countered: boolean;
  createdAt: string;
}

interface ProposalRow {
  id: string;
  role: string;
  demand_id: string;
  offer_id: string;
  issuer: string;
  issuer_id: string;
  peer_id: string;
  properties: string;
  constraints: string;
  prev_id: string | null;
  state: string;
  countered: number;
  created_at: string;
}

const ROLES = new Set(['requestor', 'provider']);
const STATES = new Set(['Initial', 'Draft', 'Rejected', 'Accepted']);

function fromRow(row: ProposalRow): Proposal {
  const properties = parseStored(row.properties);
  if (!isRecord(properties) || !ROLES.has(row.role) || !ROLES.has(row.issuer) || !STATES.has(row.state))
    throw new GolemError(MarketErrorCode.ProposalCorrupt, `stored proposal ${row.id} is damaged`, {
      httpStatus: 500,
      details: { proposalId: row.id },
    });
  return {
    id: row.id,
    role: row.role as Role,
    demandId: row.demand_id,
    offerId: row.offer_id,
    issuer: row.issuer as Role,
    issuerId: row.issuer_id,
    peerId: row.peer_id,
    properties,
    constraints: row.constraints,
    prevId: row.prev_id,
    state: row.state as ProposalState,
    countered: row.countered === 1,
    createdAt: row.created_at,
  };
}

export class ProposalStore {
  #sql: Statements;

  constructor(db: Database) {
    this.#sql = new Statements(db);
  }

  get(id: string, role: Role): Proposal | undefined {
    const row = this.#sql.get('SELECT * FROM market_proposal WHERE id = ? AND role = ?').get(id, role);
    return row === undefined ? undefined : fromRow(row as unknown as ProposalRow);
  }

  /** Both sides' copies of one id (one node may hold both when it trades between its own identities). */
  withId(id: string): Proposal[] {
    return (
      this.#sql.get('SELECT * FROM market_proposal WHERE id = ?').all(id) as unknown as ProposalRow[]
    ).map(fromRow);
  }

  insert(proposal: Proposal): void {
    this.#sql
      .get(
        `INSERT INTO market_proposal (id, role, demand_id, offer_id, issuer, issuer_id, peer_id, properties, constraints, prev_id, state, countered, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        proposal.id,
        proposal.role,
        proposal.demandId,
        proposal.offerId,
        proposal.issuer,
        proposal.issuerId,
        proposal.peerId,
        JSON.stringify(proposal.properties),
        proposal.constraints,
        proposal.prevId,
        proposal.state,
        proposal.countered ? 1 : 0,
        proposal.createdAt,
      );
  }

  /** Marks a proposal countered, once: false when it already was (a counter raced another). */
  markCountered(proposal: Pick<Proposal, 'id' | 'role'>): boolean {
    const result = this.#sql
      .get('UPDATE market_proposal SET countered = 1 WHERE id = ? AND role = ? AND countered = 0')
      .run(proposal.id, proposal.role);
    return Number(result.changes) === 1;
  }

  /** Moves a proposal from `from` to `to`; false when it was no longer in `from`. */
  setState(proposal: Pick<Proposal, 'id' | 'role'>, from: ProposalState, to: ProposalState): boolean {
    const result = this.#sql
      .get('UPDATE market_proposal SET state = ? WHERE id = ? AND role = ? AND state = ?')
      .run(to, proposal.id, proposal.role, from);
    return Number(result.changes) === 1;
  }

  /** Proposals a peer opened on this provider's offer (a bound on what one node can make us store). */
  countFromPeer(offerId: string, peerId: string): number {
    const row = this.#sql
      .get(
        "SELECT COUNT(*) AS n FROM market_proposal WHERE offer_id = ? AND peer_id = ? AND role = 'provider'",
      )
      .get(offerId, peerId) as { n: number };
    return row.n;
  }

  /** Forgets every proposal made on an offer (it was unsubscribed, expired or evicted); how many. */
  deleteForOffer(offerId: string): number {
    return Number(this.#sql.get('DELETE FROM market_proposal WHERE offer_id = ?').run(offerId).changes);
  }
}
