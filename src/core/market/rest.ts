/** `/market-api/v1` as yagna serves it: paths, status codes, long-poll timeouts in seconds, JSON string ids. */
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
import type { SignedOffer } from '../model/market.ts';
import { MarketErrorCode } from './errors.ts';
import { compileChecked, createMatcher } from './matching.ts';
import type { MarketService } from './service.ts';

type Params = Record<string, string>;

interface Scan {
  owner: string;
  matcher: (offer: SignedOffer) => 'yes' | 'no';
  seen: Set<string>;
  expiresAt: number;
}

export function registerMarketRoutes(app: FastifyInstance, market: MarketService): void {
  const owner = (request: FastifyRequest) => requestIdentity(request).identity;
  const q = (request: FastifyRequest) => request.query as Query;
  const p = (request: FastifyRequest) => request.params as Params;

  // ---- both sides of a subscription: events and proposals (offers are the provider's, demands the requestor's)
  for (const [collection, role] of [
    ['offers', 'provider'],
    ['demands', 'requestor'],
  ] as const) {
    app.get(`/${collection}/:id/events`, async (request, reply) =>
      market.collectEvents(
        owner(request),
        p(request).id!,
        role,
        pollTimeoutMs(q(request)),
        maxEventsOf(q(request), 20, 100),
        clientGone(reply),
      ),
    );
    app.get(`/${collection}/:id/proposals/:pid`, async (request) =>
      market.getProposal(owner(request), p(request).id!, p(request).pid!, role),
    );
    app.post(`/${collection}/:id/proposals/:pid`, async (request, reply) =>
      sendJsonId(
        reply,
        200,
        await market.counterProposal(owner(request), p(request).id!, p(request).pid!, role, request.body),
      ),
    );
    app.post(`/${collection}/:id/proposals/:pid/reject`, async (request, reply) => {
      await market.rejectProposal(owner(request), p(request).id!, p(request).pid!, role, request.body);
      reply.code(204).send();
    });
  }

  // ---- provider: offers
  app.post('/offers', async (request, reply) =>
    sendJsonId(reply, 201, await market.subscribeOffer(owner(request), request.body)),
  );
  app.get('/offers', async (request) => market.listOffers(owner(request)));
  app.delete('/offers/:id', async (request, reply) => {
    await market.unsubscribeOffer(owner(request), p(request).id!);
    reply.code(204).send();
  });
  app.post('/agreements/:id/approve', async (request, reply) => {
    await market.approveAgreement(owner(request), p(request).id!, q(request).appSessionId);
    reply.code(204).send();
  });
  app.post('/agreements/:id/reject', async (request, reply) => {
    await market.rejectAgreement(owner(request), p(request).id!, request.body);
    reply.code(200).send();
  });

  // ---- requestor: demands
  app.post('/demands', async (request, reply) =>
    sendJsonId(reply, 201, market.subscribeDemand(owner(request), request.body)),
  );
  app.get('/demands', async (request) => market.listDemands(owner(request)));
  app.delete('/demands/:id', async (request, reply) => {
    market.unsubscribeDemand(owner(request), p(request).id!);
    reply.code(204).send();
  });
  // ---- requestor: agreements
  app.post('/agreements', async (request, reply) =>
    sendJsonId(reply, 200, market.createAgreement(owner(request), request.body)),
  );
  app.post('/agreements/:id/confirm', async (request, reply) => {
    await market.confirmAgreement(owner(request), p(request).id!, q(request).appSessionId);
    reply.code(204).send();
  });
  app.post('/agreements/:id/wait', async (request, reply) => {
    await market.waitForApproval(
      owner(request),
      p(request).id!,
      pollTimeoutMs(q(request)),
      clientGone(reply),
    );
    reply.code(204).send();
  });
  app.post('/agreements/:id/cancel', async (request, reply) => {
    await market.cancelAgreement(owner(request), p(request).id!, request.body);
    reply.code(200).send();
  });

  // ---- both
  app.get('/agreements', async (request) =>
    market.listAgreements(owner(request), { state: q(request).state, appSessionId: q(request).appSessionId }),
  );
  app.get('/agreements/:id', async (request) => market.getAgreement(owner(request), p(request).id!));
  app.post('/agreements/:id/terminate', async (request, reply) => {
    await market.terminateAgreement(owner(request), p(request).id!, request.body);
    reply.code(200).send();
  });
  const terminationReason = async (request: FastifyRequest) =>
    market.terminationReason(owner(request), p(request).id!);
  app.get('/agreements/:id/terminate/reason', terminationReason);
  app.post('/agreements/:id/terminate/reason', terminationReason);
  app.get('/agreementEvents', async (request, reply) => {
    const query = q(request);
    const after =
      query.afterTimestamp === undefined
        ? '2016-11-11T15:12:00.000Z'
        : new Date(query.afterTimestamp).toISOString();
    return market.agreementEvents(
      owner(request),
      {
        afterTimestamp: after,
        maxEvents: maxEventsOf(query, 20, 100),
        appSessionId: query.appSessionId,
        timeoutMs: pollTimeoutMs(query),
      },
      clientGone(reply),
    );
  });

  // ---- scan: offers matching constraints, as JSON pages or a server-sent event stream
  const scans = new Map<string, Scan>();
  let nextScan = 1;
  const scanOf = (request: FastifyRequest): Scan => {
    const scan = scans.get(p(request).id!);
    if (scan === undefined || scan.owner !== owner(request))
      throw httpError.notFound(MarketErrorCode.ScanNotFound, 'scan not found');
    if (scan.expiresAt < Date.now()) {
      scans.delete(p(request).id!);
      throw httpError.gone(MarketErrorCode.ScanExpired, 'scan expired');
    }
    return scan;
  };
  const fresh = (scan: Scan, limit: number): SignedOffer[] => {
    const out: SignedOffer[] = [];
    for (const offer of market.discovery.list()) {
      if (out.length >= limit) break;
      if (scan.seen.has(offer.offerId) || scan.matcher(offer) !== 'yes') continue;
      scan.seen.add(offer.offerId);
      out.push(offer);
    }
    return out;
  };
  const offerView = (offer: SignedOffer) => ({
    properties: offer.properties,
    constraints: offer.constraints,
    offerId: offer.offerId,
    providerId: offer.providerId,
    timestamp: offer.createdAt,
  });
  app.post('/scan', async (request, reply) => {
    const body = (request.body ?? {}) as { type?: unknown; constraints?: unknown; timeout?: unknown };
    if (body.type !== undefined && body.type !== 'offer')
      throw httpError.badRequest(MarketErrorCode.BadScan, 'only offers can be scanned');
    const demand = compileChecked({
      properties: {},
      constraints: typeof body.constraints === 'string' ? body.constraints : '()',
    });
    // Scans nobody collects any more would pile up: forget the expired ones whenever a new one starts.
    for (const [scanId, scan] of scans) if (scan.expiresAt < Date.now()) scans.delete(scanId);
    const id = String(nextScan++);
    const ttl = typeof body.timeout === 'number' && body.timeout > 0 ? body.timeout : 300;
    // A scan matches one way: the offers' properties against the scan's constraints.
    const match = createMatcher({ properties: {}, constraints: demand.constraints });
    scans.set(id, {
      owner: owner(request),
      matcher: (offer) =>
        match({ properties: offer.properties as never, constraints: '()' }) === 'yes' ? 'yes' : 'no',
      seen: new Set(),
      expiresAt: Date.now() + ttl * 1000,
    });
    sendJsonId(reply, 201, id);
  });
  app.get('/scan/:id/events', async (request, reply) => {
    const scan = scanOf(request);
    const limit = maxEventsOf(q(request), 500, 10_000);
    if (request.headers.accept === 'text/event-stream') {
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      });
      const signal = clientGone(reply);
      const offerCount = () => market.discovery.count();
      while (!signal.aborted && scans.has(p(request).id!)) {
        for (const offer of fresh(scan, 100))
          raw.write(`event: offer\ndata: ${JSON.stringify(offerView(offer))}\n\n`);
        const before = offerCount();
        const deadline = Date.now() + 1000;
        while (Date.now() < deadline && offerCount() === before && !signal.aborted)
          await new Promise((resolve) => setTimeout(resolve, 100));
      }
      raw.end();
      return;
    }
    const deadline = Date.now() + pollTimeoutMs(q(request));
    const gone = clientGone(reply);
    let found = fresh(scan, limit);
    while (found.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Offers taken for a client that left would be marked seen and never shown: its next poll gets them.
      if (gone.aborted) return [];
      found = fresh(scan, limit);
    }
    return found.map(offerView);
  });
  app.delete('/scan/:id', async (request, reply) => {
    scanOf(request);
    scans.delete(p(request).id!);
    reply.code(204).send();
  });
}
