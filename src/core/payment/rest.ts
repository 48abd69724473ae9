/**
 * `/payment-api/v1` as yagna 0.17 serves it: allocations (errors as RFC 7807 problem+json), demand decorations,
 * debit notes and invoices in both roles, their persistent event feeds (long polls with `afterTimestamp`,
 * `maxEvents`, `appSessionId` and yagna's role-filter headers), payments and accounts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  clientGone,
  maxEventsOf,
  type Notifier,
  pollTimeoutMs,
  type Query,
  requestIdentity,
} from '../api/index.ts';
import { isGolemError } from '../errors/index.ts';
import { allocationView } from './allocations.ts';
import type { PlatformInfo } from './driver.ts';
import { AllocationProblem, PaymentErrorCode, paymentError } from './errors.ts';
import { type DocumentKind, roleEventsOf } from './events.ts';
import type { PaymentService } from './service.ts';

type Params = Record<string, string>;

const PROBLEM_BASE = '/payment-api/v1/allocations';
/** yagna waits up to 15 s for the peer's ack of a send/accept unless told otherwise. */
const ACK_TIMEOUT_S = 15;
/** Payment feeds have no cap in yagna; this bounds one answer. */
const MAX_EVENTS = 10_000;

/** RFC 7807 answer of the allocation endpoints, with yagna's `type`/`instance` and the error's details. */
function sendProblem(reply: FastifyReply, error: unknown, body: unknown): void {
  if (!isGolemError(error)) throw error;
  const kind = (AllocationProblem as Record<string, { type: string; instance: string } | undefined>)[
    error.code
  ] ?? {
    type: 'error',
    instance: error.code.toLowerCase(),
  };
  const status = error.httpStatus ?? 500;
  reply
    .code(status)
    .type('application/problem+json')
    .send({
      type: `${PROBLEM_BASE}/${kind.type}`,
      title: error.message,
      status,
      detail: error.message,
      instance: `${PROBLEM_BASE}/${kind.instance}`,
      code: error.code,
      ...error.details,
      requestBody: body ?? null,
    });
}

function maxItemsOf(query: Query): number | undefined {
  if (query.maxItems === undefined || query.maxItems === '') return undefined;
  const value = Number(query.maxItems);
  if (!Number.isInteger(value) || value < 1)
    throw paymentError(PaymentErrorCode.BadRequest, 'maxItems must be a positive integer', 400);
  return value;
}

function afterOf(query: Query): string | undefined {
  const raw = query.afterTimestamp;
  if (raw === undefined || raw === '') return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms))
    throw paymentError(PaymentErrorCode.BadRequest, 'afterTimestamp must be an RFC 3339 date', 400);
  return new Date(ms).toISOString();
}

function ackTimeoutMs(query: Query): number {
  return pollTimeoutMs(query, ACK_TIMEOUT_S);
}

/** Waits (up to `?timeout` seconds) until `read` finds something, woken by `notifier` under `key`. */
async function longPoll<T>(
  request: FastifyRequest,
  reply: FastifyReply,
  notifier: Notifier,
  key: string,
  read: () => T[],
): Promise<T[]> {
  const deadline = Date.now() + pollTimeoutMs(request.query as Query);
  const gone = clientGone(reply);
  for (;;) {
    const found = read();
    if (found.length > 0 || Date.now() >= deadline || gone.aborted) return found;
    await notifier.wait(key, deadline - Date.now(), gone);
  }
}

/** `?network=&driver=`: the platforms they name (404 when none, as yagna for an unknown driver or network). */
function platformsOf(payment: PaymentService, query: Query): PlatformInfo[] {
  const found = payment.drivers
    .platforms()
    .filter(
      (p) =>
        (query.network === undefined || query.network === '' || p.network === query.network) &&
        (query.driver === undefined || query.driver === '' || p.driver === query.driver),
    );
  if (found.length === 0)
    throw paymentError(PaymentErrorCode.BadPlatform, 'no such payment driver or network', 404, {
      network: query.network,
      driver: query.driver,
    });
  return found;
}

