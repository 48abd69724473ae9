/**
 * The activity module (yagna's activity service), both roles:
 * - requestor: REST calls become bus calls to the provider's node (`/net/<providerId>/activity/…`), acting as
 *   the agreement's requestor; the local row keeps the last known state and usage, so reads answer after the end;
 * - provider: `/public/activity/…` handlers check the authenticated caller against the agreement's requestor,
 *   spawn one ExeUnit process per activity and reach it at `/local/exeunit/<activityId>/…`; the ExeUnit reports
 *   state and usage to `/local/activity/…`. A supervisor that dies makes the activity `Unresponsive`, then
 *   `Terminated`; the agreement's end destroys its activities.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Notifier } from '../api/index.ts';
import type { Bus, CallContext, Unbind } from '../bus/index.ts';
import { LOCAL_CALLER } from '../bus/index.ts';
import type { NodeConfig } from '../config/index.ts';
import { controlSocketPath } from '../control/index.ts';
import { type Database, migrate } from '../db/index.ts';
import { GolemError, httpError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  ACTIVITY_EVENTS_TOPIC,
  type ActivityEvent,
  type ActivityInfo,
  ActivityLocalAddress,
  ActivityPublicAddress,
  type ActivityRef,
  type ActivityState,
  type ActivityUsage,
  type BatchRef,
  type CreateActivity,
  type ExecRequest,
  type ExeScriptCommandResult,
  type ExeScriptCommandState,
  ExeUnitMessage,
  exeUnitAddress,
  type GetActivity,
  type GetExecBatchResults,
  type RuntimeEvent,
  remoteActivityAddress,
  type SetActivityState,
  type SetActivityUsage,
} from '../model/activity.ts';
import { DEFAULT_EXE_UNIT_PATH, loadDescriptors } from '../model/exe-unit-descriptor.ts';
import { MAX_SCRIPT_BYTES } from '../model/exescript.ts';
import {
  AGREEMENT_EVENTS_TOPIC,
  type AgreementEvent,
  type AgreementView,
  MarketLocalAddress,
} from '../model/market.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { ActivityErrorCode } from './errors.ts';
import { activityMigrations } from './migrations.ts';
import { ExeUnitProcesses } from './processes.ts';
import { registerActivityRoutes } from './rest.ts';
import {
  type ActivityRow,
  ActivityStore,
  infoOf,
  isTerminated,
  type Role,
  stateOf,
  usageOf,
} from './store.ts';

/** Per-peer bounds of the provider's side. */
export interface ActivityLimits {
  /** Live activities of one agreement. */
  maxPerAgreement: number;
  /** Live activities of one requestor node. */
  maxPerRequestor: number;
  /** Longest a create may wait for the ExeUnit. */
  maxCreateWaitMs: number;
  /** Longest a results long-poll may wait. */
  maxWaitMs: number;
  /** Results polls and event streams one requestor node may hold open at once. */
  maxWaitsPerRequestor: number;
}

export const DEFAULT_ACTIVITY_LIMITS: ActivityLimits = {
  maxPerAgreement: 8,
  maxPerRequestor: 32,
  maxCreateWaitMs: 60_000,
  maxWaitMs: 300_000,
  maxWaitsPerRequestor: 64,
};

/** How long a stream of batch events may stay open (it ends with the batch, or when the client goes). */
const STREAM_TIMEOUT_MS = 24 * 3600_000;
/** Margin a remote call gets over the wait it asks the provider for. */
const CALL_MARGIN_MS = 5000;
const DEFAULT_CALL_TIMEOUT_MS = 5000;

export interface ActivityServiceOptions {
  /** Descriptor file patterns (Golem's `EXE_UNIT_PATH`). */
  exeUnitPath?: string[];
  limits?: Partial<ActivityLimits>;
  /** Extra environment of the ExeUnit processes. */
  exeUnitEnv?: Record<string, string>;
}

/** yagna's provider event (`GET /events`): `eventType` externally tagged, as yagna sends it. */
export interface ProviderEvent {
  activityId: string;
  agreementId: string;
  eventType: { CreateActivity: Record<string, never> } | { DestroyActivity: Record<string, never> };
  eventDate: string;
}

