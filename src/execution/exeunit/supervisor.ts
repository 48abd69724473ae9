/**
 * The ExeUnit supervisor of one activity (Golem's `exe-unit`): the state machine, exec batches run command by
 * command, results and streamed events, usage counters, transfers and the task-package cache, in front of a
 * runtime that follows Golem's CLI contract. It reaches the daemon only through `call` (bus calls over the
 * control socket); `bindings()` are what it serves under `/local/exeunit/<activityId>/`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson, nodeIdFromSecret, sha256, signDigest, toHex } from '../../core/crypto/index.ts';
import { errorMessage, type GolemError, isGolemError } from '../../core/errors/index.ts';
import { type Logger, silentLogger } from '../../core/log/index.ts';
import {
  ActivityLocalAddress,
  type ActivityState,
  type ActivityUsage,
  type BatchRef,
  type ExecRequest,
  type ExeScriptCommandResult,
  type ExeScriptCommandState,
  ExeUnitMessage,
  type ExeUnitMessageName,
  type GetExecBatchResults,
  type RuntimeEvent,
  type StatePair,
} from '../../core/model/activity.ts';
import { type Command, parseExeScript, type RunCommand } from '../../core/model/exescript.ts';
import type { BusCall } from '../../core/model/gftp-client.ts';
import type { DeployNetwork, RuntimeClient } from '../runtime-api/index.ts';
import { transfer } from '../transfer/index.ts';
import { Batch } from './batch.ts';
import { ImageCache } from './cache.ts';
import { DEFAULT_MAX_CAPTURE_BYTES, encodeOutput, OutputBuffer } from './capture.ts';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';
import { treeCpuSeconds } from './proc.ts';
import { type OutputSink, ProcessRuntime, type Volume } from './runtime.ts';
import { ServiceRuntime } from './service-runtime.ts';
import { StateMachine } from './state.ts';

/** The agreement as the daemon writes it next to the activity (flat property keys). */
export interface AgreementFile {
  agreementId: string;
  requestorId: string;
  providerId: string;
  demandProperties: Record<string, unknown>;
  offerProperties: Record<string, unknown>;
}

export interface ExeUnitLimits {
  /** Batches not finished yet, at once. */
  maxRunningBatches: number;
  /** Batches kept for results (the oldest finished ones go first). */
  maxKeptBatches: number;
  /** Bytes kept of one output of one command. */
  maxCaptureBytes: number;
  /** Bytes of output kept in all results together (older finished batches are forgotten first). */
  maxKeptOutputBytes: number;
  maxTransferBytes: number;
  /** Longest wait a results call may ask for. */
  maxWaitMs: number;
}

export const DEFAULT_EXEUNIT_LIMITS: ExeUnitLimits = {
  maxRunningBatches: 8,
  maxKeptBatches: 64,
  maxKeptOutputBytes: 64 * 1024 * 1024,
  maxCaptureBytes: DEFAULT_MAX_CAPTURE_BYTES,
  maxTransferBytes: 4 * 1024 ** 3,
  maxWaitMs: 300_000,
};

export interface ExeUnitOptions {
  activityId: string;
  runtimePath: string;
  runtimeArgs?: string[];
  workdir: string;
  cacheDir: string;
  agreement: AgreementFile;
  call: BusCall;
  logger?: Logger;
  limits?: Partial<ExeUnitLimits>;
  usageIntervalMs?: number;
  killTimeoutMs?: number;
  /**
   * Opens the VPN end of this activity (`VpnLink.open(control, activityId)` in the process); without it a deploy
   * with `net` is refused.
   */
  openVpnLink?: () => Promise<ExeUnitVpnLink>;
  /** Golem's `--cap-handoff`: the runtime enforces the offer's hardware, given as `--cpu-cores/--mem-gib/--storage-gib`. */
  capHandoff?: boolean;
}

