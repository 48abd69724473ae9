/**
 * `golem run` against a provider that overcharges, on a real devnet (anvil, relay, an honest golemsp provider) plus
 * a provider daemon driven by a small scripted agent in this test, over REST only: it offers the honest provider's
 * terms for a fifth of the price, runs the activity like any provider (its daemon spawns the ExeUnit), bills the
 * start price honestly while the activity runs, then a final debit note and an invoice at ten times the agreed price
 * of the usage its own daemon measured.
 *
 * What the user sees: the honest part is accepted and paid on chain, the inflated debit note is not accepted and
 * the invoice is rejected through the payment API (INCORRECT_AMOUNT, with a message the provider reads), not a
 * wei above the agreed amount reaches the provider's address, the dispute is in the summary and in the reputation
 * file, and the next run goes to the honest provider although the cheater is cheaper.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPublicClient, http, parseAbi } from 'viem';
import { formatUnits, linearCost, toUnits } from '../../src/agents/provider/money.ts';
import type { DevnetState } from '../../src/devnet/devnet.ts';
import { RUNTIMES_DIR } from '../../src/devnet/processes.ts';
import { api, CLI_MAIN, type DaemonHandle, REPO_ROOT, startDaemon, tempDir } from '../support/daemon.ts';
import { sourceEnv } from '../support/devnet.ts';

const cli = (args: string[], timeout = 180_000) =>
  spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Props = Record<string, unknown>;
const COEFFS = 'golem.com.pricing.model.linear.coeffs';
const OVERCHARGE = 10n;

async function json<T>(daemon: DaemonHandle, path: string, init: RequestInit = {}): Promise<T> {
  const response = await api(daemon, path, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}
const post = <T>(daemon: DaemonHandle, path: string, body?: unknown) =>
  json<T>(daemon, path, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) });

/**
 * The cheater's agent: answers every demand with its offer, approves every agreement, and bills each activity:
 * the start price at once (honest), then, once the agreement ended, a final note and an invoice at OVERCHARGE
 * times the price of the usage its daemon measured. Records what it billed.
 */
function cheatingAgent(daemon: DaemonHandle, offer: { properties: Props; constraints: string }) {
  let running = true;
  const billed: { agreementId: string; fair: bigint; asked: bigint; invoiceId: string }[] = [];
  const coeffs = offer.properties[COEFFS] as number[];
  const bill = async (agreementId: string) => {
    let activityId: string | undefined;
    while (running && activityId === undefined) {
      activityId = (await json<string[]>(daemon, `/activity-api/v1/activity?agreementId=${agreementId}`))[0];
      if (activityId === undefined) await sleep(200);
    }
    if (activityId === undefined) return;
    // The honest note: the start price. The requestor's node knows the activity only once its creation returned
    // there, and refuses a note before that: the agent issues it again until it is taken.
    for (let taken = false; !taken && running; ) {
      const first = await post<{ debitNoteId: string }>(daemon, '/payment-api/v1/debitNotes', {
        activityId,
        totalAmountDue: String(coeffs.at(-1)),
        usageCounterVector: coeffs.slice(0, -1).map(() => 0),
      });
      taken = await post(daemon, `/payment-api/v1/debitNotes/${first.debitNoteId}/send?timeout=15`).then(
        () => true,
        () => sleep(200).then(() => false),
      );
    }
    while (running) {
      const agreement = await json<{ state: string }>(daemon, `/market-api/v1/agreements/${agreementId}`);
      if (agreement.state === 'Terminated') break;
      await sleep(300);
    }
    // The daemon stores the ExeUnit's final usage before it shuts the ExeUnit down.
    const usage = await json<{ currentUsage: number[] | null }>(
      daemon,
      `/activity-api/v1/activity/${activityId}/usage`,
    );
    const counters = usage.currentUsage ?? coeffs.slice(0, -1).map(() => 0);
    const fair = linearCost(coeffs, counters);
    const asked = fair * OVERCHARGE;
    const last = await post<{ debitNoteId: string }>(daemon, '/payment-api/v1/debitNotes', {
      activityId,
      totalAmountDue: formatUnits(asked),
      usageCounterVector: counters,
    });
    await post(daemon, `/payment-api/v1/debitNotes/${last.debitNoteId}/send?timeout=15`);
    const invoice = await post<{ invoiceId: string }>(daemon, '/payment-api/v1/invoices', {
      agreementId,
      activityIds: [activityId],
      amount: formatUnits(asked),
      paymentDueDate: new Date(Date.now() + 600_000).toISOString(),
    });
    await post(daemon, `/payment-api/v1/invoices/${invoice.invoiceId}/send?timeout=15`);
    billed.push({ agreementId, fair, asked, invoiceId: invoice.invoiceId });
  };
  const loop = (async () => {
    const subscription = await post<string>(daemon, '/market-api/v1/offers', offer);
    const base = `/market-api/v1/offers/${subscription}`;
    while (running) {
      const events = await json<
        {
          eventType: string;
          proposal?: { proposalId: string; state: string };
          agreement?: { agreementId: string };
        }[]
      >(daemon, `${base}/events?timeout=1&maxEvents=10`).catch(() => []);
      for (const event of events) {
        if (event.eventType === 'ProposalEvent' && event.proposal !== undefined)
          await post(daemon, `${base}/proposals/${event.proposal.proposalId}`, offer).catch(() => undefined);
        if (event.eventType === 'AgreementEvent' && event.agreement !== undefined) {
          const id = event.agreement.agreementId;
          await post(daemon, `/market-api/v1/agreements/${id}/approve?appSessionId=cheater&timeout=10`);
          void bill(id).catch((error) => console.error('cheater billing failed', error));
        }
      }
    }
  })();
  return {
    billed,
    /** The start price it offers (the last linear coefficient), the one honest amount it bills. */
    startPrice: String(coeffs.at(-1)),
    stop: async () => {
      running = false;
      await loop.catch(() => undefined);
    },
  };
}

