import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PEER_LIMITS } from '../../../../src/core/payment/index.ts';
import { PLATFORM } from './fake-driver.ts';
import {
  acceptDebitNote,
  agree,
  debitNoteStatus,
  eventually,
  sendDebitNote,
  startNode,
  startPair,
  world,
} from './harness.ts';

const ALL = {
  requestor: ['RECEIVED', 'ACCEPTED', 'SETTLED', 'CANCELLED'],
  provider: ['ACCEPTED', 'SETTLED'],
};

describe('document event feeds', () => {
  it('strict afterTimestamp cursor, maxEvents, appSessionId and the role filters', async () => {
    const { w, requestor, provider } = await startPair({ funds: '10' });
    const mine = agree(w, requestor, provider, 'session-a');
    const other = agree(w, requestor, provider, 'session-b');
    // The market did not say this one's session: it shows under any (golem-js always filters by its session).
    const unknown = agree(w, requestor, provider);
    for (const [index, { activityId }] of [mine, other, mine, unknown].entries()) {
      await sendDebitNote(provider, { activityId, totalAmountDue: `0.${index + 1}` });
    }
    const list = (query: Partial<Parameters<typeof requestor.payment.events.list>[2]>) =>
      requestor.payment.events.list('debitNote', requestor.nodeId, {
        maxEvents: 100,
        roleEvents: ALL,
        ...query,
      });
    const all = list({});
    assert.equal(all.length, 4);
    assert.ok(all.every((e) => e.eventType === 'DebitNoteReceivedEvent'));
    // Dates strictly increase, so the cursor of each event continues exactly after it.
    const dates = all.map((e) => e.eventDate as string);
    assert.deepEqual([...dates].sort(), dates);
    assert.equal(new Set(dates).size, 4);
    assert.deepEqual(list({ afterTimestamp: dates[0] }), all.slice(1));
    assert.deepEqual(list({ maxEvents: 2 }), all.slice(0, 2));
    assert.equal(list({ appSessionId: 'session-a' }).length, 3);
    assert.equal(list({ appSessionId: 'session-b' }).length, 2);
    // yagna's defaults show the requestor only RECEIVED and CANCELLED; asking for none shows nothing.
    assert.equal(list({ roleEvents: { requestor: [], provider: [] } }).length, 0);
  });

  it('events recorded in the same millisecond still get distinct, increasing dates', async () => {
    const node = await startNode(world());
    // One transaction: no disk sync between the three, so they fall into the same millisecond.
    const dates = node.db.transaction(() =>
      [1, 2, 3].map((i) =>
        node.payment.events.append('invoice', node.nodeId, 'requestor', `doc-${i}`, 'agreement', 'RECEIVED'),
      ),
    );
    assert.equal(new Set(dates).size, 3);
    assert.deepEqual([...dates].sort(), dates);
    const roleEvents = { requestor: ['RECEIVED'], provider: [] };
    const listed = node.payment.events.list('invoice', node.nodeId, {
      maxEvents: 10,
      roleEvents,
      afterTimestamp: dates[0],
    });
    assert.deepEqual(
      listed.map((e) => e.invoiceId),
      ['doc-2', 'doc-3'],
    );
  });

  it('a payable debit note is paid before its due date even with a long batch window', async () => {
    const options = { settlement: { testnetWindowMs: 3_600_000 } };
    const { w, requestor, provider } = await startPair({
      funds: '10',
      requestor: options,
      provider: options,
    });
    const { activityId } = agree(w, requestor, provider);
    const allocation = await requestor.payment.allocations.create(requestor.nodeId, {
      paymentPlatform: PLATFORM,
      totalAmount: '5',
    });
    const accept = async (paymentDueDate?: string) => {
      const note = await sendDebitNote(provider, {
        activityId,
        totalAmountDue: paymentDueDate === undefined ? '0.5' : '1',
        ...(paymentDueDate === undefined ? {} : { paymentDueDate }),
      });
      await acceptDebitNote(requestor, note.debitNoteId, note.totalAmountDue, allocation);
      return note.debitNoteId;
    };
    // Not payable: waits for the window (an hour here).
    await accept();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(w.chain.transfers.length, 0);
    // Payable within a minute: paid now, with what the earlier note left open.
    const payable = await accept(new Date(Date.now() + 30_000).toISOString());
    await eventually(() => debitNoteStatus(provider, payable) === 'SETTLED');
    assert.equal(w.chain.transfers.length, 1);
    assert.equal(w.chain.balance(provider.nodeId), 10n ** 18n);
  });

  it('the default bounds are what docs/payment.md says', () => {
    assert.deepEqual(
      {
        bytes: DEFAULT_PEER_LIMITS.maxMessageBytes,
        rate: DEFAULT_PEER_LIMITS.ratePerSecond,
        burst: DEFAULT_PEER_LIMITS.burst,
        notes: DEFAULT_PEER_LIMITS.maxDebitNotesPerAgreement,
        invoices: DEFAULT_PEER_LIMITS.maxInvoicesPerAgreement,
      },
      { bytes: 65_536, rate: 20, burst: 200, notes: 10_000, invoices: 4 },
    );
  });
});
