/**
 * `/activity-api/v1` as yagna 0.17 serves it: create (an object answered with an object, a bare string with a
 * bare string), destroy, exec, batch results as a long poll (cumulative from index 0) or as server-sent events
 * (`Accept: text/event-stream`, frames `event: runtime`), state, usage, running command and the agreement id,
 * which still answer after the activity ended.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  clientGone,
  maxEventsOf,
  pollTimeoutMs,
  type Query,
  requestIdentity,
  sendJsonId,
} from '../api/index.ts';
import { httpError } from '../errors/index.ts';
import { parseExeScriptText } from '../model/exescript.ts';
import { ActivityErrorCode } from './errors.ts';
import type { ActivityService } from './service.ts';

type Params = Record<string, string>;

/** yagna pings an idle event stream every 15 s. */
const SSE_PING_MS = 15_000;

function commandIndexOf(query: Query): number | undefined {
  const raw = query.commandIndex;
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw httpError.badRequest(ActivityErrorCode.BadRequest, 'commandIndex is a whole number');
  return value;
}

export function registerActivityRoutes(app: FastifyInstance, activity: ActivityService): void {
  const owner = (request: FastifyRequest) => requestIdentity(request).identity;
  const q = (request: FastifyRequest) => request.query as Query;
  const p = (request: FastifyRequest) => request.params as Params;

  app.post('/activity', async (request, reply) => {
    const body = request.body;
    const bare = typeof body === 'string';
    const agreementId = bare ? body : (body as { agreementId?: unknown } | null)?.agreementId;
    if (typeof agreementId !== 'string' || agreementId === '')
      throw httpError.badRequest(ActivityErrorCode.BadRequest, 'the body is {"agreementId": "…"}');
    const activityId = await activity.createActivity(owner(request), agreementId, pollTimeoutMs(q(request)));
    if (bare) sendJsonId(reply, 200, activityId);
    else reply.code(200).send({ activityId });
  });

  app.get('/activity', async (request) => {
    const agreementId = q(request).agreementId;
    if (agreementId === undefined)
      throw httpError.badRequest(ActivityErrorCode.BadRequest, 'agreementId is required');
    return activity.listByAgreement(owner(request), agreementId);
  });

  app.delete('/activity/:id', async (request, reply) => {
    await activity.destroyActivity(owner(request), p(request).id!, pollTimeoutMs(q(request)));
    reply.code(200).type('application/json').send('null');
  });

  app.post('/activity/:id/exec', async (request, reply) => {
    const text = (request.body as { text?: unknown } | null)?.text;
    const script = parseExeScriptText(text);
    sendJsonId(reply, 200, await activity.exec(owner(request), p(request).id!, script));
  });

  app.get('/activity/:id/exec/:batchId', async (request, reply) => {
    const { id, batchId } = p(request) as { id: string; batchId: string };
    if (request.headers.accept === 'text/event-stream') {
      const signal = clientGone(reply);
      const events = activity.streamBatch(owner(request), id, batchId, signal)[Symbol.asyncIterator]();
      // The first event (or the error: unknown batch, not the requestor) decides the status, as in yagna.
      let next = await events.next();
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      const ping = setInterval(() => raw.write(':ping\n'), SSE_PING_MS);
      let seq = 0;
      try {
        for (; !next.done; next = await events.next())
          raw.write(`event: runtime\ndata: ${JSON.stringify(next.value)}\nid: ${seq++}\n\n`);
      } catch (error) {
        if (!signal.aborted)
          raw.write(`event: error\ndata: ${JSON.stringify({ message: (error as Error).message })}\n\n`);
      }
      // golem-js closes the stream itself; closing first would look like an error to it.
      if (!signal.aborted)
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      clearInterval(ping);
      raw.end();
      return;
    }
    // yagna waits 0 s when no timeout is given.
    return activity.batchResults(
      owner(request),
      id,
      batchId,
      commandIndexOf(q(request)),
      pollTimeoutMs(q(request), 0),
      clientGone(reply),
    );
  });

  app.get('/activity/:id/agreement', async (request, reply) => {
    sendJsonId(reply, 200, activity.own(owner(request), p(request).id!).agreement_id);
  });
  app.get('/activity/:id/state', async (request) =>
    activity.state(owner(request), p(request).id!, pollTimeoutMs(q(request))),
  );
  app.get('/activity/:id/usage', async (request) =>
    activity.usage(owner(request), p(request).id!, pollTimeoutMs(q(request))),
  );
  app.get('/activity/:id/command', async (request) =>
    activity.runningCommand(owner(request), p(request).id!, pollTimeoutMs(q(request))),
  );

  // ---- provider: yagna's event feed and the provider's own state report
  app.get('/events', async (request, reply) => {
    const query = q(request);
    const since = query.afterTimestamp === undefined ? 0 : Date.parse(query.afterTimestamp);
    if (Number.isNaN(since))
      throw httpError.badRequest(ActivityErrorCode.BadRequest, 'afterTimestamp is a date');
    const after = new Date(since).toISOString();
    return activity.providerEvents(
      owner(request),
      after,
      pollTimeoutMs(query),
      maxEventsOf(query, 100, 1000),
      clientGone(reply),
    );
  });
  app.put('/activity/:id/state', async (request, reply) => {
    activity.setStateByProvider(owner(request), p(request).id!, request.body);
    reply.code(200).type('application/json').send('null');
  });
}