function randomId(): string {
  return randomBytes(16).toString('hex');
}

function clampMs(value: unknown, fallback: number, max: number): number {
  const ms = typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : fallback;
  return Math.min(ms, max);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '')
    throw httpError.badRequest(ActivityErrorCode.BadRequest, `${field} is required`, { field });
  return value;
}

export class ActivityService implements Service {
  readonly name = 'activity';
  readonly store: ActivityStore;
  readonly limits: ActivityLimits;
  #bus: Bus;
  #db: Database;
  #log: Logger;
  #config: NodeConfig;
  #options: ActivityServiceOptions;
  #processes: ExeUnitProcesses;
  #notifier = new Notifier();
  #unbinds: Unbind[] = [];
  #stopping = false;
  /** Open results polls and streams per requestor node. */
  #waits = new Map<string, number>();

  constructor(components: CoreComponents, options: ActivityServiceOptions = {}) {
    this.#bus = components.bus;
    this.#db = components.db;
    this.#log = components.logger.child('activity');
    this.#config = components.config;
    this.#options = options;
    this.limits = { ...DEFAULT_ACTIVITY_LIMITS, ...options.limits };
    this.store = new ActivityStore(components.db);
    this.#processes = new ExeUnitProcesses(this.#log);
    components.rest.register('/activity-api/v1', (app) => registerActivityRoutes(app, this));
  }

