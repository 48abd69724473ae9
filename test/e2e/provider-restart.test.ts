/**
 * Restarts lose nothing: golemsp killed (SIGKILL) in the middle of an activity comes back, takes the agreement up
 * again from the daemon, keeps the debit notes cumulative and issues exactly one invoice when the activity ends;
 * the provider's daemon stopped and started under a running agent ends the activity, after which the agent bills
 * it, ends the agreement with Success and invoices it once. Both invoices are paid on chain.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Address } from 'viem';
import { toUnits } from '../../src/agents/provider/index.ts';
import { activityClient } from '../support/activity.ts';
import { type Anvil, deployDevContracts, startAnvil } from '../support/anvil.ts';
import {
  type DaemonHandle,
  type RelayHandle,
  startDaemon,
  startRelayProcess,
  tempDir,
} from '../support/daemon.ts';
import { eventually } from '../support/net.ts';
import { fund, paymentEnv, payments, tokenBalance } from '../support/payment.ts';
import { acceptEverything, agreeWithAgent, type GolemspHandle, startGolemsp } from '../support/provider.ts';

const TEST_RUNTIME = fileURLToPath(new URL('../support/exeunit-runtime/descriptor.json', import.meta.url));
const SUBNET = `restart-${randomBytes(3).toString('hex')}`;
const TERMS = {
  'golem.com.payment.debit-notes.accept-timeout?': 20,
  'golem.com.scheme.payu.debit-note.interval-sec?': 2,
};

type Note = {
  debitNoteId: string;
  agreementId: string;
  activityId: string;
  status: string;
  totalAmountDue: string;
  timestamp: string;
};
type Invoice = { invoiceId: string; agreementId: string; amount: string; status: string };

describe('golemsp and its daemon restarted mid-activity', () => {
  let anvil: Anvil;
  let token: Address;
  let relay: RelayHandle;
  let env: Record<string, string>;
  let daemon: DaemonHandle;
  let requestor: DaemonHandle;
  const agentDir = tempDir('golemsp-restart-');
  let agent: GolemspHandle;

  const startAgent = () =>
    startGolemsp({
      dataDir: agentDir,
      env: { ...env, EXE_UNIT_PATH: TEST_RUNTIME },
      args: [
        '--external',
        '--app-key',
        daemon.appKey,
        '--yagna-datadir',
        daemon.dataDir,
        '--payment-network',
        'dev',
        '--subnet',
        SUBNET,
        '--max-agreements',
        '2',
        '--cpu-per-hour',
        '36',
        '--env-per-hour',
        '3.6',
      ],
    });
  const prov = () => payments(daemon).provider;
  const notesOf = async (agreementId: string) =>
    ((await prov().getDebitNotes(undefined, 1000)) as Note[]).filter((n) => n.agreementId === agreementId);
  const invoicesOf = async (agreementId: string) =>
    ((await prov().getInvoices(undefined, 1000)) as Invoice[]).filter((i) => i.agreementId === agreementId);

  before(async () => {
    anvil = await startAnvil();
    token = (await deployDevContracts(anvil.rpcUrl)).token;
    relay = await startRelayProcess();
    env = paymentEnv(anvil, relay);
    [daemon, requestor] = await Promise.all([
      startDaemon({ env: { ...env, EXE_UNIT_PATH: TEST_RUNTIME } }),
      startDaemon({ env }),
    ]);
    await fund(requestor);
    agent = await startAgent();
  });
  after(async () => {
    await agent?.stop();
    await Promise.all([daemon, requestor].map((d) => d?.stop()));
    await relay?.stop();
    await anvil?.stop();
  });

  it('an agent killed mid-activity resumes it and invoices it once', async () => {
    const balance = await tokenBalance(anvil, token, daemon.nodeId);
    const { agreementId, allocationId } = await agreeWithAgent(requestor, daemon.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
    });
    const acceptor = acceptEverything(requestor, allocationId);
    const activities = activityClient(requestor);
    const { activityId } = (await activities.requestorControl.createActivity({ agreementId } as never)) as {
      activityId: string;
    };
    await eventually(async () => (await notesOf(agreementId)).length >= 1, 'a first debit note', 30_000);
    await agent.kill();
    const before = (await notesOf(agreementId)).length;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    agent = await startAgent();
    await eventually(
      async () => (await notesOf(agreementId)).length >= before + 2,
      'debit notes after the restart',
      30_000,
    );
    const notes = (await notesOf(agreementId)).sort((a, b) => a.timestamp.localeCompare(b.timestamp));
    for (let i = 1; i < notes.length; i++)
      assert.ok(
        toUnits(notes[i]!.totalAmountDue) >= toUnits(notes[i - 1]!.totalAmountDue),
        'cumulative across the restart',
      );
    await activities.requestorControl.destroyActivity(activityId, 10);
    await eventually(
      async () => (await invoicesOf(agreementId))[0]?.status === 'SETTLED',
      'the invoice settled',
      90_000,
    );
    const invoices = await invoicesOf(agreementId);
    assert.equal(invoices.length, 1, 'exactly one invoice');
    const last = (await notesOf(agreementId)).sort((a, b) => a.timestamp.localeCompare(b.timestamp)).at(-1)!;
    assert.equal(invoices[0]!.amount, last.totalAmountDue);
    assert.equal((await tokenBalance(anvil, token, daemon.nodeId)) - balance, toUnits(invoices[0]!.amount));
    await acceptor.stop();
    const shown = agent.status().agreements.find((a) => a.agreementId === agreementId);
    assert.equal(shown?.reason?.['golem.provider.code'], 'Success');
    assert.equal(shown?.invoice?.status, 'SETTLED');
  });

  it('a daemon restarted under the agent: the ended activity is billed, the agreement ended and invoiced once', async () => {
    const { agreementId, allocationId } = await agreeWithAgent(requestor, daemon.nodeId, {
      subnet: SUBNET,
      runtime: 'test-runtime',
      demand: TERMS,
    });
    const acceptor = acceptEverything(requestor, allocationId);
    await activityClient(requestor).requestorControl.createActivity({ agreementId } as never);
    await eventually(async () => (await notesOf(agreementId)).length >= 1, 'a first debit note', 30_000);
    await daemon.stop();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    daemon = await daemon.restart();
    await eventually(
      async () => (await invoicesOf(agreementId))[0]?.status === 'SETTLED',
      'the invoice settled',
      120_000,
    );
    assert.equal((await invoicesOf(agreementId)).length, 1, 'exactly one invoice');
    await acceptor.stop();
    let shown: ReturnType<GolemspHandle['status']>['agreements'][number] | undefined;
    await eventually(
      () => {
        shown = agent.status().agreements.find((a) => a.agreementId === agreementId);
        return shown?.invoice?.status === 'SETTLED';
      },
      'status to show the settled invoice',
      30_000,
    );
    assert.equal(shown?.state, 'Terminated');
    assert.equal(shown?.reason?.['golem.provider.code'], 'Success');
    assert.ok(shown?.activities.every((a) => a.state === 'Terminated'));
  });
});
