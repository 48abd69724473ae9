/**
 * The whole network on one machine: anvil with the project's contracts, a relay, N provider nodes, a requestor
 * node and an image registry, each a real process on loopback ports (the registry is served by this process).
 * `startDevnet` brings them up in order with progress, funds the requestor, waits until every provider's offers
 * are visible at the requestor, and writes `devnet.env` (to source) and `devnet.json` (what runs where, read by
 * `devnet status|down`) into the devnet's folder.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RestClient } from '../agents/requestor/api.ts';
import { ControlConnection } from '../core/control/index.ts';
import { GolemError } from '../core/errors/index.ts';
import { PaymentLocalAddress } from '../core/model/payment.ts';
import { deployDevContracts } from '../core/payment/erc20/deploy.ts';
import { type RegistryServer, serveRegistry } from '../execution/image/index.ts';
import { DevnetErrorCode } from './errors.ts';
import {
  ANVIL_BIN,
  type Child,
  type ChildRecord,
  CLI_MAIN,
  GOLEMSP_MAIN,
  isRunning,
  RUNTIMES_DIR,
  readCmdline,
  readJsonFile,
  spawnLogged,
  waitUntil,
} from './processes.ts';
import { vmAvailability } from './vm.ts';

export const DEVNET_STATE = 'devnet.json';
export const DEVNET_ENV = 'devnet.env';
export const PAYMENT_NETWORK = 'dev';
export const PLATFORM = 'erc20-dev-tglm';
/** golem-js's default subnet: its programs find the devnet's offers without setting YAGNA_SUBNET. */
export const SUBNET = 'public';

export type DevnetRuntime = 'wasi' | 'vm';

export interface DevnetOptions {
  dir: string;
  providers: number;
  runtimes: DevnetRuntime[];
  /** Port of the requestor's REST API (0: any free port). */
  apiPort?: number;
  /** Log level of the nodes (their logs go to `<dir>/logs`). */
  logLevel?: string;
  progress?: (line: string) => void;
  /** Aborted (Ctrl-C while starting): what started so far is stopped and the start fails with `Interrupted`. */
  signal?: AbortSignal;
}

export interface NodeInfo {
  name: string;
  role: 'requestor' | 'provider';
  nodeId: string;
  apiUrl: string;
  appKey: string;
  dataDir: string;
  runtimes: string[];
}

export interface DevnetState {
  dir: string;
  startedAt: string;
  ready: boolean;
  supervisor: Pick<ChildRecord, 'pid' | 'cmdline'>;
  chain: { rpcUrl: string; token: string; multiTransfer: string; lockPayment: string };
  relay: { nodeId: string; address: string };
  registryUrl: string;
  requestor: NodeInfo;
  providers: NodeInfo[];
  processes: ChildRecord[];
  /** What was left out and why (e.g. VM providers without QEMU). */
  notes: string[];
  env: Record<string, string>;
}

/** What `golemsp run` writes to `<data>/golemsp.json` (the fields the devnet reads). */
interface GolemspRunFile {
  pid: number;
  apiUrl: string;
  appKey: string;
  daemonPid: number | null;
  agent: {
    nodeId: string;
    runtimes: { name: string; offered: boolean; selfTest: { ok: boolean; reason: string | null } }[];
  } | null;
}

export interface Devnet {
  state: DevnetState;
  envFile: string;
  stop(): Promise<void>;
}

export function readDevnetState(dir: string): DevnetState | undefined {
  return readJsonFile<DevnetState>(join(dir, DEVNET_STATE));
}

/** Whether a devnet recorded in `dir` still runs (its supervisor process is alive). */
export function devnetRunning(dir: string): DevnetState | undefined {
  const state = readDevnetState(dir);
  return state !== undefined && isRunning(state.supervisor) ? state : undefined;
}

