/**
 * `golem run` as a library: rent N providers for one command and pay them, over the daemon's public REST API only.
 *
 * Flow: allocation (the budget) → demand with the allocation's decorations → offers collected for a short window
 * and every one countered at once (never one provider at a time) → Drafts ranked by price and the local
 * reputation → agreements with the best N, in parallel → per provider: activity, deploy, start, the command with
 * its output streamed (SSE) → activity destroyed, agreement terminated → payment confirmed on chain. Every debit
 * note and the invoice are audited against the agreement and the budget first (payments.ts): an overcharge is
 * rejected with its reason and kept as a dispute against the provider in the reputation. When no offer matches,
 * the error says why for the closest offers the market knows (the language's explanation of a scan of the market).
 */
import { randomUUID } from 'node:crypto';
import { GolemError } from '../../core/errors/index.ts';
import type { Invoice } from '../../core/model/payment.ts';
import { formatExplanation, matchDemandOffer } from '../../language/index.ts';
import { RestClient } from './api.ts';
import { RequestorErrorCode } from './errors.ts';
import { type Dispute, PaymentGuard } from './payments.ts';
import { type Reputation, rankOffers } from './reputation.ts';

export type RequestorRuntime = 'wasi' | 'vm';

export interface RunOptions {
  apiUrl: string;
  appKey: string;
  runtime: RequestorRuntime;
  /** `hash:sha3:<hex>:<url>` as the provider will fetch it (see image.ts for tags, hashes and files). */
  taskPackage: string;
  /** argv: for VM `sh -c` of the words joined, for WASI the entry point and its arguments. */
  command: string[];
  providers: number;
  /** GLM the whole run may cost. */
  budget: number;
  paymentNetwork: string;
  subnet: string;
  reputation: Reputation;
  /** How long offers are collected before the best are chosen (ms). */
  offerWindowMs?: number;
  /** How long to wait for any offer before explaining why none matches (ms). */
  noOfferTimeoutMs?: number;
  progress?: (line: string) => void;
  output?: (provider: string, stream: 'stdout' | 'stderr', text: string) => void;
}

export interface ProviderOutcome {
  providerId: string;
  name: string;
  agreementId: string;
  ok: boolean;
  exitCode: number | null;
  seconds: number;
  /** GLM accepted for the agreement (what is paid). */
  cost: string;
  invoiceStatus: string;
  transactions: string[];
  /** Documents that asked more than agreed (rejected, not paid). */
  disputes: Dispute[];
}

export interface RunSummary {
  seconds: number;
  cost: string;
  providers: ProviderOutcome[];
}

type Proposal = {
  proposalId: string;
  issuerId: string;
  state: string;
  properties: Record<string, unknown>;
  constraints: string;
};
type MarketEvent = { eventType: string; proposal?: Proposal; reason?: { message?: string } };
type RuntimeEvent = { index: number; kind: Record<string, unknown> };