describe('golem run against an overcharging provider', () => {
  const dir = join(tempDir('requestor-disputes-'), 'net');
  const requestorDir = tempDir('golem-');
  let state: DevnetState;
  let cheater: DaemonHandle;
  let agent: ReturnType<typeof cheatingAgent>;

  before(async () => {
    const up = cli(['devnet', 'up', '--dir', dir, '--providers', '1', '--runtimes', 'wasi', '--detach']);
    assert.equal(up.status, 0, up.stdout + up.stderr);
    state = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
    cheater = await startDaemon({
      env: {
        YA_NET_RELAY: state.relay.address,
        DEV_GETH_ADDR: state.chain.rpcUrl,
        ERC20_SENDOUT_INTERVAL_SECS: '1',
        GOLEM_PAYMENT_BATCH_WINDOW_S: '1',
        GOLEM_PAYMENT_RETRY_INITIAL_MS: '250',
        EXE_UNIT_PATH: join(RUNTIMES_DIR, 'wasi', 'descriptor.json'),
      },
    });
    // The honest provider's offer, under the cheater's name and address, at a tenth of the price.
    const honest = state.providers[0]!;
    const offers = await json<{ properties: Props; constraints: string }[]>(
      { ...cheater, apiUrl: honest.apiUrl, appKey: honest.appKey } as DaemonHandle,
      '/market-api/v1/offers',
    );
    const properties: Props = { ...offers[0]!.properties, 'golem.node.id.name': 'cheater' };
    for (const key of Object.keys(properties))
      if (/^golem\.com\.payment\.platform\..+\.address$/.test(key)) properties[key] = cheater.nodeId;
    // Cheaper: a tenth of each usage price; a start price (golemsp's is 0) of a tenth of the honest minute, so the
    // one honest amount it bills is not zero.
    const honestCoeffs = properties[COEFFS] as number[];
    const minute = 60 * honestCoeffs.slice(0, -1).reduce((sum, c) => sum + c, 0);
    properties[COEFFS] = [
      ...honestCoeffs.slice(0, -1).map((c) => c / 10),
      Number((minute / 10).toPrecision(3)),
    ];
    agent = cheatingAgent(cheater, { properties, constraints: offers[0]!.constraints });
    // The requestor sees both providers before the run (the market reconciles on connect).
    const env = sourceEnv(join(dir, 'devnet.env'));
    const requestor = { apiUrl: env.YAGNA_API_URL!, appKey: env.YAGNA_APPKEY! } as DaemonHandle;
    const scan = await post<string>(requestor, '/market-api/v1/scan', { type: 'offer' });
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (!seen.has(cheater.nodeId) && Date.now() < deadline)
      for (const o of await json<{ providerId: string }[]>(
        requestor,
        `/market-api/v1/scan/${scan}/events?timeout=1`,
      ))
        seen.add(o.providerId);
    assert.ok(seen.has(cheater.nodeId), 'the cheater’s offer reached the requestor');
  });
  after(async () => {
    await agent?.stop();
    await cheater?.stop();
    cli(['devnet', 'down', '--dir', dir]);
  });

  /** `golem run` as a process; asynchronous, so the cheater's agent in this process keeps answering meanwhile. */
  const golemRun = () =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(REPO_ROOT, 'bin', 'golem.js'), 'run', '--runtime', 'wasi', '--json', '--', 'echo', 'hi'],
        { env: { ...process.env, ...sourceEnv(join(dir, 'devnet.env')), GOLEM_REQUESTOR_DIR: requestorDir } },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
      });
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
      child.on('close', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr });
      });
    });
  type Summary = {
    providers: {
      providerId: string;
      ok: boolean;
      cost: string;
      invoiceStatus: string;
      transactions: string[];
      disputes: { document: string; reason: string; claimed: string; allowed: string; rejected: boolean }[];
    }[];
  };

  it('rejects the overcharge, pays only what was agreed on chain, and records the dispute', async () => {
    const run = await golemRun();
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.stdout.startsWith('hi\n'), run.stdout);
    const summary = JSON.parse(run.stdout.slice('hi\n'.length)) as Summary;
    const outcome = summary.providers[0]!;
    assert.equal(outcome.providerId, cheater.nodeId, `the cheaper provider was chosen first:\n${run.stderr}`);
    assert.match(run.stderr, /\[golem\] payment: DISPUTE with cheater/);
    // The invoice was rejected at the requestor; the inflated note was not accepted (yagna cannot reject notes).
    assert.equal(outcome.invoiceStatus, 'REJECTED');
    const billed = agent.billed[0]!;
    assert.deepEqual(
      outcome.disputes.map((d) => [d.document, d.reason, toUnits(d.claimed), d.rejected]),
      [
        ['debitNote', 'INCORRECT_AMOUNT', billed.asked, false],
        ['invoice', 'INCORRECT_AMOUNT', billed.asked, true],
      ],
    );
    assert.ok(outcome.disputes.every((d) => toUnits(d.allowed) <= billed.fair));
    // The provider's copy of the invoice reads REJECTED, with the reason and the message.
    const invoice = await json<{ status: string }>(cheater, `/payment-api/v1/invoices/${billed.invoiceId}`);
    assert.equal(invoice.status, 'REJECTED');
    const events = await json<
      { eventType: string; rejection?: { rejectionReason: string; message: string } }[]
    >(
      cheater,
      `/payment-api/v1/invoiceEvents?timeout=0&afterTimestamp=${encodeURIComponent(new Date(0).toISOString())}`,
    );
    const rejected = events.find((e) => e.eventType === 'InvoiceRejectedEvent');
    assert.equal(rejected?.rejection?.rejectionReason, 'INCORRECT_AMOUNT');
    assert.match(rejected?.rejection?.message ?? '', /asks .* GLM, the agreed price of the usage is/);
    // On chain: the cheater's address holds exactly the honest start price it billed first, nothing more.
    const start = toUnits(agent.startPrice);
    assert.equal(toUnits(outcome.cost), start);
    assert.match(outcome.transactions[0] ?? '', /^0x[0-9a-f]{64}$/);
    const chain = createPublicClient({ transport: http(state.chain.rpcUrl) });
    const balance = await chain.readContract({
      address: state.chain.token as `0x${string}`,
      abi: parseAbi(['function balanceOf(address) view returns (uint256)']),
      functionName: 'balanceOf',
      args: [cheater.nodeId as `0x${string}`],
    });
    assert.equal(balance, start);
    assert.ok(balance < billed.asked);
    // The reputation file keeps the dispute.
    const reputation = JSON.parse(readFileSync(join(requestorDir, 'reputation.json'), 'utf8'));
    assert.equal(reputation[cheater.nodeId].disputes, 1);
  });

  it('the next run prefers the honest provider, and pays it in full', async () => {
    const run = await golemRun();
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout.slice('hi\n'.length)) as Summary;
    const outcome = summary.providers[0]!;
    assert.equal(outcome.providerId, state.providers[0]!.nodeId);
    assert.equal(outcome.invoiceStatus, 'SETTLED');
    assert.deepEqual(outcome.disputes, []);
    assert.equal(agent.billed.length, 1, 'the cheater got no second agreement');
  });
});
