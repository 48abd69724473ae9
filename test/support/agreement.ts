/**
 * A real, approved agreement between two daemons, negotiated through the market's REST API with the official
 * ya-ts-client (offer → demand → counter → provider counter → agreement → confirm → approve), for tests of
 * what runs on agreements (activities, payments).
 */
import { randomBytes } from 'node:crypto';
import { MarketApi } from 'ya-ts-client';
import type { DaemonHandle } from './daemon.ts';
import { eventually } from './net.ts';

type Event = { eventType: string; proposal?: { proposalId: string; state: string; issuerId: string } };

const market = (daemon: DaemonHandle) =>
  new MarketApi.Client({ BASE: `${daemon.apiUrl}/market-api/v1`, TOKEN: daemon.appKey });

async function until(
  collect: () => Promise<unknown[]>,
  pick: (e: Event) => boolean,
  what: string,
): Promise<Event> {
  let found: Event | undefined;
  await eventually(
    async () => {
      found = ((await collect()) as Event[]).find(pick) ?? found;
      return found !== undefined;
    },
    what,
    30_000,
  );
  return found!;
}

export interface AgreementOptions {
  runtime: string;
  /** Extra flat offer properties. */
  offer?: Record<string, unknown>;
  /** Extra flat demand properties (e.g. `golem.srv.comp.task_package`). */
  demand?: Record<string, unknown>;
  /** The app session both sides confirm and approve in (default `activity-tests`). */
  appSessionId?: string;
}

/** Negotiates and approves one agreement; returns its id. */
export async function approvedAgreement(
  requestor: DaemonHandle,
  provider: DaemonHandle,
  options: AgreementOptions,
): Promise<string> {
  const subnet = `activity-${randomBytes(4).toString('hex')}`;
  const offer = {
    properties: {
      'golem.node.debug.subnet': subnet,
      'golem.runtime.name': options.runtime,
      'golem.inf.cpu.threads': 1,
      'golem.com.usage.vector': ['golem.usage.duration_sec', 'golem.usage.cpu_sec'],
      'golem.com.pricing.model': 'linear',
      'golem.com.pricing.model.linear.coeffs': [0.001, 0.002, 0.0],
      ...options.offer,
    },
    constraints: `(golem.node.debug.subnet=${subnet})`,
  };
  const demand = {
    properties: {
      'golem.node.debug.subnet': subnet,
      'golem.srv.comp.expiration': Date.now() + 3_600_000,
      ...options.demand,
    },
    constraints: `(&(golem.node.debug.subnet=${subnet})(golem.runtime.name=${options.runtime}))`,
  };
  const prov = market(provider).provider;
  const req = market(requestor).requestor;
  const offerId = (await prov.subscribeOffer(offer)) as string;
  const demandId = (await req.subscribeDemand(demand)) as string;
  const initial = await until(
    () => req.collectOffers(demandId, 1, 10),
    (e) => e.proposal?.state === 'Initial' && e.proposal.issuerId === provider.nodeId,
    'the offer on the requestor',
  );
  const counter = (await req.counterProposalDemand(demandId, initial.proposal!.proposalId, demand)) as string;
  const draft = await until(
    () => prov.collectDemands(offerId, 1, 10),
    (e) => e.proposal?.proposalId === `P-${counter.slice(2)}`,
    'the counter on the provider',
  );
  await prov.counterProposalOffer(offerId, draft.proposal!.proposalId, offer);
  const providerDraft = await until(
    () => req.collectOffers(demandId, 1, 10),
    (e) => e.proposal?.state === 'Draft',
    "the provider's counter",
  );
  const validTo = new Date(Date.now() + 3_600_000).toISOString();
  const agreementId = (await req.createAgreement({
    proposalId: providerDraft.proposal!.proposalId,
    validTo,
  })) as string;
  const appSessionId = options.appSessionId ?? 'activity-tests';
  await req.confirmAgreement(agreementId, appSessionId);
  await until(
    () => prov.collectDemands(offerId, 1, 10),
    (e) => e.eventType === 'AgreementEvent',
    'the agreement on the provider',
  );
  const waiting = req.waitForApproval(agreementId, 30);
  await prov.approveAgreement(agreementId, appSessionId, 10);
  await waiting;
  return agreementId;
}

/** Terminates an agreement from the requestor's side. */
export async function terminateAgreement(requestor: DaemonHandle, agreementId: string): Promise<void> {
  await market(requestor).requestor.terminateAgreement(agreementId, { message: 'done' });
}