const platformOf = (network: string) =>
  `erc20-${network}-${network === 'mainnet' || network === 'polygon' ? 'glm' : 'tglm'}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runOnProviders(options: RunOptions): Promise<RunSummary> {
  const api = new RestClient(options);
  const progress = options.progress ?? (() => {});
  const started = Date.now();
  const platform = platformOf(options.paymentNetwork);
  const me = await api.get<{ identity: string }>('/me');
  const session = randomUUID();

  const allocation = await api.post<{ allocationId: string }>('/payment-api/v1/allocations', {
    totalAmount: String(options.budget),
    paymentPlatform: platform,
    address: me.identity,
    timeout: new Date(Date.now() + 3_600_000).toISOString(),
    makeDeposit: false,
  });
  progress(`payment: allocation of ${options.budget} GLM on ${platform}`);
  const decorations = await api.get<{
    properties: { key: string; value: unknown }[];
    constraints: string[];
  }>(`/payment-api/v1/demandDecorations?allocationIds=${allocation.allocationId}`);
  const runtimeName = options.runtime === 'vm' ? 'vm' : 'wasmtime';
  const demand = {
    properties: {
      'golem.node.debug.subnet': options.subnet,
      'golem.srv.comp.expiration': Date.now() + 30 * 60_000,
      'golem.srv.comp.task_package': options.taskPackage,
      'golem.srv.caps.multi-activity': true,
      ...(options.runtime === 'vm' ? { 'golem.srv.comp.vm.package_format': 'gvmkit-squash' } : {}),
      'golem.com.payment.debit-notes.accept-timeout?': 120,
      'golem.com.scheme.payu.debit-note.interval-sec?': 120,
      'golem.com.scheme.payu.payment-timeout-sec?': 600,
      ...Object.fromEntries(decorations.properties.map((p) => [p.key, p.value])),
    },
    constraints: `(&${[
      `(golem.node.debug.subnet=${options.subnet})`,
      `(golem.runtime.name=${runtimeName})`,
      '(golem.com.pricing.model=linear)',
      ...decorations.constraints,
    ].join('')})`,
  };
  const demandId = await api.post<string>('/market-api/v1/demands', demand);
  const outcomes: ProviderOutcome[] = [];
  try {
    const drafts = await negotiate(api, demandId, demand, options, progress);
    const chosen = rankOffers(
      drafts.map((d) => ({ ...d, providerId: d.issuerId })),
      options.reputation,
    );
    const guard = new PaymentGuard({
      api,
      allocationId: allocation.allocationId,
      budget: options.budget,
      progress,
      // A dispute or the budget ends the agreement: the daemon then destroys its activities on both sides.
      onBreach: (agreementId, message) =>
        void api
          .post(`/market-api/v1/agreements/${agreementId}/terminate`, { message })
          .catch(() => undefined),
    });
    guard.start();
    try {
      const agreements = await makeAgreements(api, chosen, options.providers, session, guard, progress);
      await api.delete(`/market-api/v1/demands/${demandId}`).catch(() => undefined);
      outcomes.push(
        ...(await Promise.all(
          agreements.map((agreement) => runOne(api, agreement, options, guard, progress)),
        )),
      );
    } finally {
      await guard.stop();
    }
  } finally {
    await api.delete(`/market-api/v1/demands/${demandId}`).catch(() => undefined);
    await api.delete(`/payment-api/v1/allocations/${allocation.allocationId}`).catch(() => undefined);
  }
  for (const outcome of outcomes)
    options.reputation.record(outcome.providerId, {
      ok: outcome.ok,
      seconds: outcome.seconds,
      dispute: outcome.disputes.length > 0,
    });
  options.reputation.save();
  const total = outcomes.reduce((sum, o) => sum + Number(o.cost), 0);
  return { seconds: (Date.now() - started) / 1000, cost: total.toFixed(6), providers: outcomes };
}

/** Collects offers for a window, counters all of them at once, and returns the Drafts that came back. */
async function negotiate(
  api: RestClient,
  demandId: string,
  demand: { properties: Record<string, unknown>; constraints: string },
  options: RunOptions,
  progress: (line: string) => void,
): Promise<Proposal[]> {
  const window = options.offerWindowMs ?? 1500;
  const noOffer = options.noOfferTimeoutMs ?? 15_000;
  const started = Date.now();
  const initial = new Map<string, Proposal>();
  const drafts = new Map<string, Proposal>();
  const countered = new Set<string>();
  const rejections: string[] = [];
  let firstSeen: number | undefined;
  progress('market: demand published, collecting offers');
  for (;;) {
    const events = await api.get<MarketEvent[]>(
      `/market-api/v1/demands/${demandId}/events?timeout=1&maxEvents=100`,
    );
    const counters: Promise<unknown>[] = [];
    for (const event of events) {
      const proposal = event.proposal;
      if (event.eventType === 'ProposalRejectedEvent') rejections.push(event.reason?.message ?? 'rejected');
      if (event.eventType !== 'ProposalEvent' || proposal === undefined) continue;
      if (proposal.state === 'Initial' && !initial.has(proposal.issuerId)) {
        initial.set(proposal.issuerId, proposal);
        firstSeen ??= Date.now();
        countered.add(proposal.issuerId);
        counters.push(
          api
            .post(`/market-api/v1/demands/${demandId}/proposals/${proposal.proposalId}`, demand)
            .catch(() => undefined),
        );
      } else if (proposal.state === 'Draft') drafts.set(proposal.issuerId, proposal);
    }
    await Promise.all(counters);
    const elapsed = Date.now() - started;
    const answered = drafts.size + rejections.length;
    const enough =
      answered >= countered.size && (drafts.size >= options.providers || answered >= countered.size);
    if (firstSeen !== undefined && (enough || Date.now() - firstSeen > window + 3000)) break;
    if (firstSeen === undefined && elapsed > noOffer) throw await noOffers(api, demand, options.subnet);
  }
  progress(`market: ${initial.size} offers, ${drafts.size} countered back`);
  if (drafts.size === 0)
    throw new GolemError(
      RequestorErrorCode.NoAgreement,
      `no provider took the demand${rejections.length ? `: ${[...new Set(rejections)].join('; ')}` : ''}`,
      { details: { offers: initial.size, rejections } },
    );
  return [...drafts.values()];
}

/** Why nothing matched: the market's offers in the subnet, each explained against the demand. */
async function noOffers(
  api: RestClient,
  demand: { properties: Record<string, unknown>; constraints: string },
  subnet: string,
): Promise<GolemError> {
  const scanId = await api.post<string>('/market-api/v1/scan', {
    type: 'offer',
    constraints: `(golem.node.debug.subnet=${subnet})`,
  });
  const offers = await api
    .get<{ providerId: string; properties: Record<string, unknown>; constraints: string }[]>(
      `/market-api/v1/scan/${scanId}/events?timeout=1&maxEvents=50`,
    )
    .finally(() => api.delete(`/market-api/v1/scan/${scanId}`).catch(() => undefined));
  const closest = offers.slice(0, 3).map((offer) => {
    const match = matchDemandOffer(demand, offer);
    return {
      providerId: offer.providerId,
      name: String(offer.properties['golem.node.id.name'] ?? ''),
      why: formatExplanation(match),
    };
  });
  const message =
    offers.length === 0
      ? `no offer in subnet ${subnet} is known to the market`
      : `no offer matches the demand; closest:\n${closest
          .map((c) => `  ${c.name || c.providerId}:\n${c.why.replace(/^/gm, '    ')}`)
          .join('\n')}`;
  return new GolemError(RequestorErrorCode.NoOffers, message, {
    details: { known: offers.length, closest },
  });
}

interface Agreement {
  agreementId: string;
  providerId: string;
  name: string;
  properties: Record<string, unknown>;
}

/** Agreements with the first `count` drafts (in parallel); a refused one is replaced by the next draft. */
async function makeAgreements(
  api: RestClient,
  ranked: (Proposal & { providerId: string })[],
  count: number,
  session: string,
  guard: PaymentGuard,
  progress: (line: string) => void,
): Promise<Agreement[]> {
  const queue = [...ranked];
  const made: Agreement[] = [];
  const worker = async () => {
    while (made.length < count) {
      const draft = queue.shift();
      if (draft === undefined) return;
      try {
        const agreementId = await api.post<string>('/market-api/v1/agreements', {
          proposalId: draft.proposalId,
          validTo: new Date(Date.now() + 30 * 60_000).toISOString(),
        });
        await api.post(`/market-api/v1/agreements/${agreementId}/confirm?appSessionId=${session}`);
        await api.post(`/market-api/v1/agreements/${agreementId}/wait?timeout=30`);
        const name = String(draft.properties['golem.node.id.name'] ?? draft.providerId.slice(0, 10));
        if (made.length >= count) {
          await api.post(`/market-api/v1/agreements/${agreementId}/terminate`, { message: 'not needed' });
          return;
        }
        // The terms every document of the agreement is audited against: the agreement as both signed it.
        guard.watch(await api.get(`/market-api/v1/agreements/${agreementId}`), name);
        made.push({ agreementId, providerId: draft.providerId, name, properties: draft.properties });
        progress(`market: agreement with ${name} (${draft.providerId})`);
      } catch (error) {
        progress(`market: ${draft.providerId} refused: ${(error as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: count }, worker));
  if (made.length < count)
    throw new GolemError(RequestorErrorCode.NoAgreement, `only ${made.length} of ${count} providers agreed`, {
      details: { made: made.map((a) => a.providerId) },
    });
  return made;
}

