/**
 * Nodes for the payment module's unit tests: real identities, buses joined by a MemoryNetwork, SQLite files, the
 * payment service with a fake driver over a shared fake chain, and fake market/activity lookups bound on each bus
 * (the market and activity modules are other engineers' work; their bus contracts are what payment uses).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { LocalBus, MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { type Database, openDatabase } from '../../../../src/core/db/index.ts';
import { GolemError } from '../../../../src/core/errors/index.ts';
import { IdentityService } from '../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { type ActivityInfo, ActivityLocalAddress } from '../../../../src/core/model/activity.ts';
import { type AgreementView, MarketLocalAddress } from '../../../../src/core/model/market.ts';
import type { DebitNote, Invoice } from '../../../../src/core/model/payment.ts';
import { PaymentService, type PaymentServiceOptions } from '../../../../src/core/payment/index.ts';
import { FakeChain, FakeDriver, PLATFORM } from './fake-driver.ts';

export interface World {
  network: MemoryNetwork;
  chain: FakeChain;
  agreements: Map<
    string,
    {
      requestorId: string;
      providerId: string;
      demandProperties: Record<string, unknown>;
      offerProperties: Record<string, unknown>;
      appSessionId?: string;
    }
  >;
  activities: Map<string, string>;
  dir: string;
}

export function world(): World {
  return {
    network: new MemoryNetwork(),
    chain: new FakeChain(),
    agreements: new Map(),
    activities: new Map(),
    dir: mkdtempSync(join(tmpdir(), 'payment-unit-')),
  };
}

/** Every node a test file starts (restarts included), stopped once its tests are done. */
const started: TestNode[] = [];
after(async () => {
  for (const node of started) await node.stop().catch(() => {});
});

export interface TestNode {
  nodeId: string;
  bus: LocalBus;
  db: Database;
  payment: PaymentService;
  driver: FakeDriver;
  /** Stops the payment service and leaves the network (the db stays). */
  stop(): Promise<void>;
  /** A new process on the same database and identity. */
  restart(options?: PaymentServiceOptions): Promise<TestNode>;
}

export async function startNode(
  w: World,
  options: PaymentServiceOptions = {},
  secret?: string,
  dbPath?: string,
  reuseDriver?: FakeDriver,
): Promise<TestNode> {
  const path = dbPath ?? join(w.dir, `${randomBytes(6).toString('hex')}.db`);
  const db = openDatabase(path);
  const bus = new LocalBus();
  const key = secret ?? randomBytes(32).toString('hex');
  const identity = new IdentityService({
    db,
    bus,
    logger: silentLogger,
    config: { ...resolveConfig({}, {}), autoconfIdSecret: key },
  });
  await identity.start();
  const nodeId = bus.nodeId!;
  bus.bind(MarketLocalAddress.GetAgreement, (m: unknown) => {
    const { agreementId } = m as { agreementId: string };
    const terms = w.agreements.get(agreementId);
    const role =
      terms?.requestorId === nodeId ? 'requestor' : terms?.providerId === nodeId ? 'provider' : undefined;
    if (terms === undefined || role === undefined)
      throw new GolemError('MARKET_AGREEMENT_NOT_FOUND', 'no such agreement', { httpStatus: 404 });
    const view: AgreementView = {
      agreementId,
      role,
      state: 'Approved',
      requestorId: terms.requestorId,
      providerId: terms.providerId,
      demandId: 'd',
      offerId: 'o',
      demandProperties: terms.demandProperties,
      demandConstraints: '()',
      offerProperties: terms.offerProperties,
      offerConstraints: '()',
      validTo: new Date(Date.now() + 3_600_000).toISOString(),
      createdAt: new Date().toISOString(),
      approvedAt: new Date().toISOString(),
      terminatedAt: null,
      terminatedBy: null,
      terminationReason: null,
      appSessionId: terms.appSessionId ?? null,
    };
    return view;
  });
  bus.bind(ActivityLocalAddress.GetActivity, (m: unknown) => {
    const { activityId } = m as { activityId: string };
    const agreementId = w.activities.get(activityId);
    const terms = agreementId === undefined ? undefined : w.agreements.get(agreementId);
    if (terms === undefined || (terms.requestorId !== nodeId && terms.providerId !== nodeId))
      throw new GolemError('ACTIVITY_NOT_FOUND', 'no such activity', { httpStatus: 404 });
    const info: ActivityInfo = {
      activityId,
      agreementId: agreementId!,
      role: terms.requestorId === nodeId ? 'requestor' : 'provider',
      requestorId: terms.requestorId,
      providerId: terms.providerId,
      state: ['Ready', null],
      createdAt: new Date().toISOString(),
    };
    return info;
  });
  const driver = reuseDriver ?? new FakeDriver(w.chain);
  const payment = new PaymentService(
    { bus, db, logger: silentLogger },
    { drivers: [driver], outbox: { initialDelayMs: 20, maxDelayMs: 200, callTimeoutMs: 2_000 }, ...options },
  );
  await payment.start();
  w.network.join(bus);
  const node: TestNode = {
    nodeId,
    bus,
    db,
    payment,
    driver,
    stop: async () => {
      w.network.leave(nodeId);
      await payment.stop();
      await identity.stop();
      db.close();
    },
    restart: async (next = options) => {
      await node.stop();
      // The driver keeps its own records across restarts, as erc20's database does.
      return startNode(w, next, key, path, driver);
    },
  };
  started.push(node);
  return node;
}

