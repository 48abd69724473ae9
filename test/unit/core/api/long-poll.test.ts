/**
 * Long polls through the real REST server, on the market's endpoints: a poll sent with a JSON body waits for its
 * event or its timeout, and a client that leaves mid-poll frees its waiter and loses nothing.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { ApiServer, Notifier } from '../../../../src/core/api/index.ts';
import { MemoryNetwork } from '../../../../src/core/bus/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { subscriptionTopic } from '../../../../src/core/market/events.ts';
import { MarketErrorCode } from '../../../../src/core/market/index.ts';
import { registerMarketRoutes } from '../../../../src/core/market/rest.ts';
import { AppKeyAddress, type AppKeyInfo } from '../../../../src/core/model/identity.ts';
import { registerPaymentRoutes } from '../../../../src/core/payment/rest.ts';
import { readJson } from '../../../support/daemon.ts';
import { eventually } from '../../../support/net.ts';
import { demandBody, type Event, negotiate, node, offerBody } from '../market/support.ts';
import { agree, sendDebitNote, startPair } from '../payment/harness.ts';

/** A provider and a requestor on a memory network, the requestor's market served by a real REST server. */
async function market(t: TestContext) {
  const network = new MemoryNetwork();
  const [provider, requestor] = await Promise.all([node(network), node(network)]);
  const server = new ApiServer({
    bus: requestor.bus,
    logger: silentLogger,
    config: { apiUrl: new URL('http://127.0.0.1:0'), apiAllowOrigins: [] },
  });
  server.register('/market-api/v1', (app) => registerMarketRoutes(app, requestor.market));
  const base = `${(await server.listen()).origin}/market-api/v1`;
  t.after(async () => {
    await server.close();
    await Promise.all([provider.stop(), requestor.stop()]);
  });
  const key = await requestor.bus.call<AppKeyInfo>(AppKeyAddress.Create, {
    name: 'long-poll',
    nodeId: requestor.nodeId,
  });
  const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };
  return { provider, requestor, base, headers };
}

type Market = Awaited<ReturnType<typeof market>>;

/** A confirmed agreement the provider has not answered yet, and the notifier key its wait listens on. */
async function confirmedAgreement({ provider, requestor }: Market) {
  const { agreementId } = await negotiate(provider, requestor);
  await requestor.market.confirmAgreement(requestor.nodeId, agreementId, undefined);
  return { agreementId, waitKey: `agreement:${agreementId}` };
}

const waitForApproval = (m: Market, agreementId: string, timeoutS: number) =>
  fetch(`${m.base}/agreements/${agreementId}/wait?timeout=${timeoutS}`, {
    method: 'POST',
    headers: m.headers,
    body: '{}',
  });

/** A request on a connection of its own that the client can drop mid-poll; `answered` resolves if it is answered. */
function droppable(url: string, headers: Record<string, string>, body?: string) {
  const request = httpRequest(url, { method: body === undefined ? 'GET' : 'POST', headers, agent: false });
  const answered = new Promise<{ status: number | undefined }>((resolve) => {
    request.on('response', (response) => resolve({ status: response.statusCode }));
  });
  request.on('error', () => {});
  request.end(body);
  return { answered, drop: () => request.destroy() };
}

/** Which comes first: the answer, or the poll waiting on `key` at the server. */
const firstOf = (notifier: Notifier, answer: Promise<{ status: number | undefined }>, key: string) =>
  Promise.race([
    answer.then((response) => `answered ${response.status}`),
    eventually(() => notifier.waiting(key) === 1, `a waiter on ${key}`).then(() => 'waiting'),
  ]);

/** The server let go of the poll waiting on `key`. */
const freed = (notifier: Notifier, key: string) =>
  eventually(() => notifier.waiting(key) === 0, `the waiter on ${key} freed`, 5_000);

/** A demand and an offer that match each other only. */
const pair = (name: string) => ({
  demand: { ...demandBody(), constraints: `(golem.node.id.name=${name})` },
  offer: { ...offerBody, properties: { ...offerBody.properties, 'golem.node.id.name': name } },
});

