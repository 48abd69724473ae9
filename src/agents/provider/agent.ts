/**
 * The provider agent (ya-provider's role) over the daemon's REST API only:
 * - offers: one per active preset whose runtime passed its self-test, re-subscribed when the daemon drops it;
 * - market: proposals answered by the negotiator (counter or reject with a reason), agreements approved when
 *   every component is ready on their exact terms;
 * - agreements: activities watched, debit notes at the negotiated interval (cost = linear price of the usage),
 *   deadlines for acceptance and payment, idle timeout and expiration, termination with Golem's reasons, the
 *   invoice after every end (the sum of the activities' final costs), then invoices followed until settled.
 * The agent keeps no state of its own: the daemon's agreements, debit notes and invoices are the truth, so a
 * restart of either picks up where it was (the invoice of an agreement is looked up before one is issued).
 */
import { randomBytes } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import { errorMessage, isGolemError } from '../../core/errors/index.ts';
import type { Logger } from '../../core/log/index.ts';
import { apiCode, apiStatus, type DaemonApi } from './api.ts';
import { ProviderErrorCode } from './errors.ts';
import { formatUnits, linearCost, toUnits } from './money.ts';
import { flat, negotiate, type Props } from './negotiator.ts';
import { type BuiltOffer, buildOffer, COEFFS, NEGOTIABLE } from './offer.ts';
import { discoverRuntimes, type RuntimeInfo } from './runtimes.ts';
import type { Globals, SettingsStore } from './settings.ts';

/** Golem's `golem.provider.code` values of a provider's termination. */
export const BreakReason = {
  Success: 'Success',
  InitializationError: 'InitializationError',
  Expired: 'Expired',
  NoActivity: 'NoActivity',
  DebitNotesDeadline: 'DebitNotesDeadline',
  DebitNoteNotPaid: 'DebitNoteNotPaid',
  RequestorUnreachable: 'RequestorUnreachable',
  Shutdown: 'Shutdown',
} as const;
export type BreakReason = (typeof BreakReason)[keyof typeof BreakReason];

export interface AgentOptions {
  api: DaemonApi;
  settings: SettingsStore;
  exeUnitPath: string[];
  log: Logger;
  /** How often agreements are looked after (ms). */
  tickMs?: number;
  /** Long-poll of offer events (s). */
  eventsTimeoutS?: number;
  /** Called whenever what `status` shows changed. */
  onStatus?: (status: AgentStatus) => void;
  /** Quiet time after a settings file changed before it is applied (ms; ya-provider waits 3 s). */
  reloadDebounceMs?: number;
}

export interface OfferStatus {
  subscriptionId: string;
  preset: string;
  runtime: string;
}

export interface AgentStatus {
  sessionId: string;
  nodeId: string;
  runtimes: { name: string; version: string; offered: boolean; selfTest: RuntimeInfo['selfTest'] }[];
  offers: OfferStatus[];
  /** The settings in force, and why the last change of the files was not applied (null once one is). */
  settings: { nodeName: string | null; subnet: string; error: string | null };
  updatedAt: string;
}

interface DebitNote {
  debitNoteId: string;
  activityId: string;
  agreementId: string;
  totalAmountDue: string;
  status: string;
  timestamp: string;
  paymentDueDate?: string | null;
  issuerId: string;
}

interface Invoice {
  invoiceId: string;
  agreementId: string;
  amount: string;
  status: string;
  timestamp: string;
  issuerId: string;
}

interface NoteTrack {
  id: string;
  activityId: string;
  /** When it went out (ms); undefined while the requestor has not acknowledged it. */
  sentAt: number | undefined;
  issuedAt: number;
  dueAt: number | undefined;
  accepted: boolean;
  settled: boolean;
}

interface ActivityTrack {
  id: string;
  ended: boolean;
  /** The cost of the final debit note once issued (10^-18 units). */
  finalCost: bigint | undefined;
  lastTotal: bigint;
  nextTickAt: number;
}

interface AgreementTrack {
  id: string;
  requestorId: string;
  approvedAt: number;
  expiresAt: number;
  multiActivity: boolean;
  coeffs: number[];
  intervalS: number;
  acceptTimeoutS: number | undefined;
  paymentTimeoutS: number | undefined;
  activities: Map<string, ActivityTrack>;
  /** Activities ended by us unbilled: a single-activity agreement's activities after its first. */
  refused: Set<string>;
  notes: NoteTrack[];
  lastPayableAt: number;
  idleSince: number;
  /** Set once the agreement is to end: by us with a reason, or by the requestor. */
  closing: { by: 'provider' | 'requestor'; code: string; message: string } | undefined;
  terminated: boolean;
  /** When we learnt the agreement ended: its activities' ends are waited for from then. */
  terminatedAt: number | undefined;
  retryAt: number;
  retryDelayMs: number;
  invoiceId: string | undefined;
  invoiceSent: boolean;
}