/** What the supervisor needs of a VPN link (`VpnLink` of the Runtime API). */
export interface ExeUnitVpnLink {
  /** `udp://host:port`, given to the runtime as `--vpn-endpoint`. */
  readonly endpoint: string;
  join(runtime: RuntimeClient, networks: DeployNetwork[], requestorId: string): Promise<void>;
  close(): Promise<void>;
}

/** Golem's check: a runtime carries VPN traffic only when its offer lists the `vpn` capability. */
export function offersVpn(offer: Record<string, unknown>): boolean {
  const capabilities = offer['golem.runtime.capabilities'];
  return Array.isArray(capabilities) && capabilities.includes('vpn');
}

/** The runtime's hardware arguments from the offer's `golem.inf.*` (Golem's `--cap-handoff`). */
export function hardwareArgs(offer: Record<string, unknown>): string[] {
  const args: string[] = [];
  const add = (flag: string, key: string, round: boolean) => {
    const value = offer[key];
    if (typeof value === 'number' && Number.isFinite(value) && value > 0)
      args.push(flag, String(round ? Math.max(1, Math.floor(value)) : value));
  };
  add('--cpu-cores', 'golem.inf.cpu.threads', true);
  add('--mem-gib', 'golem.inf.mem.gib', false);
  add('--storage-gib', 'golem.inf.storage.gib', false);
  return args;
}

const DEFAULT_USAGE_VECTOR = ['golem.usage.duration_sec', 'golem.usage.cpu_sec'];

export class ExeUnit {
  readonly activityId: string;
  readonly state = new StateMachine();
  readonly limits: ExeUnitLimits;
  #options: ExeUnitOptions;
  #log: Logger;
  #runtime: ProcessRuntime;
  #service: ServiceRuntime | undefined;
  #cache: ImageCache;
  #batches = new Map<string, Batch>();
  #vols: Volume[] = [];
  /** The deploy's VPN networks and the link opened for them (from deploy until terminate/shutdown). */
  #networks: DeployNetwork[] = [];
  #vpn: ExeUnitVpnLink | undefined;
  #startedAt = Date.now();
  #usageVector: string[];
  #lastCpu = 0;
  #reason: string | null = null;
  #errorMessage: string | null = null;
  #reports: Promise<unknown> = Promise.resolve();
  #usageTimer: NodeJS.Timeout | undefined;
  #signingKey = randomBytes(32);
  #shutdown: Promise<void> | undefined;
  #stats = { batchesDone: 0, cmdsDone: 0 };