describe('long polls through the REST server', () => {
  it('keeps a POST with a JSON body waiting until its event: the approval answers it with 204', async (t) => {
    const m = await market(t);
    const { agreementId, waitKey } = await confirmedAgreement(m);
    const answer = waitForApproval(m, agreementId, 60);
    assert.equal(
      await firstOf(m.requestor.market.notifier, answer, waitKey),
      'waiting',
      'the wait answered before anything happened',
    );
    await m.provider.market.approveAgreement(m.provider.nodeId, agreementId, undefined);
    assert.equal((await answer).status, 204);
  });

  it('keeps a POST with a JSON body waiting for its whole timeout, then answers 408', async (t) => {
    const m = await market(t);
    const { agreementId } = await confirmedAgreement(m);
    const sent = Date.now();
    const response = await waitForApproval(m, agreementId, 1);
    const took = Date.now() - sent;
    // A timer never fires early: an answer before the second is a poll that ended with its body.
    assert.ok(took >= 1000, `answered after ${took} ms, before its 1 s timeout`);
    assert.equal(response.status, 408);
    assert.equal((await readJson(response)).code, MarketErrorCode.WaitTimeout);
  });

  it('frees the waiter of a POST with a body whose client left mid-poll', async (t) => {
    const m = await market(t);
    const { agreementId, waitKey } = await confirmedAgreement(m);
    const poll = droppable(`${m.base}/agreements/${agreementId}/wait?timeout=60`, m.headers, '{}');
    assert.equal(await firstOf(m.requestor.market.notifier, poll.answered, waitKey), 'waiting');
    poll.drop();
    await freed(m.requestor.market.notifier, waitKey);
    await m.provider.market.approveAgreement(m.provider.nodeId, agreementId, undefined);
    assert.equal((await waitForApproval(m, agreementId, 5)).status, 204);
  });

  it('stops waiting when the client leaves an event poll, and gives the next poll the event that came after', async (t) => {
    const m = await market(t);
    const { demand, offer } = pair('late');
    const created = await fetch(`${m.base}/demands`, {
      method: 'POST',
      headers: m.headers,
      body: JSON.stringify(demand),
    });
    const demandId = (await created.json()) as string;
    const key = subscriptionTopic(demandId);
    const events = `${m.base}/demands/${demandId}/events`;
    const poll = droppable(`${events}?timeout=60`, m.headers);
    assert.equal(await firstOf(m.requestor.market.notifier, poll.answered, key), 'waiting');
    poll.drop();
    await freed(m.requestor.market.notifier, key);

    // The offer comes after the client left: the poll that left must not have taken its proposal.
    await m.provider.market.subscribeOffer(m.provider.nodeId, offer);
    const next = (await (await fetch(`${events}?timeout=10`, { headers: m.headers })).json()) as Event[];
    assert.equal(next.length, 1);
    assert.equal(next[0]!.eventType, 'ProposalEvent');
    assert.equal(next[0]!.proposal!.issuerId, m.provider.nodeId);
  });

  it('takes no event for a client that is gone before the poll reads', async (t) => {
    const { provider, requestor } = await market(t);
    const { demand, offer } = pair('early');
    const demandId = requestor.market.subscribeDemand(requestor.nodeId, demand);
    const queued = requestor.market.notifier.wait(subscriptionTopic(demandId), 10_000);
    await provider.market.subscribeOffer(provider.nodeId, offer);
    assert.ok(await queued, 'the matched offer is queued');
    const read = (signal?: AbortSignal) =>
      requestor.market.collectEvents(requestor.nodeId, demandId, 'requestor', 5_000, 10, signal);
    assert.deepEqual(await read(AbortSignal.abort()), []);
    assert.equal((await read()).length, 1, 'the matched offer is still there for the next poll');
  });
});

describe('a payment event feed through the REST server', () => {
  it('frees the waiter of a client that left, and the next poll sees the debit note that came after', async (t) => {
    const { w, requestor, provider } = await startPair({ funds: '10' });
    const { activityId } = agree(w, requestor, provider);
    const server = new ApiServer({
      bus: requestor.bus,
      logger: silentLogger,
      config: { apiUrl: new URL('http://127.0.0.1:0'), apiAllowOrigins: [] },
    });
    server.register('/payment-api/v1', (app) => registerPaymentRoutes(app, requestor.payment));
    const feed = `${(await server.listen()).origin}/payment-api/v1/debitNoteEvents`;
    t.after(() => server.close());
    const key = await requestor.bus.call<AppKeyInfo>(AppKeyAddress.Create, {
      name: 'long-poll',
      nodeId: requestor.nodeId,
    });
    const headers = { authorization: `Bearer ${key.key}` };
    const notifier = requestor.payment.events.notifier;
    const waitKey = `debitNote:${requestor.nodeId.toLowerCase()}`;

    const poll = droppable(`${feed}?timeout=60`, headers);
    assert.equal(await firstOf(notifier, poll.answered, waitKey), 'waiting');
    poll.drop();
    await freed(notifier, waitKey);
    const note = await sendDebitNote(provider, { activityId, totalAmountDue: '1' });
    const events = (await (await fetch(`${feed}?timeout=5`, { headers })).json()) as {
      eventType: string;
      debitNoteId: string;
    }[];
    assert.deepEqual(
      events.map((event) => [event.eventType, event.debitNoteId]),
      [['DebitNoteReceivedEvent', note.debitNoteId]],
    );
  });
});

describe('Notifier', () => {
  it('lets go of a waiter when notified, timed out or aborted, and does not wait on a signal already aborted', async () => {
    const notifier = new Notifier();
    const notified = notifier.wait('k', 60_000);
    const timedOut = notifier.wait('k', 1);
    const leaving = new AbortController();
    const aborted = notifier.wait('k', 60_000, leaving.signal);
    assert.equal(notifier.waiting('k'), 3);
    assert.equal(await timedOut, false);
    leaving.abort();
    assert.equal(await aborted, false);
    assert.equal(notifier.waiting('k'), 1);
    notifier.notify('k');
    assert.equal(await notified, true);
    assert.equal(notifier.waiting('k'), 0);
    const alreadyGone = notifier.wait('k', 1_000, AbortSignal.abort());
    assert.equal(notifier.waiting('k'), 0, 'a poll of a client already gone waits');
    assert.equal(await alreadyGone, false);
  });
});
