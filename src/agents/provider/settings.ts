/**
 * The provider's settings, persisted in its data dir as ya-provider keeps them: `globals.json` (node name,
 * subnet, account, payment networks, and the negotiation limits), `presets.json` (format V1: one linear price list
 * per runtime, the active ones offered) and `hardware.json` (profiles of what may be sold; the active one is
 * offered). Missing files are created with defaults; a file that does not parse is an error, never replaced.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { ProviderErrorCode, providerError } from './errors.ts';

export const USAGE = {
  duration: 'golem.usage.duration_sec',
  cpu: 'golem.usage.cpu_sec',
} as const;

export interface NegotiationSettings {
  /** Agreements held at once (ya-provider's default is 1). */
  maxAgreements: number;
  /** Shortest agreement accepted (s). */
  minAgreementExpirationS: number;
  /** Longest agreement accepted when the requestor accepts debit notes with a deadline (s). */
  maxAgreementExpirationS: number;
  /** Longest agreement accepted without a debit-note deadline (s). */
  maxAgreementExpirationWithoutDeadlineS: number;
  /** Offered debit-note interval (s) and the accepted range. */
  debitNoteIntervalS: number;
  minDebitNoteIntervalS: number;
  maxDebitNoteIntervalS: number;
  /** Offered deadline for accepting a debit note (s); lower requestor values down to 5 s are adopted. */
  debitNoteAcceptTimeoutS: number;
  /** Offered payment timeout (s) and the accepted range. */
  paymentTimeoutS: number;
  minPaymentTimeoutS: number;
  maxPaymentTimeoutS: number;
  /** Agreements at least this long must negotiate a payment timeout (s). */
  paymentTimeoutRequiredDurationS: number;
  /** Agreement ends when no activity ran for this long (s). */
  idleAgreementTimeoutS: number;
  /** Requestor node ids refused (lower-case). */
  blockedNodes: string[];
  /** When not empty, only these requestor node ids are served. */
  allowedNodes: string[];
}

export interface Globals {
  nodeName: string | null;
  subnet: string;
  /** Payee address; the node's identity when null. */
  account: string | null;
  /** Network names (`dev`, `holesky`, `polygon`…) or full platforms (`erc20-dev-tglm`). */
  paymentNetworks: string[];
  /** golemsp's prices, given to a runtime's preset when it is first seen. */
  prices: Prices;
  negotiation: NegotiationSettings;
}

export interface Prices {
  /** GLM per hour of CPU time. */
  cpuPerHour: number;
  /** GLM per hour the activity exists. */
  envPerHour: number;
  /** GLM per activity, at its start. */
  startingFee: number;
}

export interface Preset {
  name: string;
  'exeunit-name': string;
  'pricing-model': 'linear';
  'initial-price': number;
  /** Price per unit of each usage counter (GLM). */
  'usage-coeffs': Record<string, number>;
}

export interface Presets {
  ver: 'V1';
  active: string[];
  presets: Preset[];
}

export interface HardwareProfile {
  cpu_threads: number;
  mem_gib: number;
  storage_gib: number;
}

export interface Hardware {
  active: string;
  profiles: Record<string, HardwareProfile>;
}

export const DEFAULT_NEGOTIATION: NegotiationSettings = {
  maxAgreements: 1,
  minAgreementExpirationS: 5 * 60,
  maxAgreementExpirationS: 100 * 365 * 86_400,
  maxAgreementExpirationWithoutDeadlineS: 30 * 60,
  debitNoteIntervalS: 120,
  minDebitNoteIntervalS: 1,
  maxDebitNoteIntervalS: 86_400,
  debitNoteAcceptTimeoutS: 240,
  paymentTimeoutS: 120,
  minPaymentTimeoutS: 1,
  maxPaymentTimeoutS: 86_400,
  paymentTimeoutRequiredDurationS: 10 * 3600,
  idleAgreementTimeoutS: 90,
  blockedNodes: [],
  allowedNodes: [],
};

/** golemsp's default price: GLM per hour of CPU; the environment (duration) costs a fifth of it. */
export const DEFAULT_GLM_PER_HOUR = 0.025;

/** A preset named after a runtime with golemsp's price scheme. */
export function pricedPreset(runtime: string, prices: Prices): Preset {
  return {
    name: runtime,
    'exeunit-name': runtime,
    'pricing-model': 'linear',
    'initial-price': prices.startingFee,
    'usage-coeffs': { [USAGE.cpu]: prices.cpuPerHour / 3600, [USAGE.duration]: prices.envPerHour / 3600 },
  };
}

/** What the machine has, capped as ya-provider caps a new profile (threads-1, 70 % RAM, 80 % free disk). */
export function machineProfile(dataDir: string): HardwareProfile {
  let freeGib = 10;
  try {
    const fs = statfsSync(dataDir);
    freeGib = (fs.bavail * fs.bsize) / 2 ** 30;
  } catch {
    // keep the guess
  }
  const round = (n: number) => Math.max(0.1, Math.floor(n * 10) / 10);
  return {
    cpu_threads: Math.max(1, availableParallelism() - 1),
    mem_gib: round((totalmem() / 2 ** 30) * 0.7),
    storage_gib: round(freeGib * 0.8),
  };
}