  constructor(options: ExeUnitOptions) {
    this.#options = options;
    this.activityId = options.activityId;
    // An unset limit (undefined) keeps the default.
    const given = Object.entries(options.limits ?? {}).filter(([, value]) => value !== undefined);
    this.limits = { ...DEFAULT_EXEUNIT_LIMITS, ...Object.fromEntries(given) };
    this.#log = (options.logger ?? silentLogger).child(`exeunit:${options.activityId.slice(0, 8)}`);
    this.#runtime = new ProcessRuntime({
      runtimePath: options.runtimePath,
      workdir: options.workdir,
      runtimeArgs: [
        ...(options.capHandoff === true ? hardwareArgs(options.agreement.offerProperties) : []),
        ...(options.runtimeArgs ?? []),
      ],
      killTimeoutMs: options.killTimeoutMs,
    });
    this.#cache = new ImageCache({ dir: options.cacheDir, call: options.call });
    const vector = options.agreement.offerProperties['golem.com.usage.vector'];
    this.#usageVector =
      Array.isArray(vector) && vector.every((item) => typeof item === 'string')
        ? vector
        : DEFAULT_USAGE_VECTOR;
    this.state.onChange((pair) => this.#report(pair));
  }

  /** The handlers to bind, by message name. */
  bindings(): Record<Exclude<ExeUnitMessageName, 'StreamExecBatchResults'>, (message: never) => unknown> {
    return {
      [ExeUnitMessage.Exec]: (m: ExecRequest) => this.exec(m),
      [ExeUnitMessage.GetExecBatchResults]: (m: GetExecBatchResults) => this.results(m),
      [ExeUnitMessage.GetState]: () => this.activityState(),
      [ExeUnitMessage.GetUsage]: () => this.usage(),
      [ExeUnitMessage.GetRunningCommand]: () => this.runningCommand(),
      [ExeUnitMessage.Shutdown]: (m: { reason?: string } | null) =>
        this.shutdown(m?.reason ?? 'Shutdown requested'),
    };
  }

  /** New → Initialized, and usage reporting every second. */
  async start(): Promise<void> {
    await mkdir(this.#options.workdir, { recursive: true });
    this.state.force(['Initialized', null]);
    await this.#reports;
    this.#usageTimer = setInterval(() => void this.#reportUsage(), this.#options.usageIntervalMs ?? 1000);
    this.#usageTimer.unref();
  }

  #report(pair: StatePair): void {
    const state: ActivityState = { state: pair, reason: this.#reason, errorMessage: this.#errorMessage };
    // In order, one at a time: the daemon must see the states as they happened.
    this.#reports = this.#reports
      .then(() =>
        this.#options.call(
          ActivityLocalAddress.SetActivityState,
          { activityId: this.activityId, state },
          { timeoutMs: 10_000 },
        ),
      )
      .catch((error) => this.#log.warn('could not report the state', { error: errorMessage(error) }));
  }

  async #reportUsage(): Promise<void> {
    if (this.state.terminated) return;
    try {
      await this.#options.call(
        ActivityLocalAddress.SetActivityUsage,
        { activityId: this.activityId, usage: this.usage() },
        { timeoutMs: 5000 },
      );
    } catch (error) {
      this.#log.warn('could not report usage', { error: errorMessage(error) });
    }
  }

  #checkActivity(activityId: unknown): void {
    if (activityId !== this.activityId)
      throw exeUnitError(ExeUnitErrorCode.WrongActivity, `this ExeUnit runs activity ${this.activityId}`, {
        httpStatus: 404,
      });
  }

  activityState(): ActivityState {
    return { state: this.state.pair, reason: this.#reason, errorMessage: this.#errorMessage };
  }

  usage(): ActivityUsage {
    this.#lastCpu = Math.max(this.#lastCpu, treeCpuSeconds());
    const values: Record<string, number> = {
      ...Object.fromEntries(this.#service?.counters ?? []),
      'golem.usage.duration_sec': (Date.now() - this.#startedAt) / 1000,
      'golem.usage.cpu_sec': this.#lastCpu,
    };
    return {
      currentUsage: this.#usageVector.map((name) => values[name] ?? 0),
      timestamp: Math.floor(Date.now() / 1000),
    };
  }

  runningCommand(): ExeScriptCommandState[] {
    const running: ExeScriptCommandState[] = [];
    for (const batch of this.#batches.values()) {
      if (batch.running === undefined) continue;
      const command = batch.commands[batch.running]!;
      running.push({
        command: command.name.charAt(0).toUpperCase() + command.name.slice(1),
        progress: null,
        params: command.name === 'run' ? [command.entryPoint, ...command.args] : [],
      });
    }
    if (running.length === 0)
      throw exeUnitError(ExeUnitErrorCode.NothingRunning, 'no command is running', { httpStatus: 404 });
    return running;
  }

  exec(request: ExecRequest): string {
    this.#checkActivity(request?.activityId);
    if (this.#shutdown !== undefined || this.state.terminated)
      throw exeUnitError(ExeUnitErrorCode.ShuttingDown, 'the activity is terminated', { httpStatus: 400 });
    if (typeof request.batchId !== 'string' || !/^[0-9a-zA-Z_-]{1,64}$/.test(request.batchId))
      throw exeUnitError(ExeUnitErrorCode.BadScript, 'a batch id is 1-64 letters, digits, _ or -', {
        httpStatus: 400,
      });
    if (this.#batches.has(request.batchId))
      throw exeUnitError(ExeUnitErrorCode.DuplicateBatch, `batch ${request.batchId} exists already`, {
        httpStatus: 400,
      });
    const commands = parseExeScript(request.exeScript);
    const running = [...this.#batches.values()].filter((batch) => !batch.finished).length;
    if (running >= this.limits.maxRunningBatches)
      throw exeUnitError(
        ExeUnitErrorCode.TooManyBatches,
        `at most ${this.limits.maxRunningBatches} batches may run at once`,
        { httpStatus: 400 },
      );
    this.#forgetOldBatches();
    const batch = new Batch(request.batchId, request.exeScript, commands);
    this.#batches.set(batch.id, batch);
    void this.#runBatch(batch);
    return batch.id;
  }

  /** Output bytes held in results (text length or byte count). */
  #keptOutputBytes(): number {
    let total = 0;
    for (const batch of this.#batches.values())
      for (const result of batch.results)
        total += (result.stdout?.length ?? 0) + (result.stderr?.length ?? 0);
    return total;
  }

  #forgetOldBatches(): void {
    for (const [id, batch] of this.#batches) {
      const tooMany = this.#batches.size >= this.limits.maxKeptBatches;
      if (!tooMany && this.#keptOutputBytes() <= this.limits.maxKeptOutputBytes / 2) return;
      if (batch.finished) this.#batches.delete(id);
    }
  }

  #batch(ref: BatchRef): Batch {
    this.#checkActivity(ref?.activityId);
    const batch = this.#batches.get(ref.batchId);
    if (batch === undefined)
      throw exeUnitError(ExeUnitErrorCode.UnknownBatch, `batch ${ref.batchId} not found`, {
        httpStatus: 404,
      });
    return batch;
  }

  results(request: GetExecBatchResults): Promise<ExeScriptCommandResult[]> {
    const batch = this.#batch(request);
    const timeoutMs = Math.min(Math.max(0, Number(request.timeoutMs) || 0), this.limits.maxWaitMs);
    return batch.resultsUpTo(request.commandIndex ?? undefined, timeoutMs);
  }

  stream(request: BatchRef, signal?: AbortSignal): AsyncIterable<RuntimeEvent> {
    return this.#batch(request).stream(signal);
  }

  async #runBatch(batch: Batch): Promise<void> {
    for (let index = 0; index < batch.commands.length; index++) {
      const command = batch.commands[index]!;
      batch.running = index;
      batch.emit(index, { started: { command: batch.raw[index]! } });
      let code = 0;
      let message: string | null = null;
      let stdout: ExeScriptCommandResult['stdout'] = null;
      let stderr: ExeScriptCommandResult['stderr'] = null;
      try {
        if (batch.abort.signal.aborted)
          throw exeUnitError(ExeUnitErrorCode.Killed, 'the batch was terminated');
        const outcome = await this.#runCommand(batch, index, command);
        code = outcome.code;
        stdout = outcome.stdout ?? null;
        stderr = outcome.stderr ?? null;
      } catch (error) {
        code = -1;
        message = errorMessage(error);
        if (!isGolemError(error)) this.#log.warn('command failed', { command: command.name, error });
      }
      batch.running = undefined;
      this.#stats.cmdsDone++;
      batch.emit(index, { finished: { return_code: code, message } });
      batch.finish({ index, result: code === 0 ? 'Ok' : 'Error', stdout, stderr, message });
      if (code !== 0) break;
    }
    batch.close();
    this.#stats.batchesDone++;
  }

  async #runCommand(
    batch: Batch,
    index: number,
    command: Command,
  ): Promise<{
    code: number;
    stdout?: ExeScriptCommandResult['stdout'];
    stderr?: ExeScriptCommandResult['stderr'];
  }> {
    if (command.name === 'terminate') {
      await this.#terminate(batch);
      return { code: 0 };
    }
    if (command.name === 'sign') return { code: 0, stdout: this.#sign(batch) };
    return this.#withTransition(batch, index, command);
  }

  async #withTransition(
    batch: Batch,
    index: number,
    command: Exclude<Command, { name: 'terminate' | 'sign' }>,
  ): Promise<{
    code: number;
    stdout?: ExeScriptCommandResult['stdout'];
    stderr?: ExeScriptCommandResult['stderr'];
  }> {
    const transition = this.state.begin(command.name);
    let ok = false;
    try {
      const outcome = await this.#stateful(batch, index, command);
      ok = outcome.code === 0;
      return outcome;
    } finally {
      this.state.end(transition, ok);
    }
  }

  async #stateful(
    batch: Batch,
    index: number,
    command: Exclude<Command, { name: 'terminate' | 'sign' }>,
  ): Promise<{
    code: number;
    stdout?: ExeScriptCommandResult['stdout'];
    stderr?: ExeScriptCommandResult['stderr'];
  }> {
    const signal = batch.abort.signal;
    switch (command.name) {
      case 'deploy': {
        const taskPackage = this.#options.agreement.demandProperties['golem.srv.comp.task_package'];
        if (typeof taskPackage === 'string' && taskPackage !== '')
          this.#runtime.options.taskPackage = await this.#cache.fetch(taskPackage, signal);
        const deployed = await this.#runtime.deploy([
          ...(command.volumeOverride === undefined
            ? []
            : ['--volume-override', JSON.stringify(command.volumeOverride)]),
          ...(command.hostname === undefined ? [] : ['--hostname', command.hostname]),
        ]);
        await this.#service?.stop();
        await this.#closeVpn();
        if (command.net.length > 0) await this.#openVpn(deployed.startMode, command.net);
        this.#service =
          deployed.startMode === 'blocking'
            ? new ServiceRuntime(this.#runtime.options, this.#log)
            : undefined;
        this.#vols = deployed.vols;
        for (const vol of this.#vols) await mkdir(join(this.#options.workdir, vol.name), { recursive: true });
        return { code: 0 };
      }
      case 'start':
        return this.#process(batch, index, undefined, (sink) =>
          this.#service === undefined
            ? this.#runtime.start(command.args, sink, signal)
            : this.#startService(this.#service, command.args, sink, signal),
        );
      case 'run':
        return this.#process(batch, index, command, (sink) =>
          (this.#service ?? this.#runtime).run(command.entryPoint, command.args, sink, signal),
        );
      case 'transfer': {
        if (command.format !== undefined)
          throw exeUnitError(ExeUnitErrorCode.Transfer, `archive format ${command.format} is not supported`);
        await transfer(command.from, command.to, {
          workdir: this.#options.workdir,
          vols: this.#vols,
          call: this.#options.call,
          maxBytes: this.limits.maxTransferBytes,
          signal,
        });
        return { code: 0 };
      }
    }
  }

  /** Golem's order: the link's UDP end exists before the runtime starts, so the VM boots with its network device. */
  async #openVpn(startMode: string, networks: DeployNetwork[]): Promise<void> {
    if (!offersVpn(this.#options.agreement.offerProperties) || startMode !== 'blocking')
      throw exeUnitError(
        ExeUnitErrorCode.Runtime,
        "deploy.net given, but this runtime's offer has no vpn capability",
      );
    if (this.#options.openVpnLink === undefined)
      throw exeUnitError(ExeUnitErrorCode.Runtime, 'deploy.net given, but this ExeUnit has no VPN');
    this.#vpn = await this.#options.openVpnLink();
    this.#networks = networks;
  }

  async #closeVpn(): Promise<void> {
    const link = this.#vpn;
    this.#vpn = undefined;
    this.#networks = [];
    await link
      ?.close()
      .catch((error) => this.#log.warn('VPN link close failed', { error: errorMessage(error) }));
  }

  /** The service with `--vpn-endpoint` when the deploy joined networks; after Hello, the VM joins them. */
  async #startService(
    service: ServiceRuntime,
    args: string[],
    sink: OutputSink,
    signal: AbortSignal,
  ): Promise<number> {
    const link = this.#vpn;
    const code = await service.start(
      args,
      sink,
      signal,
      link === undefined ? [] : ['--vpn-endpoint', link.endpoint],
    );
    if (code !== 0 || link === undefined) return code;
    try {
      await link.join(service.client, this.#networks, this.#options.agreement.requestorId);
    } catch (error) {
      await service.stop();
      throw exeUnitError(
        ExeUnitErrorCode.Runtime,
        `the VM could not join its network: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
    return 0;
  }

  /** A runtime process: output captured as the command asks (`run`) or kept and streamed (`start`). */
  async #process(
    batch: Batch,
    index: number,
    run: RunCommand | undefined,
    spawn: (sink: { stdout(chunk: Buffer): void; stderr(chunk: Buffer): void }) => Promise<number>,
  ): Promise<{
    code: number;
    stdout: ExeScriptCommandResult['stdout'];
    stderr: ExeScriptCommandResult['stderr'];
  }> {
    const everything = { kind: 'stream', limit: undefined, format: 'str' } as const;
    const modes =
      run === undefined
        ? { stdout: everything, stderr: everything }
        : (run.capture ?? { stdout: undefined, stderr: undefined });
    // Bounded per output and, across everything kept, by what is left of the budget.
    const left = Math.max(0, this.limits.maxKeptOutputBytes - this.#keptOutputBytes()) / 2;
    const max = Math.min(this.limits.maxCaptureBytes, Math.floor(left));
    const out = new OutputBuffer(modes.stdout, max);
    const err = new OutputBuffer(modes.stderr, max);
    const code = await spawn({
      stdout: (chunk) => {
        out.push(chunk);
        if (modes.stdout?.kind === 'stream') batch.emit(index, { stdout: encodeOutput(chunk, out.format) });
      },
      stderr: (chunk) => {
        err.push(chunk);
        if (modes.stderr?.kind === 'stream') batch.emit(index, { stderr: encodeOutput(chunk, err.format) });
      },
    });
    return {
      code,
      stdout: out.result(modes.stdout !== undefined),
      stderr: err.result(modes.stderr !== undefined),
    };
  }

  /** Golem's `terminate`: other batches are aborted, the runtime's processes killed, the state back to Initialized. */
  async #terminate(current: Batch): Promise<void> {
    for (const batch of this.#batches.values()) if (batch !== current && !batch.finished) batch.abort.abort();
    await this.#runtime.killAll();
    await this.#service?.stop();
    await this.#closeVpn();
    this.#vols = [];
    this.state.force(['Initialized', null]);
  }

  /** Signs the results so far with this ExeUnit's key (fresh per activity): `{nodeId, digest, signature}`. */
  #sign(batch: Batch): string {
    const digest = sha256(
      canonicalJson({ activityId: this.activityId, batchId: batch.id, results: batch.results }),
    );
    return JSON.stringify({
      signer: nodeIdFromSecret(this.#signingKey),
      digest: toHex(digest),
      signature: toHex(signDigest(this.#signingKey, digest)),
    });
  }

  /**
   * Stops everything and reports `Terminated` with Golem's reason text; resolves once the runtime is down.
   * Idempotent: a second call waits for the first.
   */
  shutdown(reason: string): Promise<void> {
    this.#shutdown ??= (async () => {
      const [current] = this.state.pair;
      this.state.force([current, 'Terminated']);
      const pending = [...this.#batches.values()].filter((batch) => !batch.finished);
      for (const batch of pending) batch.abort.abort();
      await this.#runtime.killAll();
      await this.#service?.stop();
      await this.#closeVpn();
      for (const batch of pending) batch.close();
      clearInterval(this.#usageTimer);
      this.#reason = `${reason}: ${JSON.stringify({
        batches_done: this.#stats.batchesDone,
        batches_pending: pending.length,
        cmds_done: this.#stats.cmdsDone,
        cmds_pending: pending.reduce((sum, batch) => sum + batch.commands.length - batch.results.length, 0),
      })}`;
      this.state.force(['Terminated', null]);
      await this.#reports;
    })();
    return this.#shutdown;
  }
}

export function isExeUnitError(error: unknown): error is GolemError {
  return isGolemError(error) && error.code.startsWith('EXEUNIT_');
}