  async start(): Promise<void> {
    migrate(this.#db, activityMigrations);
    // ExeUnits of an earlier run of this daemon died with their control socket.
    for (const row of this.store.alive('provider'))
      this.#setState(row, ['Terminated', null], 'the provider daemon restarted', null);
    const bind = <M>(address: string, handler: (message: M, context: CallContext) => unknown) =>
      this.#unbinds.push(this.#bus.bind(address, (message, context) => handler(message as M, context)));
    bind<GetActivity>(ActivityLocalAddress.GetActivity, (m) => this.getActivity(m));
    bind<SetActivityState>(ActivityLocalAddress.SetActivityState, (m, c) => this.#reportedState(m, c));
    bind<SetActivityUsage>(ActivityLocalAddress.SetActivityUsage, (m, c) => this.#reportedUsage(m, c));
    bind<CreateActivity>(ActivityPublicAddress.Create, (m, c) => this.#provideCreate(m, c));
    bind<ActivityRef>(ActivityPublicAddress.Destroy, (m, c) => this.#provideDestroy(m, c));
    bind<ExecRequest>(ActivityPublicAddress.Exec, (m, c) => this.#provideExec(m, c));
    bind<GetExecBatchResults>(ActivityPublicAddress.GetExecBatchResults, (m, c) =>
      this.#provideResults(m, c),
    );
    bind<ActivityRef>(ActivityPublicAddress.GetState, (m, c) => this.#provideState(m, c));
    bind<ActivityRef>(ActivityPublicAddress.GetUsage, (m, c) => this.#provideUsage(m, c));
    bind<ActivityRef>(ActivityPublicAddress.GetRunningCommand, (m, c) => this.#provideRunning(m, c));
    this.#unbinds.push(
      this.#bus.bindStream(ActivityPublicAddress.StreamExecBatchResults, (m, c) =>
        this.#provideStream(m as BatchRef, c),
      ),
      this.#bus.subscribe<AgreementEvent>(AGREEMENT_EVENTS_TOPIC, (event) => this.#agreementChanged(event)),
    );
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const unbind of this.#unbinds.splice(0)) unbind();
    await Promise.all(
      this.store.alive('provider').map((row) => this.#endExeUnit(row, 'the provider daemon stopped', 2000)),
    );
    await this.#processes.stopAll();
  }

  // ------------------------------------------------------------------ shared

  getActivity(message: GetActivity): ActivityInfo {
    return infoOf(this.store.require(requireString(message?.activityId, 'activityId')));
  }

  #publish(event: ActivityEvent): void {
    this.#bus
      .publish(ACTIVITY_EVENTS_TOPIC, event)
      .catch((error) => this.#log.warn('publish failed', { error }));
  }

  /** Moves a row to `pair` (compare-and-set; Terminated stays), tells waiters and listeners. */
  #setState(
    row: ActivityRow,
    pair: ActivityState['state'],
    reason: string | null,
    errorMessage: string | null,
  ): ActivityRow {
    const { row: now, changed } = this.store.transition(row.activity_id, row.role, {
      state: pair,
      reason,
      errorMessage,
    });
    if (changed) {
      const at = new Date().toISOString();
      this.#publish({
        type: 'state',
        activityId: now.activity_id,
        agreementId: now.agreement_id,
        at,
        state: pair,
      });
      if (isTerminated(now))
        this.#publish({ type: 'destroyed', activityId: now.activity_id, agreementId: now.agreement_id, at });
      this.#notifier.notify(now.activity_id);
      if (now.role === 'provider') this.#notifier.notify(`provider:${now.provider_id}`);
    }
    return now;
  }

  /** The row the REST caller may see: its own requestor-side or provider-side activity. */
  own(owner: string, activityId: string): ActivityRow {
    for (const role of ['requestor', 'provider'] as const) {
      const row = this.store.get(activityId, role);
      if (row !== undefined && (role === 'requestor' ? row.requestor_id : row.provider_id) === owner)
        return row;
    }
    throw httpError.notFound(ActivityErrorCode.NotFound, `activity ${activityId} not found`, { activityId });
  }

  // ------------------------------------------------------------------ requestor (REST)

  #requestorRow(owner: string, activityId: string): ActivityRow {
    const row = this.own(owner, activityId);
    if (row.role !== 'requestor')
      throw httpError.forbidden(ActivityErrorCode.Forbidden, 'only the requestor controls an activity', {
        activityId,
      });
    return row;
  }

  #remote<T>(
    row: ActivityRow,
    address: string,
    message: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    return this.#bus.call<T>(remoteActivityAddress(row.provider_id, address), message, {
      as: row.requestor_id,
      timeoutMs,
      signal,
    });
  }

  async createActivity(owner: string, agreementId: string, timeoutMs: number): Promise<string> {
    const agreement = await this.#agreement(agreementId, 'requestor');
    if (agreement.requestorId !== owner)
      throw httpError.forbidden(
        ActivityErrorCode.Forbidden,
        "only the agreement's requestor creates activities",
        {
          agreementId,
        },
      );
    if (agreement.state !== 'Approved')
      throw httpError.badRequest(
        ActivityErrorCode.AgreementNotApproved,
        `agreement ${agreementId} is not Approved`,
        {
          agreementId,
          state: agreement.state,
        },
      );
    const wait = Math.min(timeoutMs, this.limits.maxCreateWaitMs);
    const { activityId } = await this.#bus.call<{ activityId: string }>(
      remoteActivityAddress(agreement.providerId, ActivityPublicAddress.Create),
      { agreementId, timeoutMs: wait } satisfies CreateActivity,
      { as: owner, timeoutMs: wait + CALL_MARGIN_MS },
    );
    if (typeof activityId !== 'string' || !/^[0-9a-f]{32}$/.test(activityId))
      throw new GolemError(ActivityErrorCode.ExeUnitFailed, 'the provider answered without an activity id', {
        httpStatus: 500,
      });
    const createdAt = new Date().toISOString();
    this.store.insert({
      activity_id: activityId,
      role: 'requestor',
      agreement_id: agreementId,
      requestor_id: owner,
      provider_id: agreement.providerId,
      state: 'Initialized',
      pending: null,
      created_at: createdAt,
    });
    this.#publish({ type: 'created', activityId, agreementId, at: createdAt });
    return activityId;
  }