export async function startDevnet(options: DevnetOptions): Promise<Devnet> {
  const progress = options.progress ?? (() => {});
  const { dir } = options;
  if (!Number.isInteger(options.providers) || options.providers < 1 || options.providers > 32)
    throw new GolemError(DevnetErrorCode.BadOption, '--providers is a number from 1 to 32', {
      details: { providers: options.providers },
    });
  const running = devnetRunning(dir);
  if (running !== undefined)
    throw new GolemError(DevnetErrorCode.AlreadyRunning, `a devnet already runs in ${dir}`, {
      details: { pid: running.supervisor.pid },
    });
  // Every run starts from a fresh chain, so the nodes' books of an earlier run would name transactions that no
  // longer exist: their folders are the devnet's own and start empty.
  for (const sub of ['nodes', 'logs']) rmSync(join(dir, sub), { recursive: true, force: true });
  mkdirSync(join(dir, 'logs'), { recursive: true });
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  rmSync(join(dir, DEVNET_STATE), { force: true });
  rmSync(join(dir, DEVNET_ENV), { force: true });

  const notes: string[] = [];
  let runtimes = [...new Set(options.runtimes)];
  if (runtimes.includes('vm')) {
    const vm = vmAvailability();
    if (!vm.ok) {
      runtimes = runtimes.filter((r) => r !== 'vm');
      notes.push(`VM providers left out: ${vm.reason}`);
      progress(`! VM providers left out: ${vm.reason}`);
    }
  }
  if (runtimes.length === 0)
    throw new GolemError(DevnetErrorCode.BadOption, 'no runtime left to offer', { details: { notes } });

  const children: Child[] = [];
  /** Daemons golemsp started (golemsp stops them; recorded so `down` finds them after a crash). */
  const extra: ChildRecord[] = [];
  let registry: RegistryServer | undefined;
  // Safe to run again (an interruption, then the failure it causes): each part stops once.
  const stop = async () => {
    // Nodes first (they flush their books; golemsp stops its own daemon), then the relay, then the chain.
    const nodes = children.filter((c) => c.record.name !== 'anvil' && c.record.name !== 'relay');
    await Promise.allSettled(nodes.map((c) => c.stop()));
    await Promise.allSettled(children.filter((c) => c.record.name === 'relay').map((c) => c.stop()));
    const served = registry;
    registry = undefined;
    await served?.close();
    await Promise.allSettled(children.filter((c) => c.record.name === 'anvil').map((c) => c.stop()));
  };
  const { signal } = options;
  const interrupted = () =>
    new GolemError(DevnetErrorCode.Interrupted, 'interrupted while starting; what had started is stopped');
  /** Before each process is spawned: nothing new starts once the start was interrupted. */
  const checkpoint = () => {
    if (signal?.aborted) throw interrupted();
  };
  const onAbort = () => void stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  const log = (name: string) => join(dir, 'logs', `${name}.log`);

  try {
    checkpoint();
    progress('chain: starting anvil');
    const anvil = spawnLogged(
      'anvil',
      ANVIL_BIN,
      ['--host', '127.0.0.1', '--port', '0', '--accounts', '10'],
      { log: log('anvil') },
    );
    children.push(anvil);
    const rpcUrl = await waitUntil(
      anvil,
      'anvil to listen',
      () => {
        const port = /Listening on [\d.]+:(\d+)/.exec(anvil.output())?.[1];
        return port === undefined ? undefined : `http://127.0.0.1:${port}`;
      },
      30_000,
    );
    await waitUntil(anvil, 'anvil to answer', () => rpcAnswers(rpcUrl), 30_000);
    progress(`chain: anvil on ${rpcUrl}, deploying contracts`);
    const contracts = await deployDevContracts(rpcUrl);

    checkpoint();
    progress('net: starting the relay');
    const relay = spawnLogged(
      'relay',
      process.execPath,
      [
        CLI_MAIN,
        'relay',
        'run',
        '--datadir',
        join(dir, 'nodes', 'relay'),
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
      ],
      { log: log('relay'), env: { YAGNA_LOG_LEVEL: 'warn' } },
    );
    children.push(relay);
    const relayInfo = await waitUntil(relay, 'the relay', () => {
      const line = relay
        .output()
        .split('\n')
        .find((l) => l.startsWith('{"nodeId"'));
      return line === undefined ? undefined : (JSON.parse(line) as { nodeId: string; addresses: string[] });
    });
    const relayAddress = relayInfo.addresses[0]!;

    const imageFolder = vmAvailability().imagesDir;
    const registryDir = existsSync(imageFolder) ? imageFolder : join(dir, 'images');
    mkdirSync(registryDir, { recursive: true });
    checkpoint();
    registry = await serveRegistry(registryDir);
    progress(`images: registry on ${registry.url} (${registry.images.length} images)`);

    const nodeEnv = {
      YA_NET_RELAY: relayAddress,
      YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0',
      DEV_GETH_ADDR: rpcUrl,
      ERC20_SENDOUT_INTERVAL_SECS: '1',
      GOLEM_PAYMENT_BATCH_WINDOW_S: '1',
      GOLEM_PAYMENT_RETRY_INITIAL_MS: '250',
      GOLEM_PAYMENT_RETRY_MAX_MS: '5000',
      YAGNA_LOG_LEVEL: options.logLevel ?? 'info',
    };
    const startNode = async (
      name: string,
      role: NodeInfo['role'],
      nodeRuntimes: string[],
      apiPort = 0,
    ): Promise<NodeInfo> => {
      checkpoint();
      const dataDir = join(dir, 'nodes', name);
      mkdirSync(dataDir, { recursive: true });
      const appKey = randomBytes(16).toString('hex');
      const child = spawnLogged(
        name,
        process.execPath,
        [CLI_MAIN, 'service', 'run', '--datadir', dataDir, '--api-url', `http://127.0.0.1:${apiPort}`],
        { log: log(name), env: { ...nodeEnv, YAGNA_AUTOCONF_APPKEY: appKey } },
      );
      children.push(child);
      const info = await waitUntil(child, `${name} to serve`, () => {
        const parsed = readJsonFile<{ apiUrl: string; nodeId: string; pid: number }>(
          join(dataDir, 'daemon.json'),
        );
        return parsed?.pid === child.record.pid ? parsed : undefined;
      });
      progress(`node: ${name} ${info.nodeId} on ${info.apiUrl}`);
      return {
        name,
        role,
        nodeId: info.nodeId,
        apiUrl: info.apiUrl,
        appKey,
        dataDir,
        runtimes: nodeRuntimes,
      };
    };

    /** A provider: `golemsp run` (its daemon and the provider agent), runtimes limited to those asked for. */
    const startProvider = async (name: string): Promise<NodeInfo> => {
      checkpoint();
      const dataDir = join(dir, 'nodes', name);
      const child = spawnLogged(
        name,
        process.execPath,
        [
          GOLEMSP_MAIN,
          'run',
          '--data-dir',
          dataDir,
          '--api-url',
          'http://127.0.0.1:0',
          '--node-name',
          name,
          '--subnet',
          SUBNET,
          '--payment-network',
          PAYMENT_NETWORK,
        ],
        {
          log: log(name),
          env: {
            ...nodeEnv,
            EXE_UNIT_PATH: runtimes.map((r) => join(RUNTIMES_DIR, r, 'descriptor.json')).join(','),
            GOLEMSP_TICK_MS: '500',
            // A VM boots in software emulation here; on a busy machine the self-test needs the time.
            YA_RUNTIME_VM_TEST_TIMEOUT: '110',
            GOLEMSP_LOG_LEVEL: options.logLevel ?? 'info',
          },
          // golemsp stopped while it starts its daemon exits without it: the group's stop ends that daemon too.
          group: true,
        },
      );
      children.push(child);
      // golemsp writes golemsp.json once its runtimes passed their self-tests and its offers are published.
      const run = await waitUntil(
        child,
        `${name} to publish its offers`,
        () => {
          const file = readJsonFile<GolemspRunFile>(join(dataDir, 'golemsp.json'));
          return file?.pid === child.record.pid && file.agent !== null ? file : undefined;
        },
        180_000,
      );
      if (run.daemonPid !== null)
        extra.push({ name: `${name} daemon`, pid: run.daemonPid, cmdline: '', log: '' });
      const working = run.agent!.runtimes.filter((r) => r.offered).map((r) => r.name);
      for (const failed of run.agent!.runtimes.filter((r) => !r.selfTest.ok)) {
        notes.push(`${name}: ${failed.name} failed its self-test (${failed.selfTest.reason}); not offered`);
        progress(`! ${name}: ${failed.name} failed its self-test: ${failed.selfTest.reason}`);
      }
      progress(
        `node: ${name} ${run.agent!.nodeId} on ${run.apiUrl} (golemsp: ${working.join(', ') || 'nothing'})`,
      );
      return {
        name,
        role: 'provider',
        nodeId: run.agent!.nodeId,
        apiUrl: run.apiUrl,
        appKey: run.appKey,
        dataDir,
        runtimes: working,
      };
    };

    progress(
      `nodes: starting the requestor and ${options.providers} providers (golemsp; runtimes self-test first)`,
    );
    const requestorStarted = startNode('requestor', 'requestor', [], options.apiPort ?? 0);
    const names = Array.from({ length: options.providers }, (_, i) => `provider-${i + 1}`);
    // VM self-tests boot a VM each: one at a time, so parallel software-emulated boots do not starve each other.
    const providers: NodeInfo[] = [];
    if (runtimes.includes('vm')) for (const name of names) providers.push(await startProvider(name));
    else providers.push(...(await Promise.all(names.map(startProvider))));
    const requestor = await requestorStarted;
    if (providers.every((p) => p.runtimes.length === 0))
      throw new GolemError(DevnetErrorCode.StartFailed, 'no provider offers anything', {
        details: { notes },
      });

    checkpoint();
    progress('payment: funding the requestor with tGLM and gas');
    const control = await ControlConnection.connect(join(requestor.dataDir, 'yagna.sock'));
    try {
      await control.call(PaymentLocalAddress.Fund, { platform: PLATFORM }, { timeoutMs: 60_000 });
    } finally {
      control.close();
    }

    progress('market: waiting until every provider is visible at the requestor');
    await waitForOffers(requestor, providers);

    const env = {
      YAGNA_API_URL: requestor.apiUrl,
      YAGNA_APPKEY: requestor.appKey,
      PAYMENT_NETWORK,
      GOLEM_REGISTRY_URL: registry.url,
    };
    const state: DevnetState = {
      dir,
      startedAt: new Date().toISOString(),
      ready: true,
      supervisor: { pid: process.pid, cmdline: readSelfCmdline() },
      chain: { rpcUrl, ...contracts },
      relay: { nodeId: relayInfo.nodeId, address: relayAddress },
      registryUrl: registry.url,
      requestor: requestor,
      providers,
      // Read now, not at spawn: right after fork the child's command line is still this process's.
      processes: [...children.map((c) => c.record), ...extra].map((record) => ({
        ...record,
        cmdline: readCmdline(record.pid) ?? '',
      })),
      notes,
      env,
    };
    const envFile = join(dir, DEVNET_ENV);
    writeFileSync(
      envFile,
      `# golem-ts devnet: source this file, then run golem-js programs or \`golem run\`\n${Object.entries(env)
        .map(([k, v]) => `export ${k}=${v}`)
        .join('\n')}\n`,
    );
    checkpoint();
    writeFileSync(join(dir, DEVNET_STATE), `${JSON.stringify(state, null, 2)}\n`);
    signal?.removeEventListener('abort', onAbort);
    return {
      state,
      envFile,
      stop: async () => {
        await stop();
        rmSync(join(dir, DEVNET_STATE), { force: true });
      },
    };
  } catch (error) {
    signal?.removeEventListener('abort', onAbort);
    await stop();
    // A process that exited because the start was interrupted is no failure of its own.
    throw signal?.aborted ? interrupted() : error;
  }
}

