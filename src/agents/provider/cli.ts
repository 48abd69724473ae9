/**
 * `golemsp` — one command for a provider: `run` starts the daemon (`yagna service run` on `<data>/yagna`, unless
 * `--external` names a running one) and the agent; `settings show|set`, `status [--json]`, `stop`, and
 * ya-provider's `profile list|active|create|update|remove|activate` over the hardware profiles.
 * Usage errors exit with 2, failures with 1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable } from '../../cli/output.ts';
import { errorMessage } from '../../core/errors/index.ts';
import { createLogger, parseLogLevel } from '../../core/log/index.ts';
import { DEFAULT_EXE_UNIT_PATH } from '../../core/model/exe-unit-descriptor.ts';
import { type AgentStatus, ProviderAgent } from './agent.ts';
import { DaemonApi } from './api.ts';
import { ProviderErrorCode, providerError } from './errors.ts';
import { discoverRuntimes } from './runtimes.ts';
import {
  type Globals,
  type Hardware,
  type HardwareProfile,
  machineProfile,
  pricedPreset,
  SettingsStore,
  USAGE,
} from './settings.ts';
import { statusReport, statusText } from './status.ts';

const CLI_MAIN = fileURLToPath(new URL('../../cli/main.ts', import.meta.url));
const DAEMON_START_TIMEOUT_MS = 60_000;
const DAEMON_STOP_GRACE_MS = 15_000;

const SETTINGS_OPTIONS = {
  'node-name': { type: 'string' },
  subnet: { type: 'string' },
  account: { type: 'string' },
  'payment-network': { type: 'string', multiple: true },
  cores: { type: 'string' },
  memory: { type: 'string' },
  storage: { type: 'string' },
  disk: { type: 'string' },
  'cpu-per-hour': { type: 'string' },
  'env-per-hour': { type: 'string' },
  'starting-fee': { type: 'string' },
  'max-agreements': { type: 'string' },
  'debit-note-interval': { type: 'string' },
  'accept-timeout': { type: 'string' },
  'payment-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  'min-agreement-expiration': { type: 'string' },
  'block-node': { type: 'string', multiple: true },
  'allow-node': { type: 'string', multiple: true },
} as const;

const COMMON_OPTIONS = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const RUN_OPTIONS = {
  'api-url': { type: 'string' },
  'app-key': { type: 'string' },
  external: { type: 'boolean' },
  'yagna-datadir': { type: 'string' },
  'log-level': { type: 'string' },
} as const;

const HELP = `golemsp — sell this machine's compute on the Golem Network

  golemsp run [--data-dir D] [--api-url U] [--external --app-key K [--yagna-datadir Y]] [settings…]
  golemsp settings show [--json]
  golemsp settings set [settings…]
  golemsp status [--json]
  golemsp stop
  golemsp exe-unit list [--json]            runtimes found, with their self-test
  golemsp preset list [--json] | preset activate <name> | preset deactivate <name>
  golemsp profile list [--json] | profile active [--json] | profile activate <name> | profile remove <name>
  golemsp profile create <name> [--cores N --memory GiB --storage GiB]   (missing sizes: this machine's)
  golemsp profile update <name> --cores N | --memory GiB | --storage GiB

settings: --node-name --subnet --account --payment-network N (repeat) --cores --memory GiB --storage GiB
          --cpu-per-hour GLM --env-per-hour GLM --starting-fee GLM --max-agreements N
          --debit-note-interval s --accept-timeout s --payment-timeout s --idle-timeout s
          --min-agreement-expiration s --block-node ID --allow-node ID
env: GOLEMSP_DATA_DIR, YAGNA_API_URL, YAGNA_APPKEY, EXE_UNIT_PATH, NODE_NAME, SUBNET, YA_ACCOUNT,
     YA_PAYMENT_NETWORK; the daemon golemsp starts inherits YA_NET_*, DEV_GETH_ADDR and the rest.`;

class UsageError extends Error {}

type Values = Record<string, string | boolean | string[] | undefined>;

export function dataDirOf(values: Values, env = process.env): string {
  const given = (values['data-dir'] as string | undefined) ?? env.GOLEMSP_DATA_DIR;
  if (given !== undefined && given !== '') return resolve(given);
  const base =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME !== '' ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'golemsp');
}

function number(values: Values, name: string, min = 0): number | undefined {
  const raw = values[name] as string | undefined;
  if (raw === undefined) return undefined;
  const value = Number.parseFloat(raw.replace(/\s*(GiB|GB|G|s)$/i, ''));
  if (!Number.isFinite(value) || value < min)
    throw new UsageError(`--${name} must be a number ≥ ${min} (got ${raw})`);
  return value;
}

/** Applies settings flags (and golemsp's env variables) to the stored settings. */
export function applySettings(store: SettingsStore, values: Values, env: NodeJS.ProcessEnv = {}): Globals {
  const globals = store.globals();
  const nodeName = (values['node-name'] as string | undefined) ?? env.NODE_NAME;
  if (nodeName !== undefined) globals.nodeName = nodeName;
  const subnet = (values.subnet as string | undefined) ?? env.SUBNET;
  if (subnet !== undefined) globals.subnet = subnet;
  const account = (values.account as string | undefined) ?? env.YA_ACCOUNT;
  if (account !== undefined) globals.account = account === '' ? null : account;
  const networks = (values['payment-network'] as string[] | undefined) ?? env.YA_PAYMENT_NETWORK?.split(',');
  if (networks !== undefined)
    globals.paymentNetworks = networks.flatMap((n) => n.split(',')).filter((n) => n !== '');
  const n = globals.negotiation;
  const set = (flag: string, key: keyof typeof n, min = 0) => {
    const value = number(values, flag, min);
    if (value !== undefined) (n as unknown as Record<string, number>)[key] = value;
  };
  set('max-agreements', 'maxAgreements', 1);
  set('debit-note-interval', 'debitNoteIntervalS', 1);
  set('accept-timeout', 'debitNoteAcceptTimeoutS', 5);
  set('payment-timeout', 'paymentTimeoutS', 1);
  set('idle-timeout', 'idleAgreementTimeoutS', 1);
  set('min-agreement-expiration', 'minAgreementExpirationS', 0);
  if (values['block-node'] !== undefined)
    n.blockedNodes = (values['block-node'] as string[]).map((x) => x.toLowerCase());
  if (values['allow-node'] !== undefined)
    n.allowedNodes = (values['allow-node'] as string[]).map((x) => x.toLowerCase());
  store.saveGlobals(globals);

  const sizes = profileSizes(values);
  if (Object.keys(sizes).length > 0) {
    const hardware = store.hardware();
    Object.assign(hardware.profiles[hardware.active]!, sizes);
    store.saveHardware(hardware);
  }

  const cpu = number(values, 'cpu-per-hour');
  const envPrice = number(values, 'env-per-hour');
  const fee = number(values, 'starting-fee');
  if (cpu !== undefined || envPrice !== undefined || fee !== undefined) {
    globals.prices = {
      cpuPerHour: cpu ?? globals.prices.cpuPerHour,
      envPerHour: envPrice ?? globals.prices.envPerHour,
      startingFee: fee ?? globals.prices.startingFee,
    };
    store.saveGlobals(globals);
    // Every runtime's preset takes the new prices, as `golemsp settings set` updates wasmtime and vm.
    const presets = store.presets();
    presets.presets = presets.presets.map((preset) => pricedPreset(preset['exeunit-name'], globals.prices));
    store.savePresets(presets);
  }
  return globals;
}

