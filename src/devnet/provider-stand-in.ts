/**
 * The provider's side of a devnet node while the provider agent (`golemsp`, src/agents/provider) is not there:
 * a small agent over the provider daemon's public REST API, as golemsp will be. It subscribes one offer per
 * runtime (the properties golem-js needs to accept an offer, reference golemjs.md §2.4), answers every requestor
 * counter-proposal with its offer, approves agreements (the daemon itself starts ExeUnits when the requestor
 * creates activities), and issues and sends the invoice when an agreement ends (golem-js waits for it,
 * golemjs.md §0.7): start price plus the activities' usage times the offer's coefficients.
 *
 * What golemsp adds and this does not: presets and hardware limits, debit notes during the agreement,
 * refusal of demands it cannot serve, the accept-timeout and payment deadlines.
 */
import { RestClient } from '../agents/requestor/api.ts';
import type { Logger } from '../core/log/index.ts';

export const USAGE_VECTOR = ['golem.usage.cpu_sec', 'golem.usage.duration_sec'];
/** GLM per cpu second, per second of duration, and the start price: tiny, so golem-js's default filters pass. */
export const LINEAR_COEFFS = [0.0001, 0.00005, 0.001];

export interface StandInProviderOptions {
  name: string;
  apiUrl: string;
  appKey: string;
  nodeId: string;
  /** Descriptor names: `wasmtime`, `vm`. */
  runtimes: string[];
  subnet: string;
  platform: string;
  logger: Logger;
}

type ProviderEvent = {
  eventType: string;
  eventDate: string;
  proposal?: { proposalId: string; state: string; issuerId: string };
  agreement?: { agreementId: string };
  agreementId?: string;
};

