/**
 * What `golemsp status` shows, read from the daemon's REST API (agreements with their termination reasons,
 * activities, invoices and payments) beside what the running agent published (runtimes and their self-test,
 * offers). Earnings are the invoices settled; pending is what is invoiced and not settled yet.
 */
import { formatTable } from '../../cli/output.ts';
import type { AgentStatus } from './agent.ts';
import type { DaemonApi } from './api.ts';
import { formatUnits, toUnits } from './money.ts';
import type { Globals } from './settings.ts';

/** The node's name and subnet: those in force in the running agent, else those of the settings files. */
export type NodeSettings = Pick<Globals, 'nodeName' | 'subnet'>;

export interface AgreementSummary {
  agreementId: string;
  requestorId: string;
  state: string;
  terminator: string | null;
  reason: { message?: string; 'golem.provider.code'?: string; [key: string]: unknown } | null;
  /** Each activity's state, and why it ended when it did. */
  activities: { activityId: string; state: string; reason: string | null }[];
  invoice: { invoiceId: string; amount: string; status: string } | null;
  debitNotes: number;
}

export interface StatusReport {
  running: boolean;
  node: { nodeId: string | null; name: string | null; subnet: string; apiUrl: string | null };
  /** Why the running agent did not apply the settings files as they are now (null when it did). */
  settingsError: string | null;
  runtimes: AgentStatus['runtimes'];
  offers: AgentStatus['offers'];
  agreements: AgreementSummary[];
  earnings: { settled: string; pending: string; received: string };
}

interface Doc {
  agreementId: string;
  issuerId: string;
  status: string;
  timestamp: string;
}

const MAX_AGREEMENTS = 100;

export async function statusReport(
  api: DaemonApi | undefined,
  globals: NodeSettings,
  agent: AgentStatus | undefined,
): Promise<StatusReport> {
  const report: StatusReport = {
    running: api !== undefined,
    node: {
      nodeId: agent?.nodeId ?? null,
      name: globals.nodeName,
      subnet: globals.subnet,
      apiUrl: api?.apiUrl ?? null,
    },
    settingsError: agent?.settings?.error ?? null,
    runtimes: agent?.runtimes ?? [],
    offers: agent?.offers ?? [],
    agreements: [],
    earnings: { settled: '0', pending: '0', received: '0' },
  };
  if (api === undefined) return report;
  const me = (await api.get<{ identity: string }>('/me')).identity.toLowerCase();
  report.node.nodeId = me;
  const listed = (
    await api.get<{ id: string; role: string; timestamp: string }[]>('/market-api/v1/agreements')
  )
    .filter((a) => a.role === 'Provider')
    .slice(-MAX_AGREEMENTS);
  const invoices = (
    await api.get<(Doc & { invoiceId: string; amount: string })[]>('/payment-api/v1/invoices')
  ).filter((i) => i.issuerId.toLowerCase() === me);
  const notes = (await api.get<Doc[]>('/payment-api/v1/debitNotes')).filter(
    (n) => n.issuerId.toLowerCase() === me,
  );
  for (const { id } of listed) {
    const view = await api.get<{ state: string; demand: { requestorId: string } }>(
      `/market-api/v1/agreements/${id}`,
    );
    let terminator: string | null = null;
    let reason: AgreementSummary['reason'] = null;
    if (view.state === 'Terminated') {
      const event = await api
        .get<{ terminator: string; reason?: AgreementSummary['reason'] }>(
          `/market-api/v1/agreements/${id}/terminate/reason`,
        )
        .catch(() => undefined);
      terminator = event?.terminator ?? null;
      reason = event?.reason ?? null;
    }
    const activityIds = await api
      .get<string[]>(`/activity-api/v1/activity?agreementId=${id}`)
      .catch(() => []);
    const activities = [];
    for (const activityId of activityIds) {
      const state = await api
        .get<{ state: [string, string | null]; reason?: string | null }>(
          `/activity-api/v1/activity/${activityId}/state`,
        )
        .catch(() => undefined);
      activities.push({ activityId, state: state?.state[0] ?? 'unknown', reason: state?.reason ?? null });
    }
    const invoice = invoices.find((i) => i.agreementId === id);
    report.agreements.push({
      agreementId: id,
      requestorId: view.demand.requestorId,
      state: view.state,
      terminator,
      reason,
      activities,
      invoice:
        invoice === undefined
          ? null
          : { invoiceId: invoice.invoiceId, amount: invoice.amount, status: invoice.status },
      debitNotes: notes.filter((n) => n.agreementId === id).length,
    });
  }
  let settled = 0n;
  let pending = 0n;
  for (const invoice of invoices) {
    if (invoice.status === 'SETTLED') settled += toUnits(invoice.amount);
    else if (invoice.status !== 'CANCELLED' && invoice.status !== 'REJECTED')
      pending += toUnits(invoice.amount);
  }
  let received = 0n;
  const payments = await api
    .get<{ payeeId: string; amount: string }[]>('/payment-api/v1/payments')
    .catch(() => []);
  for (const payment of payments)
    if (payment.payeeId.toLowerCase() === me) received += toUnits(payment.amount);
  report.earnings = {
    settled: formatUnits(settled),
    pending: formatUnits(pending),
    received: formatUnits(received),
  };
  return report;
}

export function statusText(report: StatusReport): string {
  const parts = [
    formatTable(
      ['node', 'name', 'subnet', 'service', 'api'],
      [
        [
          report.node.nodeId,
          report.node.name,
          report.node.subnet,
          report.running ? 'running' : 'not running',
          report.node.apiUrl,
        ],
      ],
    ),
    ...(report.settingsError === null
      ? []
      : [`settings files not applied (the previous settings stay in force): ${report.settingsError}`]),
    '',
    formatTable(
      ['runtime', 'version', 'self-test', 'offered'],
      report.runtimes.map((r) => [
        r.name,
        r.version,
        r.selfTest.ok ? 'ok' : `failed: ${r.selfTest.reason}`,
        r.offered ? 'yes' : 'no',
      ]),
    ),
    '',
    formatTable(
      ['agreement', 'state', 'ended by', 'reason', 'activities', 'debit notes', 'invoice'],
      report.agreements.map((a) => [
        a.agreementId.slice(0, 12),
        a.state,
        a.terminator,
        a.reason === null ? '' : `${a.reason['golem.provider.code'] ?? ''} ${a.reason.message ?? ''}`.trim(),
        a.activities.map((x) => x.state).join(',') || '-',
        a.debitNotes,
        a.invoice === null ? '-' : `${a.invoice.amount} ${a.invoice.status}`,
      ]),
    ),
    '',
    formatTable(
      ['earned (settled)', 'pending', 'received on chain'],
      [[report.earnings.settled, report.earnings.pending, report.earnings.received]],
    ),
  ];
  return parts.join('\n');
}
