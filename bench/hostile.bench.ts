/**
 * A victim daemon (a real process) under attack by one hostile peer (another process), while a third process
 * measures the victim's REST latency (`/version/get`) and an honest daemon (a fourth process) publishes an offer
 * whose arrival at the victim is timed and traced stage by stage. Two attacks, each beside the same figures without attack:
 * - a one-peer offer flood at full speed (validly signed offers of one identity, straight into gossip);
 * - the idle-stream attack (3 identities × 400 bus streams that send one byte and stop).
 * Also reported: the victim's RSS and database growth during each attack.
 *
 * The same file is the attacker and the prober when run as `node bench/hostile.bench.ts --attack|--probe …`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { LocalBus } from '../src/core/bus/index.ts';
import { resolveConfig } from '../src/core/config/index.ts';
import { ControlConnection } from '../src/core/control/index.ts';
import { nodeIdFromSecret } from '../src/core/crypto/index.ts';
import { openDatabase } from '../src/core/db/index.ts';
import { silentLogger } from '../src/core/log/index.ts';
import { DiscoveryAddress, OFFERS_TOPIC, type SignedOffer } from '../src/core/model/market.ts';
import { NetAddress, type NetStatus } from '../src/core/model/net.ts';
import { BUS_PROTOCOL, createHost, GOSSIP_PREFIX, NetService } from '../src/core/net/index.ts';
import { api, CLI_MAIN, type DaemonHandle, startDaemon, startRelayProcess } from '../test/support/daemon.ts';
import { signedOffer } from '../test/support/signed-market.ts';
import { type Benchmark, percentile } from './harness.ts';

const SELF = fileURLToPath(import.meta.url);
const ATTACK_MS = 12_000;
const FLOOD_OFFERS = 6_000;

// ---------------------------------------------------------------- child roles

/** Prober: GETs `/version/get` back to back for `ms`, then prints the latencies (ms) as JSON. */
async function probe(apiUrl: string, ms: number): Promise<void> {
  const latencies: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const start = performance.now();
    try {
      await fetch(`${apiUrl}/version/get`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text());
      latencies.push(performance.now() - start);
    } catch {
      latencies.push(30_000);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  process.stdout.write(`${JSON.stringify(latencies)}\n`);
}

/** Attacker: `flood` publishes validly signed offers as fast as gossip takes them; `streams` opens idle streams. */
async function attack(mode: string, victimAddress: string, ms: number): Promise<void> {
  if (mode === 'streams') {
    const hosts = await Promise.all(
      [0, 1, 2].map(() =>
        createHost({ secret: new Uint8Array(randomBytes(32)), listen: [], autonat: false }),
      ),
    );
    process.stdout.write('ready\n');
    let opened = 0;
    await Promise.all(
      hosts.map(async (host) => {
        for (let i = 0; i < 400; i++) {
          try {
            const stream = await host.dialProtocol(multiaddr(victimAddress), BUS_PROTOCOL, {
              signal: AbortSignal.timeout(5_000),
            });
            stream.send(new Uint8Array([0]));
            opened++;
          } catch {
            // refused or cut off: keep trying, as an attacker would
          }
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, ms));
    process.stdout.write(`${JSON.stringify({ opened })}\n`);
    await Promise.all(hosts.map((host) => host.stop()));
    return;
  }
  const db = openDatabase(':memory:');
  const bus = new LocalBus();
  const config = resolveConfig({}, { YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0', YA_NET_NEIGHBOURS: '1' });
  const secret = new Uint8Array(randomBytes(32));
  bus.setNodeIds(nodeIdFromSecret(secret));
  const net = new NetService({ db, bus, logger: silentLogger, config }, { secret });
  await net.start();
  bus.subscribe(OFFERS_TOPIC, () => {});
  const offers = Array.from({ length: FLOOD_OFFERS }, (_, i) =>
    signedOffer(secret, {
      properties: { 'golem.node.id.name': `flood-${i}`, 'golem.inf.mem.gib': 1 + (i % 64) },
    }),
  );
  await net.host!.dial(multiaddr(victimAddress));
  const topic = GOSSIP_PREFIX + OFFERS_TOPIC;
  const deadline = Date.now() + 10_000;
  while (net.host!.services.pubsub.getSubscribers(topic).length === 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  process.stdout.write('ready\n');
  const end = Date.now() + ms;
  let sent = 0;
  for (let i = 0; Date.now() < end; i++) {
    if (i < offers.length) {
      await bus.publish(OFFERS_TOPIC, offers[i]);
      sent++;
    } else await new Promise((resolve) => setTimeout(resolve, 50));
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  process.stdout.write(`${JSON.stringify({ sent })}\n`);
  await net.stop();
}

if (process.argv[1] === SELF && process.argv[2] === '--probe') {
  await probe(process.argv[3]!, Number(process.argv[4]));
  process.exit(0);
}
if (process.argv[1] === SELF && process.argv[2] === '--attack') {
  await attack(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
  process.exit(0);
}

// ---------------------------------------------------------------- the bench

function child(args: string[]) {
  const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  proc.stdout.on('data', (chunk) => {
    out += chunk;
    let nl = out.indexOf('\n');
    while (nl >= 0) {
      lines.push(out.slice(0, nl));
      out = out.slice(nl + 1);
      nl = out.indexOf('\n');
      for (const wake of waiters.splice(0)) wake();
    }
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    async line(index: number): Promise<string> {
      while (lines.length <= index) {
        if (proc.exitCode !== null) throw new Error(`child ${args[0]} exited early`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return lines[index]!;
    },
    exited,
    kill: () => proc.kill('SIGKILL'),
  };
}

/** CPU time (user + system) a process has used, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Time a process spent waiting for a core while runnable, and blocked on disk I/O, in ms (`/proc/<pid>/schedstat`
 * for all its threads, `delayacct_blkio_ticks`): what separates "the victim is slow" from "the machine is busy".
 */
function waitMs(pid: number): { runQueue: number; blockIo: number } {
  let runQueue = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      runQueue += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
    } catch {
      // the thread ended
    }
  }
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { runQueue, blockIo: DELAY_ACCOUNTING ? Number(fields[39]) * 10 : Number.NaN };
}

/**
 * Blocked-on-disk time is counted only with the kernel's delay accounting on (`kernel.task_delayacct`); off, the
 * field reads 0 whatever happened (an earlier note here read that as "never waited on disk"), so it is reported n/a.
 */
const DELAY_ACCOUNTING = (() => {
  try {
    return readFileSync('/proc/sys/kernel/task_delayacct', 'utf8').trim() === '1';
  } catch {
    return false;
  }
})();

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

function dbBytes(dataDir: string): number {
  return readdirSync(dataDir)
    .filter((name) => name.includes('.db'))
    .reduce((sum, name) => sum + statSync(join(dataDir, name)).size, 0);
}

interface Scenario {
  restP50: number;
  restP99: number;
  restMax: number;
  arrivalMs: number;
  rssGrowth: number;
  dbGrowth: number;
  note: string;
  /** Share of one core the victim used during the attack window. */
  victimCpu: number;
  /** Share of the window the victim's threads waited for a core while runnable, and were blocked on disk. */
  victimRunQueue: number;
  victimBlockIo: number;
  /** Share of one core the honest node's process used during the window, and waited for one. */
  honestCpu: number;
  honestRunQueue: number;
  /** The honest offer's path, stage by stage (ms after the bench asked the honest node to publish it). */
  trace: string;
}

interface Setup {
  victim: DaemonHandle;
  honest: DaemonHandle;
  control: ControlConnection;
  victimAddress: string;
  stop(): Promise<void>;
}

/**
 * The victim and the honest node are daemons in processes of their own (the bench process only asks and times), so
 * the arrival figure measures the victim, not a bench process that is itself flooded. Both log a timestamped trace
 * of the honest node's gossip (`YA_NET_TRACE_FROM`).
 */
async function setUp(): Promise<Setup> {
  const relay = await startRelayProcess();
  const honestSecret = randomBytes(32);
  const honestPeer = peerIdFromPrivateKey(privateKeyFromRaw(honestSecret)).toString();
  const traced = {
    YA_NET_RELAY: relay.addresses[0]!,
    YAGNA_LOG_LEVEL: 'info',
    YAGNA_LOG_FORMAT: 'json',
    YA_NET_TRACE_FROM: honestPeer,
  };
  // HOSTILE_PROFILE_DIR=<dir>: the victim writes a CPU profile there when it stops (node --cpu-prof).
  const profile = process.env.HOSTILE_PROFILE_DIR;
  const victim = await startDaemon({
    env: traced,
    ...(profile === undefined
      ? {}
      : { command: [process.execPath, '--cpu-prof', `--cpu-prof-dir=${profile}`, CLI_MAIN] }),
  });
  const honest = await startDaemon({
    env: { ...traced, YAGNA_AUTOCONF_ID_SECRET: honestSecret.toString('hex') },
  });
  const control = await ControlConnection.connect(join(victim.dataDir, 'yagna.sock'));
  const status = await control.call<NetStatus>(NetAddress.Status);
  const victimAddress = status.listenAddrs[0]!;
  const honestControl = await ControlConnection.connect(join(honest.dataDir, 'yagna.sock'));
  await honestControl.call(NetAddress.Find, { nodeId: victim.nodeId }, { timeoutMs: 15_000 });
  await honestControl.close();
  // Until one offer has crossed, the honest node may not know yet that the victim takes offers.
  const setup = { victim, honest, control, victimAddress } as Setup;
  if ((await honestArrival(setup, `warm-up-${Date.now()}`)).arrivalMs >= 60_000)
    throw new Error('the honest node cannot reach the victim');
  process.stderr.write(
    `hostile: victim ${status.peerId}, honest ${honestPeer}, relay ${relay.addresses[0]}\n`,
  );
  setup.stop = async () => {
    await control.close();
    await Promise.all([victim.stop(), honest.stop()]);
    await relay.stop();
    victim.cleanup();
    honest.cleanup();
  };
  return setup;
}

/** Wall-clock ms with sub-millisecond precision, as the daemons' trace lines carry it. */
const preciseNow = () => performance.timeOrigin + performance.now();

interface TraceLine {
  stage?: string;
  at?: number;
  via?: string;
  verdict?: string;
  batch?: number;
  ms?: number;
  turnsBefore?: number;
}

function traceLines(logs: string, from: number): TraceLine[] {
  const lines: TraceLine[] = [];
  for (const text of logs.slice(from).split('\n')) {
    if (!text.includes('gossip trace')) continue;
    try {
      lines.push((JSON.parse(text) as { fields: TraceLine }).fields);
    } catch {
      // a line cut in half at the end of the buffer
    }
  }
  return lines;
}

/**
 * Publishes an honest offer through the honest daemon's REST API and times until the victim serves it; returns
 * that time and the trace of its path (the honest node's publish, then each stage at the victim).
 */
async function honestArrival(setup: Setup, name: string): Promise<{ arrivalMs: number; trace: string }> {
  const victimLogsFrom = setup.victim.logs().length;
  const honestLogsFrom = setup.honest.logs().length;
  const start = preciseNow();
  const response = await api(setup.honest, '/market-api/v1/offers', {
    method: 'POST',
    body: JSON.stringify({ properties: { 'golem.node.id.name': name }, constraints: '()' }),
  });
  if (response.status !== 201) throw new Error(`the honest node refused its offer: ${await response.text()}`);
  const offerId = (await response.json()) as string;
  let arrivalMs = 60_000;
  for (;;) {
    const got = await setup.control
      .call<SignedOffer[]>(DiscoveryAddress.Get, { ids: [offerId] }, { timeoutMs: 60_000 })
      .catch(() => []);
    if (got.length > 0) {
      arrivalMs = preciseNow() - start;
      break;
    }
    if (preciseNow() - start > 60_000) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const stages = [
    ...traceLines(setup.honest.logs(), honestLogsFrom).map((line) => ({ ...line, where: 'honest' })),
    ...traceLines(setup.victim.logs(), victimLogsFrom).map((line) => ({ ...line, where: 'victim' })),
  ]
    .filter((line) => line.at !== undefined)
    .sort((a, b) => a.at! - b.at!);
  const via = (line: TraceLine) => (line.via === undefined ? '' : ` via ${line.via.slice(-6)}`);
  const trace = [
    ...stages.map(
      (line) =>
        `${(line.at! - start).toFixed(1)} ${line.where} ${line.stage}${via(line)}${line.verdict === undefined ? '' : ` ${line.verdict}`}${line.batch === undefined ? '' : ` (rpc of ${line.batch})`}${line.ms === undefined ? '' : ` ${line.ms.toFixed(0)} ms`}${line.turnsBefore === undefined ? '' : ` after ${line.turnsBefore} other turns`}`,
    ),
    `${arrivalMs.toFixed(1)} bench: served by the victim's discovery`,
  ].join('; ');
  return { arrivalMs, trace };
}

async function scenario(setup: Setup, attackMode: 'none' | 'flood' | 'streams'): Promise<Scenario> {
  const pid = setup.victim.process.pid!;
  const honestPid = setup.honest.process.pid!;
  const rssBefore = rssBytes(pid);
  const cpuBefore = cpuMs(pid);
  const waitBefore = waitMs(pid);
  const honestCpuBefore = cpuMs(honestPid);
  const honestWaitBefore = waitMs(honestPid);
  const started = performance.now();
  const dbBefore = dbBytes(setup.victim.dataDir);
  const attacker =
    attackMode === 'none'
      ? undefined
      : child(['--attack', attackMode, setup.victimAddress, String(ATTACK_MS)]);
  if (attacker !== undefined) await attacker.line(0);
  const prober = child(['--probe', setup.victim.apiUrl, String(ATTACK_MS)]);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, rssBytes(pid));
  }, 100);
  // The honest offer goes out once the attack is in full swing.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const { arrivalMs, trace } = await honestArrival(setup, `honest-${attackMode}-${Date.now()}`);
  const latencies = JSON.parse(await prober.line(0)) as number[];
  const note = attacker === undefined ? '' : await attacker.line(1);
  clearInterval(sampler);
  const window = performance.now() - started;
  const victimCpu = (cpuMs(pid) - cpuBefore) / window;
  const waitAfter = waitMs(pid);
  const honestWaitAfter = waitMs(honestPid);
  attacker?.kill();
  await attacker?.exited;
  process.stderr.write(
    `hostile: ${attackMode}: REST p50/p99/max ${percentile(latencies, 50).toFixed(0)}/${percentile(latencies, 99).toFixed(0)}/${Math.max(...latencies).toFixed(0)} ms (${latencies.length} calls); honest offer ${arrivalMs.toFixed(0)} ms: ${trace}\n`,
  );
  return {
    restP50: percentile(latencies, 50),
    restP99: percentile(latencies, 99),
    restMax: Math.max(...latencies),
    arrivalMs,
    rssGrowth: rssPeak - rssBefore,
    dbGrowth: dbBytes(setup.victim.dataDir) - dbBefore,
    note,
    victimCpu,
    victimRunQueue: (waitAfter.runQueue - waitBefore.runQueue) / window,
    victimBlockIo: (waitAfter.blockIo - waitBefore.blockIo) / window,
    honestCpu: (cpuMs(honestPid) - honestCpuBefore) / window,
    honestRunQueue: (honestWaitAfter.runQueue - honestWaitBefore.runQueue) / window,
    trace,
  };
}

let measured: Promise<Record<'none' | 'flood' | 'streams', Scenario>> | undefined;

/** All three scenarios on one victim, measured once for every figure below. */
function measure() {
  measured ??= (async () => {
    const setup = await setUp();
    try {
      const none = await scenario(setup, 'none');
      const flood = await scenario(setup, 'flood');
      const streams = await scenario(setup, 'streams');
      const status = await setup.control.call<NetStatus>(NetAddress.Status);
      process.stderr.write(
        `hostile: victim CPU (share of one core) idle ${none.victimCpu.toFixed(2)}, flood ${flood.victimCpu.toFixed(2)}, streams ${streams.victimCpu.toFixed(2)}; victim waiting for a core (share of the window, summed over its threads) idle ${none.victimRunQueue.toFixed(2)}, flood ${flood.victimRunQueue.toFixed(2)}, streams ${streams.victimRunQueue.toFixed(2)}; victim blocked on disk ${DELAY_ACCOUNTING ? `idle ${none.victimBlockIo.toFixed(2)}, flood ${flood.victimBlockIo.toFixed(2)}, streams ${streams.victimBlockIo.toFixed(2)}` : 'n/a (kernel.task_delayacct is off)'}; machine load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}; honest node's CPU idle ${none.honestCpu.toFixed(2)}, flood ${flood.honestCpu.toFixed(2)}, streams ${streams.honestCpu.toFixed(2)}; honest node waiting for a core idle ${none.honestRunQueue.toFixed(2)}, flood ${flood.honestRunQueue.toFixed(2)}, streams ${streams.honestRunQueue.toFixed(2)}; flood attacker ${flood.note}, stream attacker ${streams.note}; victim guard ${JSON.stringify(status.guard)}\n`,
      );
      return { none, flood, streams };
    } finally {
      await setup.stop();
    }
  })();
  return measured;
}

const MIB = 1024 * 1024;

/** One figure of an attack beside the same figure without attack. */
function figure(
  name: string,
  unit: string,
  goal: Benchmark['goal'],
  attack: 'flood' | 'streams',
  pick: (scenario: Scenario) => number,
  baselineName: string,
): Benchmark {
  return {
    name,
    unit,
    better: 'lower',
    goal,
    run: async () => {
      const all = await measure();
      return { value: pick(all[attack]), baseline: pick(all.none), baselineName };
    },
  };
}

function attackBenchmarks(attack: 'flood' | 'streams', label: string): Benchmark[] {
  const rest = (s: Scenario) => s.restP99;
  return [
    figure(
      `hostile: REST /version/get p99 during ${label} vs idle p99`,
      'ms',
      { op: '<=', ratio: 5 },
      attack,
      rest,
      'REST p99 without attack',
    ),
    figure(
      `hostile: REST /version/get p99 during ${label} (absolute)`,
      'ms',
      { op: '<', value: 250 },
      attack,
      rest,
      'REST p99 without attack',
    ),
    figure(
      `hostile: honest offer arrival at the victim during ${label}`,
      'ms',
      { op: '<=', ratio: 2 },
      attack,
      (s) => s.arrivalMs,
      'same without attack',
    ),
    figure(
      `hostile: victim RSS growth during ${label}`,
      'MiB',
      undefined,
      attack,
      (s) => s.rssGrowth / MIB,
      'RSS growth without attack',
    ),
    // One identity may hold at most perProviderBytesLimit (4 MiB) of offers; SQLite pages and WAL on top.
    figure(
      `hostile: victim database growth during ${label}`,
      'MiB',
      { op: '<=', value: 8 },
      attack,
      (s) => s.dbGrowth / MIB,
      'database growth without attack',
    ),
  ];
}

export const benchmarks: Benchmark[] = [
  ...attackBenchmarks('flood', 'a one-peer offer flood'),
  ...attackBenchmarks('streams', 'the idle-stream attack'),
];