/** `<data>/golemsp.json` while `run` runs: how `status` and `stop` reach it. */
interface RunFile {
  pid: number;
  apiUrl: string;
  appKey: string;
  daemonPid: number | null;
  /** The daemon's data dir when known: its `daemon.json` says where it listens now. */
  yagnaDataDir: string | null;
  agent: AgentStatus | null;
  startedAt: string;
}

function runFilePath(dataDir: string): string {
  return join(dataDir, 'golemsp.json');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readRunFile(dataDir: string): RunFile | undefined {
  const path = runFilePath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as RunFile;
    return alive(file.pid) ? file : undefined;
  } catch {
    return undefined;
  }
}

function writeRunFile(dataDir: string, file: RunFile): void {
  const path = runFilePath(dataDir);
  const temp = `${path}.tmp`;
  writeFileSync(temp, JSON.stringify(file, null, 2), { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}

/** The URL a daemon listens on, from its `daemon.json` (absent while it is down). */
function daemonUrl(yagnaDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(yagnaDir, 'daemon.json'), 'utf8')) as { apiUrl: string }).apiUrl;
  } catch {
    return undefined;
  }
}

/** The app-key golemsp gives the daemon it starts (created once, kept in the data dir, mode 0600). */
function appKeyOf(dataDir: string): string {
  const path = join(dataDir, 'appkey');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const key = randomBytes(16).toString('hex');
  writeFileSync(path, key, { mode: 0o600 });
  return key;
}

