/**
 * `yagna payment …`: accounts, funding, balances and the documents of this node, asked of the running daemon's
 * payment module over the control socket. `--network` picks the platform (`erc20-<network>-<token>`), `--account`
 * the address (default: the node's identity).
 */
import {
  type Account,
  type DebitNote,
  type Invoice,
  PaymentLocalAddress,
  type PaymentStatus,
  type PlatformRef,
} from '../../core/model/payment.ts';
import type { FundResult } from '../../core/payment/driver.ts';
import type { Command, CommandContext, OptionSpec } from '../command.ts';
import { UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

/** yagna 0.17's CLI default; the local dev network is `--network dev`. */
const DEFAULT_NETWORK = 'hoodi';

const platformOptions: OptionSpec[] = [
  {
    name: 'network',
    type: 'string',
    description: `payment network (default ${DEFAULT_NETWORK}; dev for the local anvil)`,
  },
  { name: 'driver', type: 'string', description: 'payment driver (default erc20)' },
  { name: 'account', type: 'string', description: 'address (default: the node identity)' },
];

async function ask<T>(context: CommandContext, address: string, message?: unknown): Promise<T> {
  const control = await context.control();
  try {
    return await control.call<T>(address, message, { timeoutMs: 60_000 });
  } finally {
    await control.close();
  }
}

function platformOf(context: CommandContext): PlatformRef {
  const network = context.options.network;
  const driver = context.options.driver;
  if (network !== undefined && typeof network !== 'string') throw new UsageError('--network takes a name');
  if (driver !== undefined && typeof driver !== 'string') throw new UsageError('--driver takes a name');
  return { driver: driver ?? 'erc20', network: network ?? DEFAULT_NETWORK };
}

function accountOf(context: CommandContext): string | undefined {
  const account = context.options.account;
  if (account === undefined) return undefined;
  if (typeof account !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(account))
    throw new UsageError('--account takes an address (0x followed by 40 hex digits)');
  return account.toLowerCase();
}

function printDocuments(
  context: CommandContext,
  rows: (DebitNote | Invoice)[],
  amount: (d: DebitNote | Invoice) => string,
) {
  if (context.json) context.printJson(rows);
  else
    context.print(
      formatTable(
        ['id', 'agreement', 'issuer', 'recipient', 'amount', 'status', 'timestamp'],
        rows.map((d) => [
          'debitNoteId' in d ? d.debitNoteId : d.invoiceId,
          `${d.agreementId.slice(0, 10)}…`,
          d.issuerId,
          d.recipientId,
          amount(d),
          d.status,
          d.timestamp,
        ]),
      ),
    );
}

export const commands: Command[] = [
  {
    name: 'payment init',
    summary: 'Register an account for sending (requestor) or receiving (provider) payments',
    options: [
      ...platformOptions,
      { name: 'sender', type: 'boolean', description: 'pay from this account' },
      { name: 'receiver', type: 'boolean', description: 'be paid to this account (the default)' },
    ],
    run: async (context) => {
      const send = context.options.sender === true;
      const receive = context.options.receiver === true || !send;
      const account = await ask<Account>(context, PaymentLocalAddress.Init, {
        platform: platformOf(context),
        address: accountOf(context),
        send,
        receive,
      });
      if (context.json) context.printJson(account);
      else
        context.print(
          `${account.address} on ${account.platform}: send ${account.send}, receive ${account.receive}`,
        );
      return 0;
    },
  },
  {
    name: 'payment fund',
    summary: 'Get test tokens and gas (dev network: minted on the spot; test networks: what to do)',
    options: platformOptions,
    run: async (context) => {
      const result = await ask<FundResult>(context, PaymentLocalAddress.Fund, {
        platform: platformOf(context),
        address: accountOf(context),
      });
      if (context.json) context.printJson(result);
      else context.print(`${result.address} on ${result.platform}: ${result.message}`);
      return 0;
    },
  },
  {
    name: 'payment status',
    summary: 'Token and gas balance, what allocations reserve, what is owed and paid',
    options: platformOptions,
    run: async (context) => {
      const status = await ask<PaymentStatus>(context, PaymentLocalAddress.Status, {
        platform: platformOf(context),
        address: accountOf(context),
      });
      if (context.json) context.printJson(status);
      else
        context.print(
          formatTable(
            ['field', 'value'],
            [
              ['platform', status.platform],
              ['address', status.address],
              ['token', status.token],
              ['gas', status.gas],
              ['reserved by allocations', status.reserved],
              ['outgoing: accepted, not yet paid', status.outgoingPending],
              ['outgoing: paid', status.outgoingPaid],
              ['incoming: accepted, not yet paid', status.incomingPending],
              ['incoming: paid', status.incomingPaid],
              ['block', status.blockNumber],
            ],
          ),
        );
      return 0;
    },
  },
  {
    name: 'payment accounts',
    summary: 'List the accounts registered for payments',
    run: async (context) => {
      const accounts = await ask<Account[]>(context, PaymentLocalAddress.Accounts, {});
      if (context.json) context.printJson(accounts);
      else
        context.print(
          formatTable(
            ['platform', 'address', 'send', 'receive'],
            accounts.map((a) => [a.platform, a.address, String(a.send), String(a.receive)]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'payment release-allocations',
    summary: "Release every active allocation of this node's identity",
    options: [{ name: 'account', type: 'string', description: 'identity (default: the node identity)' }],
    run: async (context) => {
      const result = await ask<{ released: string[] }>(context, PaymentLocalAddress.ReleaseAllocations, {
        owner: accountOf(context),
      });
      if (context.json) context.printJson(result);
      else context.print(`released ${result.released.length} allocation(s)`);
      return 0;
    },
  },
  {
    name: 'payment invoice list',
    summary: 'List invoices this node issued or received',
    options: [{ name: 'account', type: 'string', description: 'identity (default: the node identity)' }],
    run: async (context) => {
      const rows = await ask<Invoice[]>(context, PaymentLocalAddress.ListInvoices, {
        owner: accountOf(context),
      });
      printDocuments(context, rows, (d) => (d as Invoice).amount);
      return 0;
    },
  },
  {
    name: 'payment debit-note list',
    summary: 'List debit notes this node issued or received',
    options: [{ name: 'account', type: 'string', description: 'identity (default: the node identity)' }],
    run: async (context) => {
      const rows = await ask<DebitNote[]>(context, PaymentLocalAddress.ListDebitNotes, {
        owner: accountOf(context),
      });
      printDocuments(context, rows, (d) => (d as DebitNote).totalAmountDue);
      return 0;
    },
  },
];
