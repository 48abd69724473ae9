/**
 * `golemsp` as a real process for e2e tests, and a requestor driven through the official ya-ts-client against
 * a provider whose agent negotiates on its own: demand with the allocation's decorations, counter the provider's
 * offer, wait for the agent's counter, agreement, confirm, approval; debit notes and invoices accepted (or not)
 * as a test's requestor chooses.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MarketApi } from 'ya-ts-client';
import type { StatusReport } from '../../src/agents/provider/index.ts';
import { type DaemonHandle, REPO_ROOT, runCli, tempDir } from './daemon.ts';
import { eventually } from './net.ts';
import { PLATFORM, payments } from './payment.ts';

export const GOLEMSP = join(REPO_ROOT, 'bin', 'golemsp.js');

export interface GolemspHandle {
  dataDir: string;
  apiUrl: string;
  appKey: string;
  nodeId: string;
  process: ChildProcess;
  logs(): string;
  /** `golemsp status --json`, run as its own process. */
  status(): StatusReport;
  stop(): Promise<number | null>;
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface GolemspOptions {
  dataDir?: string;
  env?: Record<string, string>;
  args?: string[];
}

export async function startGolemsp(options: GolemspOptions = {}): Promise<GolemspHandle> {
  const dataDir = options.dataDir ?? tempDir('golemsp-');
  const child = spawn(process.execPath, [GOLEMSP, 'run', '--data-dir', dataDir, ...(options.args ?? [])], {
    env: {
      ...process.env,
      YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0',
      YAGNA_API_URL: 'http://127.0.0.1:0',
      GOLEMSP_TICK_MS: '500',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let logs = '';
  const logFile = join(dataDir, 'golemsp.log');
  for (const stream of [child.stdout, child.stderr])
    stream?.on('data', (chunk) => {
      logs += chunk;
      appendFileSync(logFile, chunk);
    });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  const runFile = join(dataDir, 'golemsp.json');
  let info: { apiUrl: string; appKey: string; agent: { nodeId: string } | null; pid: number } | undefined;
  await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`golemsp exited with ${child.exitCode}:\n${logs}`);
      if (!existsSync(runFile)) return false;
      try {
        const parsed = JSON.parse(readFileSync(runFile, 'utf8'));
        if (parsed.pid === child.pid && parsed.agent !== null) info = parsed;
      } catch {
        // being written
      }
      return info !== undefined;
    },
    'golemsp to publish its offers',
    90_000,
  );
  return {
    dataDir,
    apiUrl: info!.apiUrl,
    appKey: info!.appKey,
    nodeId: info!.agent!.nodeId,
    process: child,
    logs: () => logs,
    status: () => {
      const result = spawnSync(process.execPath, [GOLEMSP, 'status', '--json', '--data-dir', dataDir], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      if (result.status !== 0) throw new Error(`golemsp status failed (${result.status}): ${result.stderr}`);
      return JSON.parse(result.stdout) as StatusReport;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

type Event = {
  eventType: string;
  proposal?: { proposalId: string; state: string; issuerId: string };
  reason?: { message: string };
};

export interface NegotiateOptions {
  subnet: string;
  runtime: string;
  /** Extra demand properties (negotiable terms, multi-activity…). */
  demand?: Record<string, unknown>;
  allocationTotal?: string;
  /** A short agreement: its expiration is set this long after the counter-proposal the agreement is made from. */
  expiresInMs?: number;
}

/** An allocation and an agreement the provider's agent approved on its own. */
export async function agreeWithAgent(
  requestor: DaemonHandle,
  providerId: string,
  options: NegotiateOptions,
): Promise<{ agreementId: string; allocationId: string }> {
  const pay = payments(requestor).requestor;
  const allocation = await pay.createAllocation({
    totalAmount: options.allocationTotal ?? '10',
    paymentPlatform: PLATFORM,
    address: requestor.nodeId,
    timeout: new Date(Date.now() + 3_600_000).toISOString(),
    makeDeposit: false,
  } as never);
  const decorations = await pay.getDemandDecorations([allocation.allocationId]);
  const demand = {
    properties: {
      ...Object.fromEntries(decorations.properties.map((p) => [p.key, p.value])),
      'golem.node.debug.subnet': options.subnet,
      'golem.srv.comp.expiration': Date.now() + 3_600_000,
      ...options.demand,
    },
    constraints: `(&(golem.node.debug.subnet=${options.subnet})(golem.runtime.name=${options.runtime}))`,
  };
  const market = new MarketApi.Client({ BASE: `${requestor.apiUrl}/market-api/v1`, TOKEN: requestor.appKey })
    .requestor;
  const demandId = (await market.subscribeDemand(demand)) as string;
  let found: Event | undefined;
  let pingedAt = 0;
  const next = async (pick: (e: Event) => boolean, what: string) => {
    found = undefined;
    await eventually(
      async () => {
        // Reaching the provider makes the requestor's node reconcile offers with it (a node that joins after the
        // offer was published learns it so, or at the next anti-entropy round); again while nothing came.
        if (Date.now() - pingedAt > 15_000) {
          pingedAt = Date.now();
          runCli(['net', 'ping', providerId], { dataDir: requestor.dataDir });
        }
        const events = (await market.collectOffers(demandId, 1, 10)) as Event[];
        found = events.find(pick);
        return found !== undefined;
      },
      what,
      150_000,
    );
    return found!;
  };
  const initial = await next(
    (e) => e.proposal?.state === 'Initial' && e.proposal.issuerId === providerId,
    "the provider's offer",
  );
  const counter =
    options.expiresInMs === undefined
      ? demand
      : {
          ...demand,
          properties: { ...demand.properties, 'golem.srv.comp.expiration': Date.now() + options.expiresInMs },
        };
  await market.counterProposalDemand(demandId, initial.proposal!.proposalId, counter);
  const draft = await next(
    (e) =>
      (e.proposal?.state === 'Draft' && e.proposal.issuerId === providerId) ||
      e.eventType === 'ProposalRejectedEvent',
    "the agent's counter-proposal",
  );
  if (draft.eventType === 'ProposalRejectedEvent')
    throw new Error(`the agent rejected: ${draft.reason?.message}`);
  const agreementId = (await market.createAgreement({
    proposalId: draft.proposal!.proposalId,
    validTo: new Date(Date.now() + 3_600_000).toISOString(),
  })) as string;
  await market.confirmAgreement(agreementId, 'provider-tests');
  await market.waitForApproval(agreementId, 30);
  await market.unsubscribeDemand(demandId);
  return { agreementId, allocationId: allocation.allocationId };
}

/** A requestor that accepts every debit note and invoice of its allocation as they arrive, until stopped. */
export function acceptEverything(requestor: DaemonHandle, allocationId: string): { stop(): Promise<void> } {
  const pay = payments(requestor).requestor;
  let running = true;
  const loop = async (kind: 'debitNote' | 'invoice') => {
    let cursor = new Date(Date.now() - 60_000).toISOString();
    while (running) {
      const events = (
        kind === 'debitNote'
          ? await pay.getDebitNoteEvents(2, cursor, 50)
          : await pay.getInvoiceEvents(2, cursor, 50)
      ) as { eventType: string; eventDate: string; debitNoteId?: string; invoiceId?: string }[];
      for (const event of events) {
        cursor = event.eventDate;
        if (kind === 'debitNote' && event.eventType === 'DebitNoteReceivedEvent') {
          const note = await pay.getDebitNote(event.debitNoteId!);
          await pay.acceptDebitNote(event.debitNoteId!, {
            totalAmountAccepted: note.totalAmountDue,
            allocationId,
          });
        }
        if (kind === 'invoice' && event.eventType === 'InvoiceReceivedEvent') {
          const invoice = await pay.getInvoice(event.invoiceId!);
          await pay.acceptInvoice(event.invoiceId!, { totalAmountAccepted: invoice.amount, allocationId });
        }
      }
    }
  };
  const loops = [loop('debitNote'), loop('invoice')].map((p) =>
    p.catch((error) => {
      if (running) throw error;
    }),
  );
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
