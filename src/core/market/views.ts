/** REST shapes of the market, exactly as yagna serves them (api.md §4.1). */

import type { Agreement } from './agreements.ts';
import type { Proposal } from './proposals.ts';

export type Role = 'requestor' | 'provider';

export const prefixOf = (role: Role) => (role === 'requestor' ? 'R-' : 'P-');

/** `R-<hash>` / `P-<hash>` → the bare hash (undefined when the prefix does not belong to `role`). */
export function bareProposalId(id: string, role: Role): string | undefined {
  const prefix = prefixOf(role);
  if (id.startsWith(prefix)) return id.slice(2);
  return /^[0-9a-f]{64}$/.test(id) ? id : undefined;
}

export function proposalView(proposal: Proposal): Record<string, unknown> {
  const view: Record<string, unknown> = {
    properties: proposal.properties,
    constraints: proposal.constraints,
    proposalId: prefixOf(proposal.role) + proposal.id,
    issuerId: proposal.issuerId,
    state: proposal.state,
    timestamp: proposal.createdAt,
  };
  if (proposal.prevId !== null) view.prevProposalId = prefixOf(proposal.role) + proposal.prevId;
  return view;
}

/** An agreement as `GET /agreements/{id}` serves it (an approval in flight is still Pending to clients). */
export function agreementRestView(agreement: Agreement): Record<string, unknown> {
  const { content } = agreement;
  const view: Record<string, unknown> = {
    agreementId: agreement.id,
    demand: {
      properties: content.demand.properties,
      constraints: content.demand.constraints,
      demandId: content.demand.demandId,
      requestorId: content.demand.requestorId,
      timestamp: content.createdAt,
    },
    offer: {
      properties: content.offer.properties,
      constraints: content.offer.constraints,
      offerId: content.offer.offerId,
      providerId: content.offer.providerId,
      timestamp: content.createdAt,
    },
    validTo: content.validTo,
    state: agreement.state === 'Approving' ? 'Pending' : agreement.state,
    timestamp: content.createdAt,
  };
  if (agreement.approvedAt !== null) view.approvedDate = agreement.approvedAt;
  if (agreement.appSessionId !== null) view.appSessionId = agreement.appSessionId;
  if (agreement.proposedSignature !== null) view.proposedSignature = agreement.proposedSignature;
  if (agreement.approvedSignature !== null) view.approvedSignature = agreement.approvedSignature;
  if (agreement.committedSignature !== null) view.committedSignature = agreement.committedSignature;
  return view;
}