/** Every provider has all its offers at the requestor (a one-way scan of the requestor's market). */
async function waitForOffers(requestor: NodeInfo, providers: NodeInfo[]): Promise<void> {
  const api = new RestClient(requestor);
  const wanted = new Map(providers.map((p) => [p.nodeId, p.runtimes.length]));
  const seen = new Map<string, number>();
  const scanId = await api.post<string>('/market-api/v1/scan', {
    type: 'offer',
    constraints: `(golem.node.debug.subnet=${SUBNET})`,
  });
  try {
    await waitUntil(
      undefined,
      'the providers’ offers at the requestor',
      async () => {
        const offers = await api.get<{ providerId: string }[]>(
          `/market-api/v1/scan/${scanId}/events?timeout=1`,
        );
        for (const offer of offers) seen.set(offer.providerId, (seen.get(offer.providerId) ?? 0) + 1);
        return [...wanted].every(([id, offers]) => (seen.get(id) ?? 0) >= offers) ? true : undefined;
      },
      60_000,
    );
  } finally {
    await api.delete(`/market-api/v1/scan/${scanId}`).catch(() => undefined);
  }
}

function readSelfCmdline(): string {
  return readCmdline(process.pid) ?? '';
}

async function rpcAnswers(rpcUrl: string): Promise<true | undefined> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    return response.ok ? true : undefined;
  } catch {
    return undefined;
  }
}