function readJson<T>(path: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (cause) {
    throw providerError(ProviderErrorCode.BadSettings, `${path} is not valid JSON`, { path }, cause);
  }
}

function writeJson(path: string, value: unknown): void {
  const temp = `${path}.tmp`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temp, path);
}

/** The three settings files of one data dir. */
export class SettingsStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
  }

  get globalsPath(): string {
    return join(this.dir, 'globals.json');
  }
  get presetsPath(): string {
    return join(this.dir, 'presets.json');
  }
  get hardwarePath(): string {
    return join(this.dir, 'hardware.json');
  }

  globals(): Globals {
    const stored = readJson<Partial<Globals>>(this.globalsPath) ?? {};
    const globals: Globals = {
      nodeName: stored.nodeName ?? null,
      subnet: stored.subnet ?? 'public',
      account: stored.account ?? null,
      paymentNetworks: stored.paymentNetworks ?? ['holesky'],
      prices: {
        cpuPerHour: DEFAULT_GLM_PER_HOUR,
        envPerHour: DEFAULT_GLM_PER_HOUR / 5,
        startingFee: 0,
        ...stored.prices,
      },
      negotiation: { ...DEFAULT_NEGOTIATION, ...stored.negotiation },
    };
    checkGlobals(globals, this.globalsPath);
    return globals;
  }

  saveGlobals(globals: Globals): void {
    checkGlobals(globals, this.globalsPath);
    writeJson(this.globalsPath, globals);
  }

  /** The presets; a runtime seen for the first time gets one named after it at the stored prices, active. */
  presets(runtimes: string[] = []): Presets {
    const stored = readJson<Presets>(this.presetsPath);
    if (
      stored !== undefined &&
      (stored.ver !== 'V1' || !Array.isArray(stored.presets) || !Array.isArray(stored.active))
    )
      throw providerError(ProviderErrorCode.BadSettings, `${this.presetsPath}: expected {"ver":"V1",…}`);
    const presets: Presets = stored ?? { ver: 'V1', active: [], presets: [] };
    const fresh = runtimes.filter((runtime) => !presets.presets.some((p) => p['exeunit-name'] === runtime));
    if (fresh.length > 0) {
      const { prices } = this.globals();
      for (const runtime of fresh) {
        presets.presets.push(pricedPreset(runtime, prices));
        if (!presets.active.includes(runtime)) presets.active.push(runtime);
      }
      writeJson(this.presetsPath, presets);
    }
    return presets;
  }

  savePresets(presets: Presets): void {
    writeJson(this.presetsPath, presets);
  }

  hardware(): Hardware {
    const stored = readJson<Hardware>(this.hardwarePath);
    if (stored !== undefined) {
      if (stored.profiles?.[stored.active] === undefined)
        throw providerError(
          ProviderErrorCode.BadSettings,
          `${this.hardwarePath}: active profile ${stored.active} is missing`,
        );
      return stored;
    }
    const hardware: Hardware = { active: 'default', profiles: { default: machineProfile(this.dir) } };
    writeJson(this.hardwarePath, hardware);
    return hardware;
  }

  saveHardware(hardware: Hardware): void {
    writeJson(this.hardwarePath, hardware);
  }

  /** The active profile, never above what the machine has. */
  activeProfile(): HardwareProfile {
    const hardware = this.hardware();
    const profile = hardware.profiles[hardware.active]!;
    const machine = machineProfile(this.dir);
    return {
      cpu_threads: Math.max(1, Math.min(profile.cpu_threads, availableParallelism())),
      mem_gib: Math.max(0.1, Math.min(profile.mem_gib, totalmem() / 2 ** 30)),
      storage_gib: Math.max(0.1, Math.min(profile.storage_gib, machine.storage_gib / 0.8)),
    };
  }
}

function checkGlobals(globals: Globals, path: string): void {
  const bad = (message: string) => providerError(ProviderErrorCode.BadSettings, `${path}: ${message}`);
  if (globals.account !== null && !/^0x[0-9a-fA-F]{40}$/.test(globals.account))
    throw bad(`account ${globals.account} is not an address`);
  if (!/^[A-Za-z0-9._-]+$/.test(globals.subnet)) throw bad(`subnet ${globals.subnet} has other characters`);
  if (globals.paymentNetworks.length === 0) throw bad('no payment network');
  const n = globals.negotiation;
  for (const [key, value] of Object.entries(n))
    if (typeof value === 'number' && (!Number.isFinite(value) || value < 0))
      throw bad(`negotiation.${key} must be a number ≥ 0`);
  if (n.maxAgreements < 1) throw bad('negotiation.maxAgreements must be ≥ 1');
}

/** Payment platforms (`erc20-<network>-<token>`) from network names or full platform names. */
export function paymentPlatforms(networks: string[]): string[] {
  const mainnets = new Set(['mainnet', 'polygon']);
  return networks.map((network) => {
    const lower = network.toLowerCase();
    if (lower.includes('-')) return lower;
    return `erc20-${lower}-${mainnets.has(lower) ? 'glm' : 'tglm'}`;
  });
}