const DEFAULT_INTERVAL_S = 120;
const INVOICE_DUE_DEFAULT_S = 86_400;
const SEND_TIMEOUT_S = 5;
const RECOVER_EVERY_MS = 30_000;
/** Longest the bill of an ended agreement waits for the daemon to end its ExeUnits (their usage to the end). */
const ACTIVITY_END_WAIT_MS = 30_000;
/** What the requestor reads in the state of an activity the agreement does not allow (ya-provider's words). */
export const SINGLE_ACTIVITY_REASON = 'Only single Activity allowed';

interface PresetOffer {
  preset: string;
  runtime: string;
  offer: BuiltOffer;
}

/** An offer's terms, without the moment it was built at (the expiration constraint). */
function offerTerms(offer: BuiltOffer): string {
  return JSON.stringify([offer.properties, offer.constraints.replace(/expiration>\d+/, 'expiration>')]);
}

export class ProviderAgent {
  readonly sessionId: string;
  #api: DaemonApi;
  #settings: SettingsStore;
  #options: AgentOptions;
  #log: Logger;
  #globals!: Globals;
  #nodeId = '';
  #runtimes: RuntimeInfo[] = [];
  #offers = new Map<string, PresetOffer>();
  #agreements = new Map<string, AgreementTrack>();
  /** Agreements done with (invoiced, or never approved): not taken up again by the recovery. */
  #finished = new Set<string>();
  #running = false;
  #daemonDown = false;
  #stop = new AbortController();
  #loops: Promise<void>[] = [];
  #watcher: FSWatcher | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;
  /** Reloads run one after another. */
  #reloading: Promise<void> = Promise.resolve();
  #settingsError: string | null = null;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#api = options.api;
    this.#settings = options.settings;
    this.#log = options.log;
    this.sessionId = `golemsp-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  get runtimes(): readonly RuntimeInfo[] {
    return this.#runtimes;
  }

  status(): AgentStatus {
    const offered = new Set([...this.#offers.values()].map((o) => o.runtime));
    return {
      sessionId: this.sessionId,
      nodeId: this.#nodeId,
      runtimes: this.#runtimes.map((r) => ({
        name: r.name,
        version: r.version,
        offered: offered.has(r.name),
        selfTest: r.selfTest,
      })),
      offers: [...this.#offers].map(([subscriptionId, o]) => ({
        subscriptionId,
        preset: o.preset,
        runtime: o.runtime,
      })),
      settings: {
        nodeName: this.#globals.nodeName,
        subnet: this.#globals.subnet,
        error: this.#settingsError,
      },
      updatedAt: new Date().toISOString(),
    };
  }

  async start(): Promise<void> {
    this.#globals = this.#settings.globals();
    const me = await this.#api.get<{ identity: string }>('/me');
    this.#nodeId = me.identity.toLowerCase();
    this.#runtimes = await discoverRuntimes(this.#options.exeUnitPath);
    for (const runtime of this.#runtimes)
      if (!runtime.selfTest.ok)
        this.#log.warn('runtime failed its self-test; not offered', {
          runtime: runtime.name,
          reason: runtime.selfTest.reason,
        });
    this.#running = true;
    await this.#recover();
    // Offers of an earlier run of this node are replaced: their events would have nobody to read them.
    for (const old of await this.#api.get<{ id?: string; offerId?: string }[]>('/market-api/v1/offers')) {
      const id = old.offerId ?? old.id;
      if (id !== undefined) await this.#api.delete(`/market-api/v1/offers/${id}`).catch(() => {});
    }
    for (const wanted of this.#buildOffers(this.#globals)) await this.#subscribe(wanted);
    if (this.#offers.size === 0)
      this.#log.warn('nothing is offered: no active preset with a working runtime');
    this.#publishStatus();
    this.#loops.push(this.#tickLoop());
    this.#watchSettings();
  }

  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#stop.abort();
    this.#watcher?.close();
    clearTimeout(this.#reloadTimer);
    await this.#reloading;
    await Promise.allSettled(this.#loops);
    // Agreements are not broken: a restarted agent (or daemon) takes them up again.
    await Promise.allSettled(
      [...this.#offers.keys()].map((id) => this.#api.delete(`/market-api/v1/offers/${id}`)),
    );
    this.#offers.clear();
  }

  #publishStatus(): void {
    this.#options.onStatus?.(this.status());
  }

  // ------------------------------------------------------------------ offers

  /** One offer per active preset whose runtime passed its self-test; throws on settings that do not parse. */
  #buildOffers(globals: Globals): PresetOffer[] {
    const presets = this.#settings.presets(this.#runtimes.filter((r) => r.selfTest.ok).map((r) => r.name));
    const hardware = this.#settings.activeProfile();
    const payee = globals.account ?? this.#nodeId;
    const offers: PresetOffer[] = [];
    for (const name of presets.active) {
      const preset = presets.presets.find((p) => p.name === name);
      const runtime = this.#runtimes.find((r) => r.name === preset?.['exeunit-name']);
      if (preset === undefined || runtime === undefined) {
        this.#log.warn('active preset names no known runtime', { preset: name });
        continue;
      }
      if (!runtime.selfTest.ok) continue;
      const offer = buildOffer({ preset, runtime, globals, hardware, payee });
      offers.push({ preset: preset.name, runtime: runtime.name, offer });
    }
    return offers;
  }

  async #subscribe(wanted: PresetOffer): Promise<void> {
    const id = await this.#api.post<string>('/market-api/v1/offers', wanted.offer);
    this.#offers.set(id, wanted);
    this.#log.info('offer subscribed', {
      subscriptionId: id,
      preset: wanted.preset,
      runtime: wanted.runtime,
    });
    this.#loops.push(this.#offerLoop(id));
  }

  async #unsubscribe(subscriptionId: string): Promise<void> {
    const known = this.#offers.get(subscriptionId);
    // Forgotten first: its events loop ends and nothing more is answered on it.
    this.#offers.delete(subscriptionId);
    try {
      await this.#api.delete(`/market-api/v1/offers/${subscriptionId}`);
    } catch (error) {
      if (apiStatus(error) !== 404 && apiStatus(error) !== 410) throw error;
    }
    this.#log.info('offer unsubscribed', { subscriptionId, preset: known?.preset });
  }

  // ------------------------------------------------------------------ settings reload

  /**
   * ya-provider watches its settings files and applies them while it runs; so does this agent: `golemsp settings
   * set`, `preset …` and `profile …` write the files, and a change is applied after a quiet moment. Running
   * agreements keep the terms they were signed with (their tracks come from the agreements themselves).
   */
  #watchSettings(): void {
    const store = this.#settings;
    const files = new Set([store.globalsPath, store.presetsPath, store.hardwarePath].map((p) => basename(p)));
    try {
      this.#watcher = watch(store.dir, (_event, filename) => {
        // The store writes a temp file and renames it: the rename lands on the real name.
        if (filename === null || !files.has(String(filename))) return;
        clearTimeout(this.#reloadTimer);
        this.#reloadTimer = setTimeout(() => {
          this.#reloading = this.#reloading.then(() => this.#reload());
        }, this.#options.reloadDebounceMs ?? 1000);
      });
      this.#watcher.on('error', (error) =>
        this.#log.warn('settings are no longer watched', { error: errorMessage(error) }),
      );
    } catch (error) {
      this.#log.warn('settings are not watched; changes apply at the next start', {
        error: errorMessage(error),
      });
    }
  }

  /** Settings read again; an offer whose terms changed is replaced (new subscribed, old unsubscribed). */
  async #reload(): Promise<void> {
    if (!this.#running) return;
    let globals: Globals;
    let wanted: PresetOffer[];
    try {
      globals = this.#settings.globals();
      wanted = this.#buildOffers(globals);
    } catch (error) {
      this.#settingsError = errorMessage(error);
      this.#log.error('settings not applied; the previous ones stay in force', {
        error: this.#settingsError,
      });
      this.#publishStatus();
      return;
    }
    this.#globals = globals;
    this.#settingsError = null;
    const current = new Map(
      [...this.#offers].map(([id, o]) => [o.preset, { id, terms: offerTerms(o.offer) }]),
    );
    let changed = false;
    try {
      for (const offer of wanted) {
        const old = current.get(offer.preset);
        current.delete(offer.preset);
        if (old?.terms === offerTerms(offer.offer)) continue;
        changed = true;
        await this.#subscribe(offer);
        if (old !== undefined) await this.#unsubscribe(old.id);
      }
      for (const { id } of current.values()) {
        changed = true;
        await this.#unsubscribe(id);
      }
    } catch (error) {
      this.#logFailure('re-publishing the offers failed', error, {});
    }
    if (changed) this.#log.info('settings applied; offers re-published', { offers: this.#offers.size });
    else this.#log.info('settings applied; the offers are unchanged');
    this.#publishStatus();
  }

  async #offerLoop(subscriptionId: string): Promise<void> {
    const timeout = this.#options.eventsTimeoutS ?? 5;
    while (this.#running && this.#offers.has(subscriptionId)) {
      let events: Record<string, unknown>[];
      try {
        events = await this.#api.get(
          `/market-api/v1/offers/${subscriptionId}/events?timeout=${timeout}&maxEvents=10`,
          {
            waitMs: timeout * 1000,
            signal: this.#stop.signal,
          },
        );
      } catch (error) {
        if (!this.#running) return;
        if (apiStatus(error) === 404 || apiStatus(error) === 410) {
          // The subscription expired or is gone: offer the same again (unless we withdrew it ourselves).
          const known = this.#offers.get(subscriptionId);
          if (known === undefined) return;
          this.#offers.delete(subscriptionId);
          const offer = {
            ...known.offer,
            constraints: known.offer.constraints.replace(/expiration>\d+/, `expiration>${Date.now()}`),
          };
          await this.#subscribe({ ...known, offer }).catch((e) =>
            this.#log.error('re-subscribing failed', { error: errorMessage(e) }),
          );
          this.#publishStatus();
          return;
        }
        this.#logFailure('offer events failed', error, { subscriptionId });
        await this.#sleep(2000);
        continue;
      }
      for (const event of events) {
        try {
          await this.#onOfferEvent(subscriptionId, event);
        } catch (error) {
          this.#log.warn('offer event not handled', {
            eventType: event.eventType,
            error: errorMessage(error),
          });
        }
      }
    }
  }

  #held(): number {
    return [...this.#agreements.values()].filter((a) => a.closing === undefined).length;
  }

  async #onOfferEvent(subscriptionId: string, event: Record<string, unknown>): Promise<void> {
    const base = `/market-api/v1/offers/${subscriptionId}`;
    if (event.eventType === 'ProposalEvent') {
      const proposal = event.proposal as {
        proposalId: string;
        properties: unknown;
        constraints: string;
        issuerId: string;
        prevProposalId?: string;
        state: string;
      };
      if (proposal.issuerId.toLowerCase() === this.#nodeId) return;
      const own = this.#offers.get(subscriptionId)?.offer;
      // A withdrawn offer (the settings changed) negotiates no more.
      if (own === undefined) return;
      let current: Props = own.properties;
      if (proposal.prevProposalId !== undefined) {
        try {
          const previous = await this.#api.get<{ properties: unknown }>(
            `${base}/proposals/${proposal.prevProposalId}`,
          );
          current = flat(previous.properties);
        } catch {
          current = own.properties;
        }
      }
      const verdict = negotiate({
        demand: {
          properties: flat(proposal.properties),
          constraints: proposal.constraints,
          requestorId: proposal.issuerId,
        },
        offer: { properties: current, constraints: own.constraints },
        settings: this.#globals.negotiation,
        agreementsHeld: this.#held(),
        now: Date.now(),
      });
      if (verdict.kind === 'reject') {
        this.#log.info('proposal rejected', { proposalId: proposal.proposalId, reason: verdict.message });
        await this.#api.post(`${base}/proposals/${proposal.proposalId}/reject`, {
          message: verdict.message,
          'golem.proposal.rejection.is-final': verdict.final,
        });
        return;
      }
      const properties = verdict.kind === 'counter' ? verdict.properties : current;
      await this.#api.post(`${base}/proposals/${proposal.proposalId}`, {
        properties,
        constraints: own.constraints,
      });
      return;
    }
    if (event.eventType === 'AgreementEvent')
      await this.#onAgreementProposed(event.agreement as AgreementJson);
    if (event.eventType === 'ProposalRejectedEvent')
      this.#log.info('our proposal was rejected', { proposalId: event.proposalId, reason: event.reason });
  }

  async #onAgreementProposed(agreement: AgreementJson): Promise<void> {
    const path = `/market-api/v1/agreements/${agreement.agreementId}`;
    const offer = flat(agreement.offer.properties);
    const verdict = negotiate({
      demand: {
        properties: flat(agreement.demand.properties),
        constraints: agreement.demand.constraints,
        requestorId: agreement.demand.requestorId,
      },
      offer: { properties: offer, constraints: agreement.offer.constraints },
      settings: this.#globals.negotiation,
      agreementsHeld: this.#held(),
      now: Date.now(),
    });
    if (verdict.kind !== 'ready') {
      const message =
        verdict.kind === 'reject'
          ? verdict.message
          : `The agreement's terms were not negotiated: ${verdict.changed.join(', ')}`;
      this.#log.info('agreement rejected', { agreementId: agreement.agreementId, reason: message });
      await this.#api.post(`${path}/reject`, {
        message,
        'golem.proposal.rejection.is-final': verdict.kind === 'reject' ? verdict.final : false,
      });
      return;
    }
    // The slot is taken before the approval goes out, so two agreements cannot both take the last one.
    const track = this.#track(agreement, Date.now());
    this.#agreements.set(track.id, track);
    try {
      await this.#api.post(`${path}/approve?appSessionId=${this.sessionId}&timeout=10`, undefined, {
        waitMs: 10_000,
      });
    } catch (error) {
      // The answer may be lost while the approval went through: what the daemon holds decides.
      const state = await this.#api
        .get<AgreementJson>(path)
        .then((view) => view.state)
        .catch(() => 'unknown');
      if (state !== 'Approved') {
        this.#agreements.delete(track.id);
        this.#log.warn('approval failed', { agreementId: track.id, state, error: errorMessage(error) });
        return;
      }
    }
    try {
      const view = await this.#api.get<AgreementJson>(path);
      if (view.approvedDate !== undefined && view.approvedDate !== null)
        track.approvedAt = Date.parse(view.approvedDate);
    } catch {
      // keep the local time
    }
    this.#log.info('agreement approved', { agreementId: track.id, requestorId: track.requestorId });
  }

  #track(agreement: AgreementJson, approvedAt: number): AgreementTrack {
    const demand = flat(agreement.demand.properties);
    const offer = flat(agreement.offer.properties);
    const number = (value: unknown) =>
      typeof value === 'number' ? value : value === undefined ? undefined : Number(value);
    const expires = number(demand['golem.srv.comp.expiration']) ?? Date.parse(agreement.validTo);
    return {
      id: agreement.agreementId,
      requestorId: agreement.demand.requestorId.toLowerCase(),
      approvedAt,
      expiresAt: Math.min(expires, Date.parse(agreement.validTo) || expires),
      multiActivity: demand['golem.srv.caps.multi-activity'] === true,
      coeffs: (offer[COEFFS] as number[]) ?? [],
      intervalS: number(offer[NEGOTIABLE.debitNoteInterval]) ?? DEFAULT_INTERVAL_S,
      acceptTimeoutS: number(offer[NEGOTIABLE.acceptTimeout]),
      paymentTimeoutS: number(offer[NEGOTIABLE.paymentTimeout]),
      activities: new Map(),
      refused: new Set(),
      notes: [],
      lastPayableAt: approvedAt,
      idleSince: Date.now(),
      closing: undefined,
      terminated: false,
      terminatedAt: undefined,
      retryAt: 0,
      retryDelayMs: 5000,
      invoiceId: undefined,
      invoiceSent: false,
    };
  }

  // ------------------------------------------------------------------ recovery

  /** Agreements of this node that are not finished with: approved ones are watched again, ended ones invoiced. */
  async #recover(): Promise<void> {
    const listed = await this.#api.get<{ id: string; role: string }[]>('/market-api/v1/agreements');
    const provided = listed.filter(
      (a) => a.role === 'Provider' && !this.#agreements.has(a.id) && !this.#finished.has(a.id),
    );
    if (provided.length === 0) return;
    const invoices = (await this.#all<Invoice>('/payment-api/v1/invoices')).filter(
      (i) => i.issuerId.toLowerCase() === this.#nodeId,
    );
    const notes = (await this.#all<DebitNote>('/payment-api/v1/debitNotes')).filter(
      (n) => n.issuerId.toLowerCase() === this.#nodeId,
    );
    for (const { id } of provided) {
      const agreement = await this.#api.get<AgreementJson>(`/market-api/v1/agreements/${id}`);
      if (agreement.state === 'Proposal' || agreement.state === 'Pending') continue;
      const invoice = invoices.find((i) => i.agreementId === id);
      if (
        (agreement.state !== 'Approved' && agreement.state !== 'Terminated') ||
        (agreement.state === 'Terminated' && invoice !== undefined && invoice.status !== 'ISSUED') ||
        // Terminated before it was ever approved here has nothing to bill.
        (agreement.state === 'Terminated' && (agreement.approvedDate ?? null) === null)
      ) {
        this.#finished.add(id);
        continue;
      }
      const track = this.#track(agreement, Date.parse(agreement.approvedDate ?? agreement.timestamp));
      for (const note of notes.filter((n) => n.agreementId === id)) {
        const activity = this.#activity(track, note.activityId);
        const total = toUnits(note.totalAmountDue);
        if (total > activity.lastTotal) activity.lastTotal = total;
        const due = note.paymentDueDate ? Date.parse(note.paymentDueDate) : undefined;
        if (due !== undefined)
          track.lastPayableAt = Math.max(track.lastPayableAt, Date.parse(note.timestamp));
        const unsent = note.status === 'ISSUED';
        // A note issued but not sent when the agent stopped goes out now; its deadline counts from now.
        if (unsent) void this.#send('debitNotes', note.debitNoteId);
        track.notes.push({
          id: note.debitNoteId,
          activityId: note.activityId,
          issuedAt: unsent ? Date.now() : Date.parse(note.timestamp),
          sentAt: unsent ? undefined : Date.parse(note.timestamp),
          dueAt: due,
          accepted: note.status === 'ACCEPTED' || note.status === 'SETTLED',
          settled: note.status === 'SETTLED',
        });
      }
      if (invoice !== undefined) track.invoiceId = invoice.invoiceId;
      if (agreement.state === 'Terminated') {
        track.terminated = true;
        track.closing = {
          by: 'requestor',
          code: 'Terminated',
          message: 'terminated before the agent restarted',
        };
      }
      this.#agreements.set(id, track);
      this.#log.info('agreement taken up again', { agreementId: id, state: agreement.state });
    }
  }

  async #all<T extends { timestamp: string }>(path: string): Promise<T[]> {
    const out: T[] = [];
    let after = '';
    for (;;) {
      const page = await this.#api.get<T[]>(
        `${path}?maxItems=1000${after === '' ? '' : `&afterTimestamp=${encodeURIComponent(after)}`}`,
      );
      out.push(...page);
      if (page.length < 1000) return out;
      after = page.at(-1)!.timestamp;
    }
  }

  #activity(track: AgreementTrack, id: string): ActivityTrack {
    let activity = track.activities.get(id);
    if (activity === undefined) {
      activity = {
        id,
        ended: false,
        finalCost: undefined,
        lastTotal: 0n,
        nextTickAt: this.#nextTick(track, Date.now()),
      };
      track.activities.set(id, activity);
    }
    return activity;
  }

  /** The next multiple of the interval after the approval that is not in the past. */
  #nextTick(track: AgreementTrack, now: number): number {
    const interval = track.intervalS * 1000;
    const k = Math.max(1, Math.ceil((now - track.approvedAt) / interval));
    return track.approvedAt + k * interval;
  }

  // ------------------------------------------------------------------ agreements

  async #tickLoop(): Promise<void> {
    const tick = this.#options.tickMs ?? 1000;
    let recoveredAt = Date.now();
    while (this.#running) {
      // A safety net: an agreement the daemon holds approved is never left unwatched (a lost approval answer).
      if (Date.now() - recoveredAt >= RECOVER_EVERY_MS) {
        recoveredAt = Date.now();
        await this.#recover().catch((error) =>
          this.#log.warn('recovery failed', { error: errorMessage(error) }),
        );
      }
      await Promise.all(
        [...this.#agreements.values()].map((track) =>
          this.#look(track)
            .then(() => {
              this.#daemonDown = false;
            })
            .catch((error) => this.#logFailure('agreement step failed', error, { agreementId: track.id })),
        ),
      );
      await this.#sleep(tick);
    }
  }

  async #look(track: AgreementTrack): Promise<void> {
    const now = Date.now();
    if (track.closing === undefined) {
      const view = await this.#api.get<AgreementJson>(`/market-api/v1/agreements/${track.id}`);
      if (view.state === 'Terminated') {
        track.terminated = true;
        track.closing = { by: 'requestor', code: 'Terminated', message: 'terminated by the requestor' };
        this.#log.info('the requestor terminated the agreement', { agreementId: track.id });
      } else if (view.state === 'Pending') {
        // The approval is still on its way (the track is taken before it goes out): look again next tick.
        // Dropping it here lost the agreement for good, and golem-js then waited forever for its invoice.
        return;
      } else if (view.state !== 'Approved') {
        // Never approved after all (expired or cancelled while approving): nothing to bill.
        this.#agreements.delete(track.id);
        return;
      }
    }
    if (track.closing === undefined) await this.#running_(track, now);
    if (track.closing !== undefined) await this.#close(track, now);
  }

  /**
   * The agreement's activities taken into account. The agent enforces the agreement's terms itself, as
   * ya-provider does: without `golem.srv.caps.multi-activity` in the demand only the first activity (the daemon
   * lists them in creation order) runs; any other is set Terminated with ya-provider's reason, which the requestor
   * reads in its state, and is never billed.
   */
  async #listActivities(track: AgreementTrack): Promise<void> {
    const ids = await this.#api.get<string[]>(`/activity-api/v1/activity?agreementId=${track.id}`);
    for (const id of ids) {
      if (track.activities.has(id) || track.refused.has(id)) continue;
      if (track.multiActivity || track.activities.size === 0) {
        this.#activity(track, id);
        continue;
      }
      await this.#api.call('PUT', `/activity-api/v1/activity/${id}/state`, {
        state: ['Terminated', null],
        reason: SINGLE_ACTIVITY_REASON,
        errorMessage: `agreement ${track.id} allows one activity (the demand has no golem.srv.caps.multi-activity)`,
      });
      track.refused.add(id);
      this.#log.info('a second activity on a single-activity agreement ended', {
        agreementId: track.id,
        activityId: id,
      });
    }
  }

  async #running_(track: AgreementTrack, now: number): Promise<void> {
    await this.#listActivities(track);
    let live = 0;
    for (const activity of track.activities.values()) {
      if (activity.ended) continue;
      const state = await this.#api.get<{ state: [string, string | null] }>(
        `/activity-api/v1/activity/${activity.id}/state`,
      );
      if (state.state[0] === 'Terminated') {
        activity.ended = true;
        track.idleSince = now;
        await this.#finalNote(track, activity);
        continue;
      }
      live++;
      if (now >= activity.nextTickAt) {
        await this.#debitNote(track, activity, false);
        activity.nextTickAt = this.#nextTick(track, now + 1);
      }
    }
    await this.#refreshNotes(track, now);
    if (this.#deadlines(track, now)) return;
    if (now >= track.expiresAt) return this.#break(track, BreakReason.Expired, 'The agreement expired');
    if (live > 0) {
      track.idleSince = now;
      return;
    }
    if (!track.multiActivity && [...track.activities.values()].some((a) => a.finalCost !== undefined)) {
      track.closing = { by: 'provider', code: BreakReason.Success, message: 'Finished with success.' };
      return;
    }
    const idleS = this.#globals.negotiation.idleAgreementTimeoutS;
    if (now - track.idleSince >= idleS * 1000)
      this.#break(track, BreakReason.NoActivity, `No activity created within ${idleS} s`);
  }

  /** Acceptance and payment deadlines of the debit notes sent; true when one broke the agreement. */
  #deadlines(track: AgreementTrack, now: number): boolean {
    for (const note of track.notes) {
      if (
        track.acceptTimeoutS !== undefined &&
        !note.accepted &&
        now > note.issuedAt + track.acceptTimeoutS * 1000
      ) {
        const later = track.notes.some(
          (n) => n.activityId === note.activityId && n.accepted && n.issuedAt >= note.issuedAt,
        );
        if (later) {
          note.accepted = true;
          continue;
        }
        // The latest note not delivered means the requestor is gone, not merely slow.
        if (track.notes.at(-1)!.sentAt === undefined)
          this.#break(
            track,
            BreakReason.RequestorUnreachable,
            `Requestor unreachable: debit note ${note.id} not delivered within ${track.acceptTimeoutS} s`,
          );
        else
          this.#break(
            track,
            BreakReason.DebitNotesDeadline,
            `Requestor isn't accepting DebitNotes in time (${track.acceptTimeoutS} s)`,
          );
        return true;
      }
      if (note.dueAt !== undefined && !note.settled && now > note.dueAt) {
        const later = track.notes.some(
          (n) => n.activityId === note.activityId && n.settled && n.issuedAt >= note.issuedAt,
        );
        if (later) {
          note.settled = true;
          continue;
        }
        this.#break(
          track,
          BreakReason.DebitNoteNotPaid,
          `Requestor didn't pay debit note ${note.id} by ${new Date(note.dueAt).toISOString()}`,
        );
        return true;
      }
    }
    return false;
  }

  /** Asks the daemon what became of the notes whose deadline passed (only those: the rest can wait). */
  async #refreshNotes(track: AgreementTrack, now: number): Promise<void> {
    for (const note of track.notes) {
      const acceptDue =
        !note.accepted &&
        track.acceptTimeoutS !== undefined &&
        now > note.issuedAt + track.acceptTimeoutS * 1000;
      const payDue = !note.settled && note.dueAt !== undefined && now > note.dueAt;
      if (!acceptDue && !payDue && note.sentAt !== undefined) continue;
      const doc = await this.#api
        .get<DebitNote>(`/payment-api/v1/debitNotes/${note.id}`)
        .catch(() => undefined);
      if (doc === undefined) continue;
      if (doc.status !== 'ISSUED' && note.sentAt === undefined) note.sentAt = Date.now();
      if (doc.status === 'ACCEPTED' || doc.status === 'SETTLED') note.accepted = true;
      if (doc.status === 'SETTLED') note.settled = true;
    }
  }

  #break(track: AgreementTrack, code: BreakReason, message: string): void {
    if (track.closing !== undefined) return;
    this.#log.info('breaking the agreement', { agreementId: track.id, code, message });
    track.closing = { by: 'provider', code, message };
  }

  async #usageCost(
    track: AgreementTrack,
    activity: ActivityTrack,
  ): Promise<{ cost: bigint; usage: number[] }> {
    const usage = await this.#api.get<{ currentUsage: number[] | null }>(
      `/activity-api/v1/activity/${activity.id}/usage`,
    );
    const vector = usage.currentUsage ?? [];
    let cost = linearCost(track.coeffs, vector);
    // Debit notes are cumulative: never below what was already asked.
    if (cost < activity.lastTotal) cost = activity.lastTotal;
    return { cost, usage: vector };
  }

  async #debitNote(track: AgreementTrack, activity: ActivityTrack, final: boolean): Promise<void> {
    const { cost, usage } = await this.#usageCost(track, activity);
    const now = Date.now();
    let dueAt: number | undefined;
    if (
      track.paymentTimeoutS !== undefined &&
      (final || track.lastPayableAt + track.paymentTimeoutS * 1000 <= now)
    )
      dueAt = now + track.paymentTimeoutS * 1000;
    const note = await this.#api.post<DebitNote>('/payment-api/v1/debitNotes', {
      activityId: activity.id,
      totalAmountDue: formatUnits(cost),
      usageCounterVector: usage,
      ...(dueAt === undefined ? {} : { paymentDueDate: new Date(dueAt).toISOString() }),
    });
    activity.lastTotal = cost;
    if (dueAt !== undefined) track.lastPayableAt = now;
    const tracked: NoteTrack = {
      id: note.debitNoteId,
      activityId: activity.id,
      issuedAt: now,
      sentAt: undefined,
      dueAt,
      accepted: false,
      settled: false,
    };
    track.notes.push(tracked);
    try {
      await this.#api.post(
        `/payment-api/v1/debitNotes/${note.debitNoteId}/send?timeout=${SEND_TIMEOUT_S}`,
        undefined,
        { waitMs: SEND_TIMEOUT_S * 1000 },
      );
      // The daemon answers once the note is queued; RECEIVED says the requestor acknowledged it.
      const sent = await this.#api.get<DebitNote>(`/payment-api/v1/debitNotes/${note.debitNoteId}`);
      if (sent.status !== 'ISSUED') tracked.sentAt = Date.now();
    } catch (error) {
      // The daemon keeps delivering it; the deadline decides.
      this.#log.warn('debit note not delivered yet', {
        debitNoteId: note.debitNoteId,
        error: errorMessage(error),
      });
    }
    this.#log.info(final ? 'final debit note' : 'debit note', {
      agreementId: track.id,
      activityId: activity.id,
      amount: formatUnits(cost),
    });
  }

  async #finalNote(track: AgreementTrack, activity: ActivityTrack): Promise<void> {
    if (activity.finalCost !== undefined) return;
    await this.#debitNote(track, activity, true);
    activity.finalCost = activity.lastTotal;
  }

  async #close(track: AgreementTrack, now: number): Promise<void> {
    if (now < track.retryAt) return;
    const closing = track.closing!;
    try {
      if (!track.terminated && closing.by === 'provider') {
        try {
          await this.#api.post(`/market-api/v1/agreements/${track.id}/terminate`, {
            message: closing.message,
            'golem.provider.code': closing.code,
          });
        } catch (error) {
          // Already ended on the other side: that is the end we wanted.
          if (apiStatus(error) !== 410 && apiStatus(error) !== 409) throw error;
          this.#log.info('agreement already ended', { agreementId: track.id, code: apiCode(error) });
        }
        track.terminated = true;
        this.#log.info('agreement terminated', {
          agreementId: track.id,
          code: closing.code,
          message: closing.message,
        });
      }
      track.terminatedAt ??= Date.now();
      // Activities of an ended agreement are ended by the daemon, which keeps the usage they reached: each is
      // billed once it ended (or after a bounded wait), so the bill covers the usage up to the end.
      await this.#listActivities(track);
      for (const activity of track.activities.values()) {
        if (activity.finalCost !== undefined) continue;
        if (!activity.ended) {
          const state = await this.#api.get<{ state: [string, string | null] }>(
            `/activity-api/v1/activity/${activity.id}/state`,
          );
          if (state.state[0] !== 'Terminated' && Date.now() < track.terminatedAt + ACTIVITY_END_WAIT_MS)
            return;
          activity.ended = true;
        }
        await this.#finalNote(track, activity);
      }
      await this.#invoice(track);
      this.#agreements.delete(track.id);
      this.#finished.add(track.id);
      track.retryDelayMs = 5000;
    } catch (error) {
      track.retryAt = Date.now() + track.retryDelayMs;
      track.retryDelayMs = Math.min(track.retryDelayMs * 1.5, 3600_000);
      this.#log.warn('closing the agreement failed; will retry', {
        agreementId: track.id,
        error: errorMessage(error),
      });
    }
  }

  async #invoice(track: AgreementTrack): Promise<void> {
    if (track.invoiceId === undefined) {
      // A restart between issuing and remembering must not issue a second one.
      const existing = (await this.#all<Invoice>('/payment-api/v1/invoices')).find(
        (i) => i.agreementId === track.id && i.issuerId.toLowerCase() === this.#nodeId,
      );
      if (existing !== undefined) track.invoiceId = existing.invoiceId;
    }
    if (track.invoiceId === undefined) {
      const amount = [...track.activities.values()].reduce(
        (sum, a) => sum + (a.finalCost ?? a.lastTotal),
        0n,
      );
      const dueS = track.paymentTimeoutS ?? INVOICE_DUE_DEFAULT_S;
      const invoice = await this.#api.post<Invoice>('/payment-api/v1/invoices', {
        agreementId: track.id,
        activityIds: [...track.activities.keys()],
        amount: formatUnits(amount),
        paymentDueDate: new Date(Date.now() + dueS * 1000).toISOString(),
      });
      track.invoiceId = invoice.invoiceId;
      this.#log.info('invoice issued', {
        agreementId: track.id,
        invoiceId: invoice.invoiceId,
        amount: formatUnits(amount),
      });
    }
    try {
      await this.#api.post(
        `/payment-api/v1/invoices/${track.invoiceId}/send?timeout=${SEND_TIMEOUT_S}`,
        undefined,
        { waitMs: SEND_TIMEOUT_S * 1000 },
      );
    } catch (error) {
      // Queued in the daemon's outbox, which keeps delivering it.
      this.#log.warn('invoice not delivered yet', { invoiceId: track.invoiceId, error: errorMessage(error) });
    }
    track.invoiceSent = true;
  }

  /** A daemon that is down (restarting) is expected now and then: said once per outage, not every tick. */
  #logFailure(message: string, error: unknown, fields: Record<string, unknown>): void {
    const down = isGolemError(error, ProviderErrorCode.Unreachable);
    if (down && this.#daemonDown) {
      this.#log.debug(message, { ...fields, error: errorMessage(error) });
      return;
    }
    this.#daemonDown = down;
    this.#log.warn(down ? 'the daemon is not reachable; retrying' : message, {
      ...fields,
      error: errorMessage(error),
    });
  }

  /** Hands a document to the daemon's outbox again (it keeps delivering what it was given). */
  async #send(kind: 'debitNotes' | 'invoices', id: string): Promise<void> {
    try {
      await this.#api.post(`/payment-api/v1/${kind}/${id}/send?timeout=${SEND_TIMEOUT_S}`, undefined, {
        waitMs: SEND_TIMEOUT_S * 1000,
      });
    } catch (error) {
      this.#log.warn('sending again failed', { kind, id, error: errorMessage(error) });
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#stop.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

export interface AgreementJson {
  agreementId: string;
  demand: { properties: unknown; constraints: string; requestorId: string };
  offer: { properties: unknown; constraints: string; providerId: string };
  validTo: string;
  state: string;
  timestamp: string;
  approvedDate?: string | null;
}