export class StandInProvider {
  readonly #options: StandInProviderOptions;
  readonly #api: RestClient;
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];
  readonly #offers = new Map<string, { properties: Record<string, unknown>; constraints: string }>();
  /** Agreements this provider approved, by id. */
  readonly #approved = new Set<string>();
  readonly #invoiced = new Set<string>();

  constructor(options: StandInProviderOptions) {
    this.#options = options;
    this.#api = new RestClient({ apiUrl: options.apiUrl, appKey: options.appKey });
  }

  offerFor(runtime: string): { properties: Record<string, unknown>; constraints: string } {
    const { name, nodeId, subnet, platform } = this.#options;
    const vm = runtime === 'vm';
    return {
      properties: {
        'golem.node.id.name': name,
        'golem.node.debug.subnet': subnet,
        'golem.node.net.is-public': false,
        'golem.runtime.name': runtime,
        'golem.runtime.version': vm ? '0.4.2' : '0.2.1',
        'golem.runtime.capabilities': vm ? ['vpn', 'start-entrypoint'] : [],
        'golem.inf.cpu.architecture': 'x86_64',
        'golem.inf.cpu.cores': 1,
        'golem.inf.cpu.threads': 1,
        'golem.inf.mem.gib': 1,
        'golem.inf.storage.gib': 4,
        'golem.activity.caps.transfer.protocol': ['gftp', 'http', 'https'],
        'golem.srv.caps.multi-activity': true,
        'golem.com.scheme': 'payu',
        'golem.com.scheme.payu.debit-note.interval-sec?': 120,
        'golem.com.scheme.payu.payment-timeout-sec?': 120,
        'golem.com.payment.debit-notes.accept-timeout?': 240,
        [`golem.com.payment.platform.${platform}.address`]: nodeId,
        'golem.com.payment.protocol.version': '3',
        'golem.com.pricing.model': 'linear',
        'golem.com.pricing.model.linear.coeffs': LINEAR_COEFFS,
        'golem.com.usage.vector': USAGE_VECTOR,
      },
      constraints: `(&(golem.srv.comp.expiration>0)(golem.node.debug.subnet=${subnet}))`,
    };
  }

  async start(): Promise<void> {
    for (const runtime of this.#options.runtimes) {
      const offer = this.offerFor(runtime);
      const offerId = await this.#api.post<string>('/market-api/v1/offers', offer);
      this.#offers.set(offerId, offer);
      this.#loops.push(this.#offerLoop(offerId, offer));
    }
    this.#loops.push(this.#agreementLoop());
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled(this.#loops);
    for (const offerId of this.#offers.keys())
      await this.#api.delete(`/market-api/v1/offers/${offerId}`).catch(() => undefined);
  }

  async #offerLoop(
    offerId: string,
    offer: { properties: Record<string, unknown>; constraints: string },
  ): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let events: ProviderEvent[];
      try {
        events = await this.#api.get<ProviderEvent[]>(
          `/market-api/v1/offers/${offerId}/events?timeout=5&maxEvents=50`,
          { signal },
        );
      } catch (error) {
        if (signal.aborted) return;
        this.#options.logger.warn('offer events failed', { offerId, error: String(error) });
        await sleep(1000, signal);
        continue;
      }
      for (const event of events) {
        try {
          if (event.eventType === 'ProposalEvent' && event.proposal?.state === 'Draft')
            await this.#api.post(
              `/market-api/v1/offers/${offerId}/proposals/${event.proposal.proposalId}`,
              offer,
            );
          else if (event.eventType === 'AgreementEvent' && event.agreement !== undefined) {
            const { agreementId } = event.agreement;
            await this.#api.post(`/market-api/v1/agreements/${agreementId}/approve?timeout=10`);
            this.#approved.add(agreementId);
            this.#options.logger.info('agreement approved', { agreementId });
          }
        } catch (error) {
          // A requestor that gave up on a proposal or an agreement in between: nothing to do.
          this.#options.logger.debug('negotiation step refused', { error: String(error) });
        }
      }
    }
  }

  async #agreementLoop(): Promise<void> {
    const signal = this.#stop.signal;
    let after = new Date().toISOString();
    while (!signal.aborted) {
      let events: ProviderEvent[];
      try {
        events = await this.#api.get<ProviderEvent[]>(
          `/market-api/v1/agreementEvents?timeout=5&afterTimestamp=${encodeURIComponent(after)}`,
          { signal },
        );
      } catch (error) {
        if (signal.aborted) return;
        this.#options.logger.warn('agreement events failed', { error: String(error) });
        await sleep(1000, signal);
        continue;
      }
      for (const event of events) {
        after = event.eventDate;
        if (event.eventType !== 'AgreementTerminatedEvent' || event.agreementId === undefined) continue;
        await this.#invoice(event.agreementId).catch((error) =>
          this.#options.logger.warn('invoice failed', {
            agreementId: event.agreementId,
            error: String(error),
          }),
        );
      }
    }
  }

  /** The invoice of an ended agreement: start price plus each activity's usage priced by the coefficients. */
  async #invoice(agreementId: string): Promise<void> {
    if (this.#invoiced.has(agreementId) || !this.#approved.has(agreementId)) return;
    this.#invoiced.add(agreementId);
    const activityIds = await this.#api
      .get<string[]>(`/activity-api/v1/activity?agreementId=${agreementId}`)
      .catch(() => [] as string[]);
    let amount = LINEAR_COEFFS.at(-1)!;
    for (const activityId of activityIds) {
      const usage = await this.#api
        .get<{ currentUsage?: number[] }>(`/activity-api/v1/activity/${activityId}/usage`)
        .catch(() => ({ currentUsage: [] as number[] }));
      (usage.currentUsage ?? []).forEach((value, i) => {
        amount += (LINEAR_COEFFS[i] ?? 0) * (Number.isFinite(value) ? value : 0);
      });
    }
    const invoice = await this.#api.post<{ invoiceId: string }>('/payment-api/v1/invoices', {
      agreementId,
      activityIds,
      amount: amount.toFixed(12),
      paymentDueDate: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await this.#api.post(`/payment-api/v1/invoices/${invoice.invoiceId}/send?timeout=15`);
    this.#options.logger.info('invoice sent', { agreementId, amount: amount.toFixed(12) });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