/** A requestor and a provider on one network, the requestor holding `funds` on the chain when given. */
export async function startPair(
  options: { funds?: string; requestor?: PaymentServiceOptions; provider?: PaymentServiceOptions } = {},
) {
  const w = world();
  const requestor = await startNode(w, options.requestor);
  const provider = await startNode(w, options.provider);
  if (options.funds !== undefined) w.chain.mint(requestor.nodeId, options.funds);
  return { w, requestor, provider };
}

/** The provider issues an invoice and sends it, waiting for the requestor's ack. */
export async function sendInvoice(provider: TestNode, body: Record<string, unknown>): Promise<Invoice> {
  const invoice = await provider.payment.documents.issueInvoice(provider.nodeId, body);
  await provider.payment.documents.sendInvoice(provider.nodeId, invoice.invoiceId, 2_000);
  return invoice;
}

/** The provider issues a debit note and sends it, waiting for the requestor's ack. */
export async function sendDebitNote(provider: TestNode, body: Record<string, unknown>): Promise<DebitNote> {
  const note = await provider.payment.documents.issueDebitNote(provider.nodeId, body);
  await provider.payment.documents.sendDebitNote(provider.nodeId, note.debitNoteId, 2_000);
  return note;
}

type Allocated = { allocation_id: string };

/** `node` accepts a received invoice for `amount`, spending from `alloc`. */
export const acceptInvoice = (node: TestNode, invoiceId: string, amount: string, alloc: Allocated) =>
  node.payment.documents.acceptInvoice(
    node.nodeId,
    invoiceId,
    { totalAmountAccepted: amount, allocationId: alloc.allocation_id },
    2_000,
  );

/** `node` accepts a received debit note for `amount`, spending from `alloc`. */
export const acceptDebitNote = (node: TestNode, debitNoteId: string, amount: string, alloc: Allocated) =>
  node.payment.documents.acceptDebitNote(
    node.nodeId,
    debitNoteId,
    { totalAmountAccepted: amount, allocationId: alloc.allocation_id },
    2_000,
  );

export const invoiceStatus = (node: TestNode, id: string) =>
  node.payment.documents.getInvoice(node.nodeId, id).status;
export const debitNoteStatus = (node: TestNode, id: string) =>
  node.payment.documents.getDebitNote(node.nodeId, id).status;

/** An approved agreement between the two (as the market would hold it) with one activity. */
export function agree(
  w: World,
  requestor: TestNode,
  provider: TestNode,
  appSessionId?: string,
): { agreementId: string; activityId: string } {
  const agreementId = randomBytes(32).toString('hex');
  const activityId = randomBytes(16).toString('hex');
  const key = `golem.com.payment.platform.${PLATFORM}.address`;
  w.agreements.set(agreementId, {
    requestorId: requestor.nodeId,
    providerId: provider.nodeId,
    demandProperties: { [key]: requestor.nodeId },
    offerProperties: { [key]: provider.nodeId },
    ...(appSessionId === undefined ? {} : { appSessionId }),
  });
  w.activities.set(activityId, agreementId);
  return { agreementId, activityId };
}

export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