  async destroyActivity(owner: string, activityId: string, timeoutMs: number): Promise<void> {
    const row = this.#requestorRow(owner, activityId);
    if (isTerminated(row)) return;
    await this.#remote(
      row,
      ActivityPublicAddress.Destroy,
      { activityId, timeoutMs },
      timeoutMs + CALL_MARGIN_MS,
    );
    this.#setState(row, ['Terminated', null], 'destroyed by the requestor', null);
  }

  async exec(owner: string, activityId: string, exeScript: ExecRequest['exeScript']): Promise<string> {
    const row = this.#requestorRow(owner, activityId);
    this.#checkAlive(row);
    const batchId = randomId();
    return this.#remote<string>(
      row,
      ActivityPublicAddress.Exec,
      { activityId, batchId, exeScript } satisfies ExecRequest,
      DEFAULT_CALL_TIMEOUT_MS * 2,
    );
  }

  async batchResults(
    owner: string,
    activityId: string,
    batchId: string,
    commandIndex: number | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ExeScriptCommandResult[]> {
    const row = this.#requestorRow(owner, activityId);
    const wait = Math.min(timeoutMs, this.limits.maxWaitMs);
    return this.#remote(
      row,
      ActivityPublicAddress.GetExecBatchResults,
      { activityId, batchId, commandIndex, timeoutMs: wait } satisfies GetExecBatchResults,
      wait + CALL_MARGIN_MS,
      signal,
    );
  }

  streamBatch(
    owner: string,
    activityId: string,
    batchId: string,
    signal: AbortSignal,
  ): AsyncIterable<RuntimeEvent> {
    const row = this.#requestorRow(owner, activityId);
    return this.#bus.stream<RuntimeEvent>(
      remoteActivityAddress(row.provider_id, ActivityPublicAddress.StreamExecBatchResults),
      { activityId, batchId } satisfies BatchRef,
      { as: row.requestor_id, timeoutMs: STREAM_TIMEOUT_MS, signal },
    );
  }

  /** The state; the requestor asks the provider live until the activity ended. */
  async state(owner: string, activityId: string, timeoutMs: number): Promise<ActivityState> {
    const row = this.own(owner, activityId);
    if (isTerminated(row) || row.role === 'provider') return stateOf(row);
    const live = await this.#remote<ActivityState>(
      row,
      ActivityPublicAddress.GetState,
      { activityId },
      timeoutMs,
    );
    return stateOf(this.#setState(row, live.state, live.reason ?? null, live.errorMessage ?? null));
  }

  async usage(owner: string, activityId: string, timeoutMs: number): Promise<ActivityUsage> {
    const row = this.own(owner, activityId);
    if (isTerminated(row) || row.role === 'provider')
      return usageOf(this.store.require(activityId, row.role));
    const live = await this.#remote<ActivityUsage>(
      row,
      ActivityPublicAddress.GetUsage,
      { activityId },
      timeoutMs,
    );
    this.store.setUsage(activityId, 'requestor', live);
    return live;
  }

  async runningCommand(
    owner: string,
    activityId: string,
    timeoutMs: number,
  ): Promise<ExeScriptCommandState[]> {
    const row = this.#requestorRow(owner, activityId);
    this.#checkAlive(row);
    return this.#remote(row, ActivityPublicAddress.GetRunningCommand, { activityId }, timeoutMs);
  }

  listByAgreement(owner: string, agreementId: string): string[] {
    return (['requestor', 'provider'] as const).flatMap((role) =>
      this.store
        .byAgreement(agreementId, role)
        .filter((row) => (role === 'requestor' ? row.requestor_id : row.provider_id) === owner)
        .map((row) => row.activity_id),
    );
  }

  #checkAlive(row: ActivityRow): void {
    if (isTerminated(row))
      throw httpError.gone(ActivityErrorCode.Terminated, `activity ${row.activity_id} is terminated`, {
        activityId: row.activity_id,
      });
  }

  async #agreement(agreementId: string, role: Role): Promise<AgreementView> {
    try {
      return await this.#bus.call<AgreementView>(MarketLocalAddress.GetAgreement, { agreementId, role });
    } catch (error) {
      if (isGolemError(error) && error.httpStatus === 404)
        throw httpError.notFound(ActivityErrorCode.AgreementNotFound, `agreement ${agreementId} not found`, {
          agreementId,
        });
      throw error;
    }
  }

  // ------------------------------------------------------------------ provider (REST)

  #providerEventsAfter(owner: string, after: string, maxEvents: number): ProviderEvent[] {
    const events: ProviderEvent[] = [];
    for (const row of this.store.ofProvider(owner)) {
      const base = { activityId: row.activity_id, agreementId: row.agreement_id };
      events.push({ ...base, eventType: { CreateActivity: {} }, eventDate: row.created_at });
      if (isTerminated(row))
        events.push({ ...base, eventType: { DestroyActivity: {} }, eventDate: row.updated_at });
    }
    return events
      .filter((event) => event.eventDate > after)
      .sort((a, b) => a.eventDate.localeCompare(b.eventDate))
      .slice(0, maxEvents);
  }

  /** yagna's provider event feed: activities created and destroyed after `after`; 408 when none came in time. */
  async providerEvents(
    owner: string,
    after: string,
    timeoutMs: number,
    maxEvents: number,
    signal: AbortSignal,
  ): Promise<ProviderEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const events = this.#providerEventsAfter(owner, after, maxEvents);
      if (events.length > 0 || signal.aborted) return events;
      const left = deadline - Date.now();
      if (left <= 0) throw httpError.timeout(ActivityErrorCode.NoEvents, 'no activity events in time');
      await this.#notifier.wait(`provider:${owner}`, left, signal);
    }
  }

  /** The provider's own state report (`PUT /activity/{id}/state`), e.g. a failed creation. */
  setStateByProvider(owner: string, activityId: string, body: unknown): void {
    const row = this.own(owner, activityId);
    const state = (body as { state?: unknown; reason?: unknown; errorMessage?: unknown } | null) ?? {};
    const names = ['New', 'Initialized', 'Deployed', 'Ready', 'Terminated', 'Unresponsive'];
    const pair = state.state;
    if (
      row.role !== 'provider' ||
      !Array.isArray(pair) ||
      pair.length !== 2 ||
      !names.includes(pair[0]) ||
      (pair[1] !== null && !names.includes(pair[1]))
    )
      throw httpError.badRequest(
        ActivityErrorCode.BadRequest,
        'the body is {state: [current, pending|null], reason?, errorMessage?}',
      );
    const reason = typeof state.reason === 'string' ? state.reason : null;
    const now = this.#setState(
      row,
      pair as ActivityState['state'],
      reason,
      typeof state.errorMessage === 'string' ? state.errorMessage : null,
    );
    // ya-provider kills the ExeUnit it spawned; here the daemon spawned it, so the provider's end ends it too
    // (e.g. a second activity on a single-activity agreement, refused by the agent).
    if (isTerminated(now) && this.#processes.has(now.activity_id))
      void this.#stopExeUnit(now.activity_id, reason ?? 'terminated by the provider').catch((error) =>
        this.#log.warn('could not end an activity', { activityId: now.activity_id, error }),
      );
  }

  async #stopExeUnit(activityId: string, reason: string, graceMs = 5000): Promise<void> {
    await this.#bus
      .call(exeUnitAddress(activityId, ExeUnitMessage.Shutdown), { reason }, { timeoutMs: graceMs })
      .catch((error) => this.#log.debug('ExeUnit shutdown call failed', { activityId, error }));
    await this.#processes.stop(activityId, graceMs);
  }

  // ------------------------------------------------------------------ provider (bus)

  /** The provider's row of an activity the caller (the requestor's node) may drive. */
  #provided(activityId: unknown, context: CallContext): ActivityRow {
    const row = this.store.get(requireString(activityId, 'activityId'), 'provider');
    if (row === undefined)
      throw httpError.notFound(ActivityErrorCode.NotFound, `activity ${String(activityId)} not found`, {
        activityId,
      });
    if (context.caller === LOCAL_CALLER || context.caller !== row.requestor_id)
      throw httpError.forbidden(
        ActivityErrorCode.Forbidden,
        "only the agreement's requestor may use this activity",
        {
          activityId,
        },
      );
    return row;
  }

  async #provideCreate(message: CreateActivity, context: CallContext): Promise<{ activityId: string }> {
    const agreementId = requireString(message?.agreementId, 'agreementId');
    const agreement = await this.#agreement(agreementId, 'provider');
    if (context.caller === LOCAL_CALLER || context.caller !== agreement.requestorId)
      throw httpError.forbidden(
        ActivityErrorCode.Forbidden,
        "only the agreement's requestor creates activities",
        {
          agreementId,
        },
      );
    if (agreement.state !== 'Approved')
      throw httpError.badRequest(
        ActivityErrorCode.AgreementNotApproved,
        `agreement ${agreementId} is not Approved`,
        {
          agreementId,
          state: agreement.state,
        },
      );
    const alive = this.store.alive('provider');
    if (alive.filter((row) => row.agreement_id === agreementId).length >= this.limits.maxPerAgreement)
      throw httpError.badRequest(
        ActivityErrorCode.Limit,
        `at most ${this.limits.maxPerAgreement} live activities per agreement`,
        {
          agreementId,
        },
      );
    if (alive.filter((row) => row.requestor_id === context.caller).length >= this.limits.maxPerRequestor)
      throw httpError.badRequest(
        ActivityErrorCode.Limit,
        `at most ${this.limits.maxPerRequestor} live activities per requestor`,
      );
    const runtimeName = agreement.offerProperties['golem.runtime.name'];
    const descriptor = loadDescriptors(this.#options.exeUnitPath ?? [DEFAULT_EXE_UNIT_PATH]).find(
      (d) => d.name === runtimeName,
    );
    if (descriptor === undefined)
      throw new GolemError(
        ActivityErrorCode.UnknownRuntime,
        `no ExeUnit runtime named ${String(runtimeName)} here`,
        {
          httpStatus: 500,
          details: { runtime: runtimeName },
        },
      );

    const activityId = randomId();
    const createdAt = new Date().toISOString();
    let row = this.store.insert({
      activity_id: activityId,
      role: 'provider',
      agreement_id: agreementId,
      requestor_id: agreement.requestorId,
      provider_id: agreement.providerId,
      state: 'New',
      pending: null,
      created_at: createdAt,
    });
    this.#publish({ type: 'created', activityId, agreementId, at: createdAt });
    this.#notifier.notify(`provider:${agreement.providerId}`);
    // The agreement may have ended while it was read: from here on its events reach this row, and one more
    // read closes the gap before anything is spawned.
    const now = await this.#agreement(agreementId, 'provider').catch(() => undefined);
    if (now?.state !== 'Approved') {
      this.#setState(row, ['Terminated', null], `agreement ${now?.state ?? 'gone'}`, null);
      throw httpError.badRequest(
        ActivityErrorCode.AgreementNotApproved,
        `agreement ${agreementId} is not Approved`,
        {
          agreementId,
          state: now?.state,
        },
      );
    }
    row = this.store.require(activityId, 'provider');
    if (isTerminated(row))
      throw httpError.badRequest(ActivityErrorCode.AgreementNotApproved, `agreement ${agreementId} ended`, {
        agreementId,
      });
    const agreementDir = join(this.#config.dataDir, 'exe-unit', 'work', agreementId);
    const workdir = join(agreementDir, activityId);
    const cacheDir = join(this.#config.dataDir, 'exe-unit', 'cache');
    mkdirSync(workdir, { recursive: true });
    mkdirSync(cacheDir, { recursive: true });
    const agreementFile = join(agreementDir, 'agreement.json');
    writeFileSync(agreementFile, `${JSON.stringify(agreement, null, 2)}\n`);
    const exit = { stderr: '' };
    this.#processes.spawn(
      {
        activityId,
        descriptor,
        agreementFile,
        workdir,
        cacheDir,
        controlSocket: controlSocketPath(this.#config.dataDir),
        env: this.#options.exeUnitEnv,
      },
      (ended) => {
        exit.stderr = ended.stderrTail;
        this.#exeUnitExited(activityId, ended.code, ended.signal);
      },
    );
    this.#log.info('ExeUnit spawned', { activityId, agreementId, runtime: descriptor.name });

    const deadline =
      Date.now() + clampMs(message.timeoutMs, DEFAULT_CALL_TIMEOUT_MS, this.limits.maxCreateWaitMs);
    for (;;) {
      row = this.store.require(activityId, 'provider');
      if (row.state === 'Initialized' || row.state === 'Ready') return { activityId };
      if (row.state === 'Terminated')
        // The reason is the provider's when it ended the activity itself (e.g. its agreement allows one only).
        throw new GolemError(
          ActivityErrorCode.ExeUnitFailed,
          `the ExeUnit ended before it was ready${row.reason === null ? '' : `: ${row.reason}`}`,
          {
            httpStatus: 500,
            details: { activityId, reason: row.reason, stderr: exit.stderr.slice(-1000) },
          },
        );
      const left = deadline - Date.now();
      if (left <= 0)
        throw httpError.timeout(
          ActivityErrorCode.CreateTimeout,
          'the ExeUnit did not reach Initialized in time',
          {
            activityId,
          },
        );
      await this.#notifier.wait(activityId, left, context.signal);
      if (context.signal.aborted)
        throw httpError.timeout(ActivityErrorCode.CreateTimeout, 'the caller gave up');
    }
  }

  /** Shutdown asked of the ExeUnit, then its process ended (TERM, KILL after the grace time). */
  async #endExeUnit(row: ActivityRow, reason: string, graceMs = 5000): Promise<void> {
    if (this.#processes.has(row.activity_id)) {
      // The final usage, before the ExeUnit goes: an activity shorter than the report interval has sent none,
      // and the provider bills from what is stored here.
      await this.#exeUnitCall<ActivityUsage>(row, ExeUnitMessage.GetUsage, {}, graceMs)
        .then((usage) => this.store.setUsage(row.activity_id, 'provider', usage))
        .catch((error) =>
          this.#log.debug('ExeUnit gave no final usage', { activityId: row.activity_id, error }),
        );
      await this.#stopExeUnit(row.activity_id, reason, graceMs);
    }
    this.#setState(this.store.require(row.activity_id, 'provider'), ['Terminated', null], reason, null);
  }

  async #provideDestroy(message: ActivityRef, context: CallContext): Promise<null> {
    const row = this.#provided(message?.activityId, context);
    if (!isTerminated(row)) await this.#endExeUnit(row, 'destroyed by the requestor');
    return null;
  }

  #exeUnitCall<T>(
    row: ActivityRow,
    name: (typeof ExeUnitMessage)[keyof typeof ExeUnitMessage],
    message: unknown,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    this.#checkAlive(row);
    // The caller's signal goes along: when the requestor gives up, the ExeUnit's side ends too.
    return this.#bus.call<T>(exeUnitAddress(row.activity_id, name), message, { timeoutMs, signal });
  }

  #provideExec(message: ExecRequest, context: CallContext): Promise<string> {
    const row = this.#provided(message?.activityId, context);
    // The ExeUnit checks the commands; the size is bounded here, before it crosses the control socket.
    if (JSON.stringify(message.exeScript ?? null).length > MAX_SCRIPT_BYTES)
      throw httpError.badRequest(
        ActivityErrorCode.BadRequest,
        `an ExeScript may have at most ${MAX_SCRIPT_BYTES} bytes`,
      );
    return this.#exeUnitCall(row, ExeUnitMessage.Exec, message, DEFAULT_CALL_TIMEOUT_MS);
  }

  /** Counts an open wait of `caller`; refuses beyond the bound. Returns its release. */
  #holdWait(caller: string): () => void {
    const open = this.#waits.get(caller) ?? 0;
    if (open >= this.limits.maxWaitsPerRequestor)
      throw new GolemError(
        ActivityErrorCode.Limit,
        `at most ${this.limits.maxWaitsPerRequestor} open result waits per node`,
        {
          httpStatus: 429,
        },
      );
    this.#waits.set(caller, open + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#waits.get(caller) ?? 1) - 1;
      if (left <= 0) this.#waits.delete(caller);
      else this.#waits.set(caller, left);
    };
  }

  async #provideResults(
    message: GetExecBatchResults,
    context: CallContext,
  ): Promise<ExeScriptCommandResult[]> {
    const row = this.#provided(message?.activityId, context);
    const wait = clampMs(message.timeoutMs, 0, this.limits.maxWaitMs);
    const release = this.#holdWait(context.caller);
    try {
      return await this.#exeUnitCall(
        row,
        ExeUnitMessage.GetExecBatchResults,
        { ...message, timeoutMs: wait },
        wait + CALL_MARGIN_MS,
        context.signal,
      );
    } finally {
      release();
    }
  }

  async *#provideStream(message: BatchRef, context: CallContext): AsyncIterable<unknown> {
    const row = this.#provided(message?.activityId, context);
    this.#checkAlive(row);
    const release = this.#holdWait(context.caller);
    try {
      yield* this.#bus.stream(
        exeUnitAddress(row.activity_id, ExeUnitMessage.StreamExecBatchResults),
        message,
        {
          timeoutMs: STREAM_TIMEOUT_MS,
          signal: context.signal,
        },
      );
    } finally {
      release();
    }
  }

  async #provideState(message: ActivityRef, context: CallContext): Promise<ActivityState> {
    const row = this.#provided(message?.activityId, context);
    // The ExeUnit knows its state first (its reports to this module trail by a moment).
    if (isTerminated(row) || !this.#processes.has(row.activity_id)) return stateOf(row);
    return this.#exeUnitCall<ActivityState>(row, ExeUnitMessage.GetState, {}, DEFAULT_CALL_TIMEOUT_MS).catch(
      () => stateOf(this.store.require(row.activity_id, 'provider')),
    );
  }

  async #provideUsage(message: ActivityRef, context: CallContext): Promise<ActivityUsage> {
    const row = this.#provided(message?.activityId, context);
    if (isTerminated(row) || !this.#processes.has(row.activity_id)) return usageOf(row);
    const usage = await this.#exeUnitCall<ActivityUsage>(
      row,
      ExeUnitMessage.GetUsage,
      {},
      DEFAULT_CALL_TIMEOUT_MS,
    );
    this.store.setUsage(row.activity_id, 'provider', usage);
    return usage;
  }

  #provideRunning(message: ActivityRef, context: CallContext): Promise<ExeScriptCommandState[]> {
    const row = this.#provided(message?.activityId, context);
    return this.#exeUnitCall(row, ExeUnitMessage.GetRunningCommand, {}, DEFAULT_CALL_TIMEOUT_MS);
  }

  // ------------------------------------------------------------------ provider (from the ExeUnit)

  #fromExeUnit(activityId: unknown, context: CallContext): ActivityRow {
    if (context.caller !== LOCAL_CALLER)
      throw httpError.forbidden(ActivityErrorCode.Forbidden, 'only a local ExeUnit reports activity state');
    return this.store.require(requireString(activityId, 'activityId'), 'provider');
  }

  #reportedState(message: SetActivityState, context: CallContext): null {
    const row = this.#fromExeUnit(message?.activityId, context);
    const state = message.state;
    if (!Array.isArray(state?.state) || state.state.length !== 2)
      throw httpError.badRequest(ActivityErrorCode.BadRequest, 'state is {state: [current, pending]}');
    this.#setState(row, state.state, state.reason ?? null, state.errorMessage ?? null);
    return null;
  }

  #reportedUsage(message: SetActivityUsage, context: CallContext): null {
    const row = this.#fromExeUnit(message?.activityId, context);
    if (!isTerminated(row) && message.usage !== undefined)
      this.store.setUsage(row.activity_id, 'provider', message.usage);
    return null;
  }

  #exeUnitExited(activityId: string, code: number | null, signal: NodeJS.Signals | null): void {
    const row = this.store.get(activityId, 'provider');
    if (row === undefined || isTerminated(row)) return;
    const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
    this.#log.warn('ExeUnit ended unexpectedly', { activityId, how });
    const reason = code === 0 ? 'execution aborted' : 'execution error';
    const unresponsive = this.#setState(row, ['Unresponsive', null], reason, `the ExeUnit ended (${how})`);
    this.#setState(unresponsive, ['Terminated', null], reason, `the ExeUnit ended (${how})`);
  }

  // ------------------------------------------------------------------ agreements

  #agreementChanged(event: AgreementEvent): void {
    if (event.type === 'approved' || event.type === 'rejected' || this.#stopping) return;
    const reason = `agreement ${event.type}`;
    for (const row of this.store.byAgreement(event.agreementId, event.role)) {
      if (isTerminated(row)) continue;
      if (row.role === 'provider')
        void this.#endExeUnit(row, reason).catch((error) =>
          this.#log.warn('could not end an activity', { error }),
        );
      else this.#setState(row, ['Terminated', null], reason, null);
    }
  }
}
