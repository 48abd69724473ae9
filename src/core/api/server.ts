import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { LanguageError } from '../../language/index.ts';
import type { Bus } from '../bus/index.ts';
import type { NodeConfig } from '../config/index.ts';
import { type AddressInUseDetails, GolemError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { AppKeyAddress, type AppKeyInfo } from '../model/identity.ts';
import type { ApiIdentity, RestPlugin, RestRegistry } from '../service/index.ts';
import { ApiErrorCode } from './errors.ts';
import { versionInfo } from './version.ts';

declare module 'fastify' {
  interface FastifyRequest {
    apiIdentity: ApiIdentity | undefined;
    appKey: AppKeyInfo | undefined;
  }
}

/** Paths served without an app-key, as in yagna. */
const PUBLIC_PREFIXES = ['/version/get', '/metrics-api', '/dashboard'];

const CORS_MAX_AGE_S = 3600;

export interface ApiServerOptions {
  bus: Bus;
  logger: Logger;
  config: Pick<NodeConfig, 'apiUrl' | 'apiAllowOrigins'>;
}

/** The identity of the app-key that made this request; throws 401 if the route was public. */
export function requestIdentity(request: FastifyRequest): ApiIdentity {
  if (request.apiIdentity === undefined) {
    throw new GolemError(ApiErrorCode.Unauthorized, 'Missing application key', { httpStatus: 401 });
  }
  return request.apiIdentity;
}

/** JSON body of every error answer: `{message, code}` (+ `details`). */
export function errorBody(error: GolemError): {
  message: string;
  code: string;
  details?: Record<string, unknown>;
} {
  return error.details === undefined
    ? { message: error.message, code: error.code }
    : { message: error.message, code: error.code, details: error.details };
}

/**
 * The daemon's REST server: app-key auth exactly as yagna (Bearer header or `?authToken=`), CORS from the
 * global allow list and the app-key's own origins, JSON errors with codes. Modules mount their routes through
 * `register(prefix, plugin)` before `listen()`.
 */
export class ApiServer implements RestRegistry {
  readonly app: FastifyInstance;
  #bus: Bus;
  #log: Logger;
  #config: ApiServerOptions['config'];
  #plugins: { prefix: string; plugin: RestPlugin }[] = [];
  #url: URL | undefined;

  constructor(options: ApiServerOptions) {
    this.#bus = options.bus;
    this.#log = options.logger.child('api');
    this.#config = options.config;
    this.app = Fastify({
      logger: false,
      bodyLimit: 16 * 1024 * 1024,
      forceCloseConnections: false,
      return503OnClosing: true,
    });
    this.app.decorateRequest('apiIdentity', undefined);
    this.app.decorateRequest('appKey', undefined);
    // One WebSocket upgrade handler for every module's routes (`{websocket: true}`); a frame is at most 16 MiB.
    this.app.register(fastifyWebsocket, { options: { maxPayload: 16 * 1024 * 1024 } });
    this.#installBodyParser();
    this.#installHooks();
    this.#installErrorHandlers();
    this.app.get('/version/get', async () => versionInfo());
    this.app.get('/me', async (request) => requestIdentity(request));
  }

  register(prefix: string, plugin: RestPlugin): void {
    this.#plugins.push({ prefix, plugin });
  }

  /** Bound URL (the real port when configured with port 0). */
  get url(): URL {
    if (this.#url === undefined)
      throw new GolemError(ApiErrorCode.NotListening, 'the REST server is not listening');
    return this.#url;
  }

  async listen(): Promise<URL> {
    for (const { prefix, plugin } of this.#plugins) {
      await this.app.register(async (scope) => plugin(scope), { prefix });
    }
    const wanted = this.#config.apiUrl;
    const host = wanted.hostname.replace(/^\[|\]$/g, '');
    const port = wanted.port === '' ? 80 : Number(wanted.port);
    try {
      await this.app.listen({ host, port });
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EADDRINUSE') {
        const details: AddressInUseDetails = {
          address: wanted.host,
          flag: '--api-url',
          env: 'YAGNA_API_URL',
        };
        throw new GolemError(ApiErrorCode.AddressInUse, `REST API address ${wanted.host} is already in use`, {
          cause,
          details,
        });
      }
      throw new GolemError(ApiErrorCode.ListenFailed, `cannot listen on ${wanted.href}`, {
        cause,
        details: { url: wanted.href },
      });
    }
    const address = this.app.server.address();
    const bound = typeof address === 'object' && address !== null ? address.port : port;
    this.#url = new URL(wanted.href);
    this.#url.port = String(bound);
    this.#log.info('REST API listening', { url: this.#url.origin });
    return this.#url;
  }

  /** Stops accepting connections and waits for in-flight requests to finish. */
  async close(): Promise<void> {
    await this.app.close();
  }

  #installBodyParser(): void {
    // Clients post `null`, nothing, or JSON; an empty body is "no body", not an error (yagna accepts it).
    this.app.removeContentTypeParser('application/json');
    this.app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch (cause) {
        done(
          new GolemError(
            ApiErrorCode.BadJson,
            `request body is not valid JSON: ${(cause as Error).message}`,
            {
              httpStatus: 400,
            },
          ),
          undefined,
        );
      }
    });
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  }

  #installHooks(): void {
    this.app.addHook('onRequest', async (request, reply) => {
      const origin = request.headers.origin;
      const path = request.url.split('?')[0] ?? '/';
      if (
        request.method === 'OPTIONS' &&
        origin !== undefined &&
        request.headers['access-control-request-method']
      ) {
        await this.#preflight(request, reply, origin);
        return reply;
      }
      const key = appKeyOf(request);
      if (key !== undefined) request.appKey = (await this.#lookup(key)) ?? undefined;
      if (origin !== undefined && this.#originAllowed(origin, request.appKey)) setCorsHeaders(reply, origin);
      if (PUBLIC_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return;
      if (key === undefined) {
        reply.code(401).send({ message: 'Missing application key', code: ApiErrorCode.MissingAppKey });
        return reply;
      }
      if (request.appKey === undefined) {
        reply.code(401).send({ message: 'Invalid application key', code: ApiErrorCode.InvalidAppKey });
        return reply;
      }
      request.apiIdentity = {
        identity: request.appKey.nodeId,
        name: request.appKey.name,
        role: request.appKey.role,
      };
    });
  }

  #installErrorHandlers(): void {
    this.app.setNotFoundHandler((request, reply) => {
      reply.code(404).send({
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
        code: ApiErrorCode.NoRoute,
      });
    });
    this.app.setErrorHandler((error: unknown, request, reply) => {
      // A constraint or property text that does not parse is the client's bad input, wherever it was parsed.
      if (error instanceof LanguageError) {
        reply.code(400).send(error.toJSON());
        return;
      }
      if (isGolemError(error)) {
        const status = error.httpStatus ?? 500;
        if (status >= 500)
          this.#log.error('request failed', { method: request.method, url: request.url, error });
        reply.code(status).send(errorBody(error));
        return;
      }
      const fastifyError = error as { statusCode?: number; code?: string; message?: string };
      if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
        reply
          .code(fastifyError.statusCode)
          .send({ message: fastifyError.message ?? 'bad request', code: ApiErrorCode.BadRequest });
        return;
      }
      this.#log.error('request failed', { method: request.method, url: request.url, error });
      reply
        .code(500)
        .send({ message: (error as Error).message ?? 'internal error', code: ApiErrorCode.Internal });
    });
  }

  async #lookup(key: string): Promise<AppKeyInfo | null> {
    return this.#bus.call<AppKeyInfo | null>(AppKeyAddress.Get, { key });
  }

  #originAllowed(origin: string, appKey: AppKeyInfo | undefined): boolean {
    const allowed = (list: readonly string[]) => list.includes('*') || list.includes(origin);
    return allowed(this.#config.apiAllowOrigins) || (appKey !== undefined && allowed(appKey.allowOrigins));
  }

  async #preflight(request: FastifyRequest, reply: FastifyReply, origin: string): Promise<void> {
    // A preflight carries no credentials: the origin passes if any list names it.
    let ok = this.#originAllowed(origin, undefined);
    if (!ok) {
      const keys = await this.#bus.call<AppKeyInfo[]>(AppKeyAddress.List, {});
      ok = keys.some((key) => key.allowOrigins.includes('*') || key.allowOrigins.includes(origin));
    }
    if (ok) {
      setCorsHeaders(reply, origin);
      reply.header('access-control-allow-methods', 'GET, POST, PUT, DELETE, PATCH, OPTIONS');
      reply.header('access-control-allow-headers', request.headers['access-control-request-headers'] ?? '*');
      reply.header('access-control-max-age', String(CORS_MAX_AGE_S));
    }
    reply.code(200).send();
  }
}

function setCorsHeaders(reply: FastifyReply, origin: string): void {
  reply.header('access-control-allow-origin', origin);
  reply.header('access-control-allow-credentials', 'true');
  reply.header('vary', 'Origin');
}

function appKeyOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match !== null) return match[1];
  }
  const query = request.query as Record<string, unknown> | undefined;
  const token = query?.authToken;
  return typeof token === 'string' && token !== '' ? token : undefined;
}