export function registerPaymentRoutes(app: FastifyInstance, payment: PaymentService): void {
  const owner = (request: FastifyRequest) => requestIdentity(request).identity.toLowerCase();
  const q = (request: FastifyRequest) => request.query as Query;
  const p = (request: FastifyRequest) => request.params as Params;
  const nullBody = (reply: FastifyReply) => reply.code(200).type('application/json').send('null');

  // ---- allocations (problem+json errors)
  const problem =
    (handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>) =>
    async (request: FastifyRequest, reply: FastifyReply) => {
      try {
        return await handler(request, reply);
      } catch (error) {
        sendProblem(reply, error, request.body);
        return reply;
      }
    };
  app.post(
    '/allocations',
    problem(async (request, reply) => {
      const row = await payment.allocations.create(owner(request), request.body);
      reply.code(201).send(allocationView(row));
    }),
  );
  app.get(
    '/allocations',
    problem(async (request) => payment.allocations.list(owner(request)).map(allocationView)),
  );
  app.get(
    '/allocations/:id',
    problem(async (request) => allocationView(payment.allocations.get(owner(request), p(request).id!))),
  );
  app.put(
    '/allocations/:id',
    problem(async (request) =>
      allocationView(await payment.allocations.amend(owner(request), p(request).id!, request.body)),
    ),
  );
  app.delete(
    '/allocations/:id',
    problem(async (request, reply) => {
      payment.allocations.release(owner(request), p(request).id!);
      nullBody(reply);
    }),
  );
  app.get('/demandDecorations', async (request) => {
    const raw = q(request).allocationIds ?? '';
    const ids = raw
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
    return payment.allocations.decorations(owner(request), ids);
  });

  // ---- debit notes and invoices: the same five routes each
  const documents = payment.documents;
  const kinds = [
    {
      path: 'debitNotes',
      list: documents.listDebitNotes.bind(documents),
      get: documents.getDebitNote.bind(documents),
      issue: documents.issueDebitNote.bind(documents),
      send: documents.sendDebitNote.bind(documents),
      accept: documents.acceptDebitNote.bind(documents),
    },
    {
      path: 'invoices',
      list: documents.listInvoices.bind(documents),
      get: documents.getInvoice.bind(documents),
      issue: documents.issueInvoice.bind(documents),
      send: documents.sendInvoice.bind(documents),
      accept: documents.acceptInvoice.bind(documents),
    },
  ];
  for (const kind of kinds) {
    app.get(`/${kind.path}`, async (request) =>
      kind.list(owner(request), afterOf(q(request)), maxItemsOf(q(request))),
    );
    app.get(`/${kind.path}/:id`, async (request) => kind.get(owner(request), p(request).id!));
    app.post(`/${kind.path}`, async (request, reply) =>
      reply.code(201).send(await kind.issue(owner(request), request.body)),
    );
    app.post(`/${kind.path}/:id/send`, async (request, reply) => {
      await kind.send(owner(request), p(request).id!, ackTimeoutMs(q(request)));
      nullBody(reply);
    });
    app.post(`/${kind.path}/:id/accept`, async (request, reply) => {
      await kind.accept(owner(request), p(request).id!, request.body, ackTimeoutMs(q(request)));
      nullBody(reply);
    });
  }
  const notImplemented = async () => {
    throw paymentError(PaymentErrorCode.NotImplemented, 'Not implemented', 501);
  };
  // yagna answers these with 501 too (golem-js never calls them).
  app.post('/debitNotes/:id/reject', notImplemented);
  app.post('/debitNotes/:id/cancel', notImplemented);
  app.get('/debitNotes/:id/payments', notImplemented);
  app.post('/invoices/:id/reject', async (request, reply) => {
    await payment.documents.rejectInvoice(
      owner(request),
      p(request).id!,
      request.body,
      ackTimeoutMs(q(request)),
    );
    nullBody(reply);
  });
  app.post('/invoices/:id/cancel', async (request, reply) => {
    await payment.documents.cancelInvoice(owner(request), p(request).id!, ackTimeoutMs(q(request)));
    nullBody(reply);
  });
  app.get('/invoices/:id/payments', async (request) => {
    const invoice = payment.documents.getInvoice(owner(request), p(request).id!);
    return payment.settlement
      .payments(owner(request))
      .filter((paid) => paid.agreementPayments.some((share) => share.agreementId === invoice.agreementId));
  });

  // ---- event feeds
  const feed = (kind: DocumentKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const query = q(request);
    const who = owner(request);
    const eventQuery = {
      afterTimestamp: afterOf(query),
      maxEvents: maxEventsOf(query, MAX_EVENTS, MAX_EVENTS),
      appSessionId:
        query.appSessionId === undefined || query.appSessionId === '' ? undefined : query.appSessionId,
      roleEvents: {
        requestor: roleEventsOf(request.headers['x-requestor-events'], 'requestor'),
        provider: roleEventsOf(request.headers['x-provider-events'], 'provider'),
      },
    };
    return longPoll(request, reply, payment.events.notifier, `${kind}:${who}`, () =>
      payment.events.list(kind, who, eventQuery),
    );
  };
  app.get('/debitNoteEvents', feed('debitNote'));
  app.get('/invoiceEvents', feed('invoice'));

  // ---- payments and accounts
  app.get('/payments', async (request, reply) => {
    const query = q(request);
    const who = owner(request);
    const after = afterOf(query);
    const max = maxEventsOf(query, MAX_EVENTS, MAX_EVENTS);
    const platforms = new Set(platformsOf(payment, query).map((p) => p.platform));
    return longPoll(request, reply, payment.settlement.notifier, `payments:${who}`, () =>
      payment.settlement.payments(who, after, max).filter((paid) => platforms.has(paid.paymentPlatform)),
    );
  });
  app.get('/payments/status', async (request) =>
    payment.driverStatus(owner(request), platformsOf(payment, q(request))),
  );
  app.get('/payments/:id', async (request) => payment.settlement.payment(owner(request), p(request).id!));
  app.get('/allocations/:id/expenditures', async (request) =>
    payment.allocations.expenditures(owner(request), p(request).id!),
  );
  app.get('/allocations/:id/orders', async (request) =>
    payment.settlement.ordersOfAllocation(payment.allocations.expenditures(owner(request), p(request).id!)),
  );
  app.get('/requestorAccounts', async (request) =>
    payment.accounts().filter((account) => account.send && account.address === owner(request)),
  );
  app.get('/providerAccounts', async (request) =>
    payment.accounts().filter((account) => account.receive && account.address === owner(request)),
  );
}