async function startDaemon(
  dataDir: string,
  apiUrl: string,
  appKey: string,
  interrupted: AbortSignal,
): Promise<{ child: ChildProcess; apiUrl: string; exited: Promise<number | null> } | undefined> {
  const daemonDir = join(dataDir, 'yagna');
  mkdirSync(daemonDir, { recursive: true });
  const infoPath = join(daemonDir, 'daemon.json');
  const log = openSync(join(dataDir, 'yagna.log'), 'a');
  const child = spawn(
    process.execPath,
    [CLI_MAIN, 'service', 'run', '--datadir', daemonDir, '--api-url', apiUrl],
    {
      env: { ...process.env, YAGNA_AUTOCONF_APPKEY: appKey },
      stdio: ['ignore', log, log],
    },
  );
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const deadline = Date.now() + DAEMON_START_TIMEOUT_MS;
  for (;;) {
    // A signal while the daemon starts stops it too: golemsp must never leave an orphaned daemon behind.
    if (interrupted.aborted) {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      return undefined;
    }
    if (child.exitCode !== null)
      throw providerError(
        ProviderErrorCode.DaemonStart,
        `the daemon exited with code ${child.exitCode}; see ${join(dataDir, 'yagna.log')}`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw providerError(ProviderErrorCode.DaemonStart, 'the daemon did not start in time');
    }
    if (existsSync(infoPath)) {
      try {
        const info = JSON.parse(readFileSync(infoPath, 'utf8')) as { pid: number; apiUrl: string };
        if (info.pid === child.pid) return { child, apiUrl: info.apiUrl, exited };
      } catch {
        // being written
      }
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function run(values: Values): Promise<number> {
  const dataDir = dataDirOf(values);
  mkdirSync(dataDir, { recursive: true });
  const previous = readRunFile(dataDir);
  if (previous !== undefined && previous.pid !== process.pid)
    throw providerError(
      ProviderErrorCode.AlreadyRunning,
      `golemsp already runs on ${dataDir} (pid ${previous.pid})`,
    );
  const store = new SettingsStore(dataDir);
  applySettings(store, values, process.env);
  const log = createLogger({
    level: parseLogLevel((values['log-level'] as string | undefined) ?? process.env.GOLEMSP_LOG_LEVEL),
    namespace: 'golemsp',
  });

  let apiUrl =
    (values['api-url'] as string | undefined) ?? process.env.YAGNA_API_URL ?? 'http://127.0.0.1:7465';
  let appKey = (values['app-key'] as string | undefined) ?? process.env.YAGNA_APPKEY;
  // Signals are taken from the start, so one that comes while the daemon starts stops it as well.
  const interrupted = new AbortController();
  let signalled: (why: string) => void = () => {};
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      interrupted.abort(signal);
      signalled(signal);
    });
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  if (values.external === true) {
    if (appKey === undefined || appKey === '')
      throw new UsageError('--external needs --app-key or YAGNA_APPKEY');
    const yagnaDir = values['yagna-datadir'] as string | undefined;
    if (values['api-url'] === undefined && yagnaDir !== undefined) apiUrl = daemonUrl(yagnaDir) ?? apiUrl;
  } else {
    appKey = appKeyOf(dataDir);
    daemon = await startDaemon(dataDir, apiUrl, appKey, interrupted.signal);
    if (daemon === undefined) {
      log.info('stopped while the daemon started', { why: String(interrupted.signal.reason) });
      return 0;
    }
    apiUrl = daemon.apiUrl;
    log.info('daemon started', { apiUrl, pid: daemon.child.pid });
  }
  const runFile: RunFile = {
    pid: process.pid,
    apiUrl,
    appKey: appKey!,
    daemonPid: daemon?.child.pid ?? null,
    yagnaDataDir:
      daemon !== undefined
        ? join(dataDir, 'yagna')
        : ((values['yagna-datadir'] as string | undefined) ?? null),
    agent: null,
    startedAt: new Date().toISOString(),
  };
  writeRunFile(dataDir, runFile);
  const exeUnitPath = exeUnitPathOf();
  // An external daemon named by its data dir is followed to wherever it listens after a restart.
  const yagnaDir = values['yagna-datadir'] as string | undefined;
  const api = new DaemonApi({
    apiUrl,
    appKey: appKey!,
    locate: yagnaDir === undefined ? undefined : () => daemonUrl(yagnaDir),
  });
  const agent = new ProviderAgent({
    api,
    settings: store,
    exeUnitPath,
    log: log.child('agent'),
    tickMs: Number(process.env.GOLEMSP_TICK_MS ?? 1000),
    onStatus: (status) => writeRunFile(dataDir, { ...runFile, apiUrl: api.apiUrl, agent: status }),
  });
  const stopped = new Promise<string>((done) => {
    if (interrupted.signal.aborted) done(String(interrupted.signal.reason));
    signalled = done;
    void daemon?.exited.then(() => done('daemon exited'));
  });
  try {
    await agent.start();
  } catch (error) {
    daemon?.child.kill('SIGTERM');
    throw error;
  }
  log.info('golemsp running', { dataDir, apiUrl, session: agent.sessionId });
  const why = await stopped;
  log.info('stopping', { why });
  await agent.stop();
  if (daemon !== undefined && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    const timer = setTimeout(() => daemon.child.kill('SIGKILL'), DAEMON_STOP_GRACE_MS);
    await daemon.exited;
    clearTimeout(timer);
  }
  rmSync(runFilePath(dataDir), { force: true });
  return why === 'daemon exited' ? 1 : 0;
}

async function status(values: Values, print: (text: string) => void): Promise<number> {
  const dataDir = dataDirOf(values);
  const store = new SettingsStore(dataDir);
  const file = readRunFile(dataDir);
  const apiUrl = file?.yagnaDataDir ? (daemonUrl(file.yagnaDataDir) ?? file.apiUrl) : file?.apiUrl;
  const api =
    file === undefined || apiUrl === undefined ? undefined : new DaemonApi({ apiUrl, appKey: file.appKey });
  // A running agent says which settings are in force (a settings file being edited may not parse just now).
  const inForce = file?.agent?.settings ?? store.globals();
  const report = await statusReport(api, inForce, file?.agent ?? undefined);
  print(values.json === true ? JSON.stringify(report, null, 2) : statusText(report));
  return 0;
}

function settingsShow(values: Values, print: (text: string) => void): number {
  const store = new SettingsStore(dataDirOf(values));
  const settings = { globals: store.globals(), hardware: store.hardware(), presets: store.presets() };
  if (values.json === true) print(JSON.stringify(settings, null, 2));
  else {
    const g = settings.globals;
    const profile = settings.hardware.profiles[settings.hardware.active]!;
    print(
      [
        `node name:        ${g.nodeName ?? '(none)'}`,
        `subnet:           ${g.subnet}`,
        `account:          ${g.account ?? '(the node id)'}`,
        `payment networks: ${g.paymentNetworks.join(', ')}`,
        `cores:            ${profile.cpu_threads}`,
        `memory:           ${profile.mem_gib} GiB`,
        `storage:          ${profile.storage_gib} GiB`,
        `max agreements:   ${g.negotiation.maxAgreements}`,
        `debit notes:      every ${g.negotiation.debitNoteIntervalS} s, accepted within ${g.negotiation.debitNoteAcceptTimeoutS} s, paid within ${g.negotiation.paymentTimeoutS} s`,
        ...settings.presets.presets.map((p) => {
          const c = p['usage-coeffs'];
          return `preset ${p.name}${settings.presets.active.includes(p.name) ? ' (active)' : ''}: ${((c[USAGE.cpu] ?? 0) * 3600).toPrecision(6)} GLM/h cpu, ${((c[USAGE.duration] ?? 0) * 3600).toPrecision(6)} GLM/h env, ${p['initial-price']} GLM start`;
        }),
      ].join('\n'),
    );
  }
  return 0;
}

async function stop(values: Values, print: (text: string) => void): Promise<number> {
  const dataDir = dataDirOf(values);
  const file = readRunFile(dataDir);
  if (file === undefined) {
    print('golemsp is not running');
    return 1;
  }
  process.kill(file.pid, 'SIGTERM');
  while (alive(file.pid)) await new Promise((done) => setTimeout(done, 100));
  print('golemsp stopped');
  return 0;
}

function exeUnitPathOf(env = process.env): string[] {
  return env.EXE_UNIT_PATH
    ? env.EXE_UNIT_PATH.split(/[,:]/).filter((p) => p !== '')
    : [DEFAULT_EXE_UNIT_PATH];
}

async function exeUnitList(values: Values, print: (text: string) => void): Promise<number> {
  const runtimes = (await discoverRuntimes(exeUnitPathOf())).map((r) => ({
    name: r.name,
    version: r.version,
    description: r.description,
    counters: r.counters,
    selfTest: r.selfTest,
  }));
  if (values.json === true) print(JSON.stringify(runtimes, null, 2));
  else
    print(
      formatTable(
        ['name', 'version', 'self-test', 'description'],
        runtimes.map((r) => [
          r.name,
          r.version,
          r.selfTest.ok ? 'ok' : `failed: ${r.selfTest.reason}`,
          r.description,
        ]),
      ),
    );
  return 0;
}

function presetList(values: Values, print: (text: string) => void): number {
  const presets = new SettingsStore(dataDirOf(values)).presets();
  if (values.json === true) print(JSON.stringify(presets, null, 2));
  else
    print(
      formatTable(
        ['name', 'runtime', 'active', 'start price', 'coefficients'],
        presets.presets.map((p) => [
          p.name,
          p['exeunit-name'],
          presets.active.includes(p.name) ? 'yes' : 'no',
          p['initial-price'],
          Object.entries(p['usage-coeffs'])
            .map(([k, v]) => `${k}=${v}`)
            .join(' '),
        ]),
      ),
    );
  return 0;
}

function presetActivate(
  values: Values,
  active: boolean,
  name: string | undefined,
  print: (text: string) => void,
): number {
  if (name === undefined) throw new UsageError('preset activate|deactivate <name>');
  const store = new SettingsStore(dataDirOf(values));
  const presets = store.presets();
  if (!presets.presets.some((p) => p.name === name)) throw new UsageError(`no preset named ${name}`);
  presets.active = active
    ? [...new Set([...presets.active, name])]
    : presets.active.filter((n) => n !== name);
  store.savePresets(presets);
  print(`preset ${name} ${active ? 'activated' : 'deactivated'}${whenApplied(store.dir)}`);
  return 0;
}

/** A running agent watches its settings files and applies a change on its own. */
function whenApplied(dataDir: string): string {
  return readRunFile(dataDir) === undefined
    ? ' (takes effect at the next start)'
    : ' (the running golemsp applies it now)';
}

function profileRows(hardware: Hardware, names: string[]): (string | number)[][] {
  return names.map((name) => {
    const p = hardware.profiles[name]!;
    return [name, name === hardware.active ? 'yes' : 'no', p.cpu_threads, p.mem_gib, p.storage_gib];
  });
}

const PROFILE_HEADER = ['name', 'active', 'cores', 'memory GiB', 'storage GiB'];

/** The sizes given as flags; each must be positive (cores a whole number ≥ 1). */
function profileSizes(values: Values): Partial<HardwareProfile> {
  const cores = number(values, 'cores', 1);
  const memory = number(values, 'memory', 0.1);
  const storage = number(values, 'storage', 0.1) ?? number(values, 'disk', 0.1);
  return {
    ...(cores === undefined ? {} : { cpu_threads: Math.floor(cores) }),
    ...(memory === undefined ? {} : { mem_gib: memory }),
    ...(storage === undefined ? {} : { storage_gib: storage }),
  };
}

/** ya-provider's `profile` verbs over `hardware.json`; the active profile is what offers are built from. */
function profileCommand(values: Values, positionals: string[], print: (text: string) => void): number {
  const [, verb, name, ...rest] = positionals;
  const store = new SettingsStore(dataDirOf(values));
  const hardware = store.hardware();
  const needName = () => {
    if (name === undefined || rest.length > 0) throw new UsageError(`profile ${verb} <name>`);
    return name;
  };
  const existing = () => {
    const given = needName();
    if (hardware.profiles[given] === undefined)
      throw new UsageError(
        `no profile named ${given} (profiles: ${Object.keys(hardware.profiles).join(', ')})`,
      );
    return given;
  };
  switch (verb) {
    case 'list':
      if (name !== undefined) throw new UsageError('profile list takes no name');
      if (values.json === true) print(JSON.stringify(hardware, null, 2));
      else print(formatTable(PROFILE_HEADER, profileRows(hardware, Object.keys(hardware.profiles))));
      return 0;
    case 'active':
      if (name !== undefined) throw new UsageError('profile active takes no name');
      if (values.json === true)
        print(JSON.stringify({ name: hardware.active, ...hardware.profiles[hardware.active] }, null, 2));
      else print(hardware.active);
      return 0;
    case 'create': {
      const created = needName();
      if (hardware.profiles[created] !== undefined) throw new UsageError(`profile ${created} already exists`);
      hardware.profiles[created] = { ...machineProfile(store.dir), ...profileSizes(values) };
      store.saveHardware(hardware);
      print(`profile ${created} created`);
      return 0;
    }
    case 'update': {
      const updated = existing();
      const sizes = profileSizes(values);
      if (Object.keys(sizes).length === 0)
        throw new UsageError('profile update <name> needs --cores, --memory or --storage');
      Object.assign(hardware.profiles[updated]!, sizes);
      store.saveHardware(hardware);
      print(`profile ${updated} updated${whenApplied(store.dir)}`);
      return 0;
    }
    case 'remove': {
      const removed = existing();
      if (removed === hardware.active)
        throw new UsageError(`profile ${removed} is active; activate another one before removing it`);
      delete hardware.profiles[removed];
      store.saveHardware(hardware);
      print(`profile ${removed} removed`);
      return 0;
    }
    case 'activate': {
      const activated = existing();
      hardware.active = activated;
      store.saveHardware(hardware);
      print(`profile ${activated} activated${whenApplied(store.dir)}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: profile ${verb ?? ''}`.trim());
  }
}

export async function main(argv: string[]): Promise<number> {
  const print = (text: string) => process.stdout.write(`${text}\n`);
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, ...RUN_OPTIONS, ...SETTINGS_OPTIONS },
      allowPositionals: true,
      strict: true,
    }) as never;
  } catch (error) {
    process.stderr.write(`golemsp: ${errorMessage(error)}\n${HELP}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals.join(' ');
  if (values.help === true || command === '') {
    print(HELP);
    return values.help === true ? 0 : 2;
  }
  try {
    switch (command) {
      case 'run':
        return await run(values);
      case 'status':
        return await status(values, print);
      case 'settings show':
        return settingsShow(values, print);
      case 'settings set':
        applySettings(new SettingsStore(dataDirOf(values)), values);
        return settingsShow(values, print);
      case 'stop':
        return await stop(values, print);
      case 'exe-unit list':
        return await exeUnitList(values, print);
      case 'preset list':
        return presetList(values, print);
      default:
        if (positionals[0] === 'profile') return profileCommand(values, positionals, print);
        if (positionals[0] === 'preset' && (positionals[1] === 'activate' || positionals[1] === 'deactivate'))
          return presetActivate(values, positionals[1] === 'activate', positionals[2], print);
        throw new UsageError(`unknown command: ${command}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`golemsp: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`golemsp: ${errorMessage(error)}\n`);
    return 1;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