/** One provider's part: activity, command with streamed output, end, invoice, payment. */
async function runOne(
  api: RestClient,
  agreement: Agreement,
  options: RunOptions,
  guard: PaymentGuard,
  progress: (line: string) => void,
): Promise<ProviderOutcome> {
  const started = Date.now();
  const { name } = agreement;
  let exitCode: number | null = null;
  let ok = false;
  try {
    const { activityId } = await api.post<{ activityId: string }>('/activity-api/v1/activity', {
      agreementId: agreement.agreementId,
    });
    guard.addActivity(agreement.agreementId, activityId);
    progress(`${name}: activity ${activityId.slice(0, 12)}, deploying`);
    await execute(api, activityId, [{ deploy: {} }, { start: {} }], options, name);
    progress(`${name}: running ${options.command.join(' ')}`);
    const stream = { stdout: { stream: { format: 'string' } }, stderr: { stream: { format: 'string' } } };
    const run =
      options.runtime === 'vm'
        ? { entry_point: '/bin/sh', args: ['-c', options.command.join(' ')], capture: stream }
        : { entry_point: options.command[0], args: options.command.slice(1), capture: stream };
    exitCode = await execute(api, activityId, [{ run }], options, name);
    ok = exitCode === 0;
    await api.delete(`/activity-api/v1/activity/${activityId}?timeout=30`).catch(() => undefined);
  } catch (error) {
    progress(`${name}: failed: ${(error as Error).message}`);
  }
  guard.agreementWorkEnded(agreement.agreementId);
  const seconds = (Date.now() - started) / 1000;
  await api
    .post(`/market-api/v1/agreements/${agreement.agreementId}/terminate`, {
      message: ok ? 'Finished' : 'Failed',
    })
    .catch((error) => progress(`${name}: terminating the agreement failed: ${(error as Error).message}`));
  const { status, transactions } = await settle(api, agreement, guard, progress);
  return {
    providerId: agreement.providerId,
    name,
    agreementId: agreement.agreementId,
    ok,
    exitCode,
    seconds,
    cost: guard.accepted(agreement.agreementId),
    invoiceStatus: status,
    transactions,
    disputes: guard.disputes(agreement.agreementId),
  };
}

