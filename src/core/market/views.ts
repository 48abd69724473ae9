/** REST shapes of the market, exactly as yagna serves them (api.md §4.1). */

export type Role = 'requestor' | 'provider';

export interface ProposalRow {
  id: string;
  role: Role;
  demand_id: string;
  offer_id: string;
  issuer: Role;
  issuer_id: string;
  peer_id: string;
  properties: string;
  constraints: string;
  prev_id: string | null;
  state: 'Initial' | 'Draft' | 'Rejected' | 'Accepted' | 'Expired';
  countered: number;
  created_at: string;
}

export interface AgreementRow {
  id: string;
  role: Role;
  owner_id: string;
  content: string;
  state:
    | 'Proposal'
    | 'Pending'
    | 'Approving'
    | 'Approved'
    | 'Rejected'
    | 'Cancelled'
    | 'Expired'
    | 'Terminated';
  app_session_id: string | null;
  proposed_signature: string | null;
  approved_signature: string | null;
  committed_signature: string | null;
  approved_at: string | null;
  termination: string | null;
  created_at: string;
}

export const prefixOf = (role: Role) => (role === 'requestor' ? 'R-' : 'P-');

/** `R-<hash>` / `P-<hash>` → the bare hash (undefined when the prefix does not belong to `role`). */
export function bareProposalId(id: string, role: Role): string | undefined {
  const prefix = prefixOf(role);
  if (id.startsWith(prefix)) return id.slice(2);
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}

export function proposalView(row: ProposalRow): Record<string, unknown> {
  const view: Record<string, unknown> = {
    properties: JSON.parse(row.properties),
    constraints: row.constraints,
    proposalId: prefixOf(row.role) + row.id,
    issuerId: row.issuer_id,
    state: row.state,
    timestamp: row.created_at,
  };
  if (row.prev_id !== null) view.prevProposalId = prefixOf(row.role) + row.prev_id;
  return view;
}