/** Sends a script, follows its SSE stream (output as it comes), and returns the last command's exit code. */
async function execute(
  api: RestClient,
  activityId: string,
  script: unknown[],
  options: RunOptions,
  name: string,
): Promise<number> {
  const batchId = await api.post<string>(`/activity-api/v1/activity/${activityId}/exec`, {
    text: JSON.stringify(script),
  });
  const controller = new AbortController();
  const response = await fetch(`${api.apiUrl}/activity-api/v1/activity/${activityId}/exec/${batchId}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${options.appKey}` },
    signal: controller.signal,
  });
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      text += decoder.decode(chunk, { stream: true });
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const lines = text.slice(0, end).split('\n');
        text = text.slice(end + 2);
        const data = lines.find((l) => l.startsWith('data: '));
        if (data === undefined) continue;
        const event = JSON.parse(data.slice(6)) as RuntimeEvent;
        for (const stream of ['stdout', 'stderr'] as const) {
          const out = event.kind[stream];
          if (typeof out === 'string') options.output?.(name, stream, out);
        }
        const finished = event.kind.finished as { return_code: number; message?: string } | undefined;
        if (finished !== undefined && (finished.return_code !== 0 || event.index + 1 >= script.length)) {
          if (finished.return_code !== 0 && event.index + 1 < script.length)
            throw new GolemError(RequestorErrorCode.CommandFailed, finished.message ?? 'command failed', {
              details: { index: event.index, returnCode: finished.return_code },
            });
          return finished.return_code;
        }
      }
    }
  } finally {
    controller.abort();
  }
  throw new GolemError(RequestorErrorCode.CommandFailed, 'the result stream ended early');
}

/**
 * Waits for the agreement's invoice, has it audited (accepted or rejected), then waits until what was accepted is
 * paid on chain, and names the transactions of the payments covering the agreement or its activities.
 */
async function settle(
  api: RestClient,
  agreement: Agreement,
  guard: PaymentGuard,
  progress: (line: string) => void,
): Promise<{ status: string; transactions: string[] }> {
  const deadline = Date.now() + 120_000;
  let invoice: Invoice | undefined;
  while (invoice === undefined && Date.now() < deadline) {
    invoice = (await api.get<Invoice[]>('/payment-api/v1/invoices')).find(
      (i) => i.agreementId === agreement.agreementId,
    );
    if (invoice === undefined) await sleep(500);
  }
  let status = 'NONE';
  if (invoice === undefined) progress(`${agreement.name}: no invoice came`);
  else {
    const outcome = await guard.invoice(invoice);
    status = outcome === 'UNACCEPTED' ? invoice.status : outcome;
    if (outcome === 'ACCEPTED') {
      progress(`${agreement.name}: invoice of ${invoice.amount} GLM accepted, waiting for the payment`);
      while (status !== 'SETTLED' && Date.now() < deadline) {
        await sleep(500);
        status = (await api.get<Invoice>(`/payment-api/v1/invoices/${invoice.invoiceId}`)).status;
      }
    }
  }
  // Without an accepted invoice, the debit notes accepted along the way are still paid.
  if (status !== 'SETTLED') await guard.paidDebitNotes(agreement.agreementId, deadline);
  // A payment names the agreement, or (when debit notes covered the work) the agreement's activities.
  type Payment = {
    details: string;
    agreementPayments: { agreementId: string }[];
    activityPayments: { activityId: string }[];
  };
  const activityIds = new Set(invoice?.activityIds ?? []);
  const payments = (await api.get<Payment[]>('/payment-api/v1/payments').catch(() => [] as Payment[])).filter(
    (p) =>
      p.agreementPayments.some((a) => a.agreementId === agreement.agreementId) ||
      p.activityPayments.some((a) => activityIds.has(a.activityId)),
  );
  return { status, transactions: [...new Set(payments.map((p) => p.details))] };
}
