import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiServer, requestIdentity } from '../../../../src/core/api/index.ts';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { type ErrorCode, GolemError } from '../../../../src/core/errors/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { AppKeyAddress, type AppKeyInfo } from '../../../../src/core/model/identity.ts';
import { parseConstraints } from '../../../../src/language/index.ts';
import { readJson } from '../../../support/daemon.ts';

const NODE = '0x00000000000000000000000000000000000000aa';
const keys: AppKeyInfo[] = [
  { name: 'plain', key: 'k1', nodeId: NODE, role: 'manager', createdAt: '', allowOrigins: [] },
  {
    name: 'web',
    key: 'k2',
    nodeId: NODE,
    role: 'manager',
    createdAt: '',
    allowOrigins: ['http://app.example'],
  },
];

describe('ApiServer', () => {
  let server: ApiServer;
  let base: string;
  before(async () => {
    // A stand-in for the identity module's app-key handlers.
    const bus = new LocalBus();
    bus.bind(AppKeyAddress.Get, (m: { key: string }) => keys.find((k) => k.key === m.key) ?? null);
    bus.bind(AppKeyAddress.List, () => keys);
    server = new ApiServer({
      bus,
      logger: silentLogger,
      config: { apiUrl: new URL('http://127.0.0.1:0'), apiAllowOrigins: ['http://global.example'] },
    });
    server.register('/test-api/v1', (app) => {
      app.get('/who', async (request) => requestIdentity(request));
      app.get('/gone', async () => {
        throw new GolemError('TEST_GONE' as ErrorCode, 'it is gone', { httpStatus: 410 });
      });
      app.get('/boom', async () => {
        throw new Error('unexpected');
      });
      app.get('/constraints', async () => parseConstraints('(golem.inf.mem.gib>='));
      app.post('/echo', async (request) => ({ body: request.body ?? 'none' }));
    });
    base = (await server.listen()).origin;
  });
  after(() => server.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });

  it('mounts module routes behind auth and gives them the caller identity', async () => {
    assert.equal((await get('/test-api/v1/who')).status, 401);
    const response = await get('/test-api/v1/who', { authorization: 'Bearer k1' });
    assert.deepEqual(await response.json(), { identity: NODE, name: 'plain', role: 'manager' });
  });

  it('maps errors to their status with a JSON body naming the code', async () => {
    const gone = await get('/test-api/v1/gone', { authorization: 'Bearer k1' });
    assert.equal(gone.status, 410);
    assert.deepEqual(await gone.json(), { message: 'it is gone', code: 'TEST_GONE' });
    const boom = await get('/test-api/v1/boom', { authorization: 'Bearer k1' });
    assert.equal(boom.status, 500);
    assert.equal((await readJson(boom)).code, 'API_INTERNAL');
    const missing = await get('/test-api/v1/none', { authorization: 'Bearer k1' });
    assert.equal(missing.status, 404);
    assert.equal((await readJson(missing)).code, 'API_NO_ROUTE');
  });

  it('answers a constraint text that does not parse with 400, its code and where it failed', async () => {
    const response = await get('/test-api/v1/constraints', { authorization: 'Bearer k1' });
    assert.equal(response.status, 400);
    const body = await readJson(response);
    assert.equal(body.code, 'LANGUAGE_PARSE_ERROR');
    assert.match(String(body.message), /line 1, column 21/);
    assert.equal((body.details as { position: number }).position, 20);
  });

  it('answers bad JSON with 400 and takes an empty body as no body', async () => {
    const headers = { authorization: 'Bearer k1', 'content-type': 'application/json' };
    const bad = await fetch(`${base}/test-api/v1/echo`, { method: 'POST', headers, body: '{oops' });
    assert.equal(bad.status, 400);
    assert.equal((await readJson(bad)).code, 'API_BAD_JSON');
    const empty = await fetch(`${base}/test-api/v1/echo`, { method: 'POST', headers, body: '' });
    assert.deepEqual(await empty.json(), { body: 'none' });
    const nullBody = await fetch(`${base}/test-api/v1/echo`, { method: 'POST', headers, body: 'null' });
    assert.deepEqual(await nullBody.json(), { body: 'none' });
  });

  it('sets CORS headers for the global list and for the app-key’s own origins only', async () => {
    const global = await get('/me', { authorization: 'Bearer k1', origin: 'http://global.example' });
    assert.equal(global.headers.get('access-control-allow-origin'), 'http://global.example');
    const own = await get('/me', { authorization: 'Bearer k2', origin: 'http://app.example' });
    assert.equal(own.headers.get('access-control-allow-origin'), 'http://app.example');
    const foreign = await get('/me', { authorization: 'Bearer k1', origin: 'http://app.example' });
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);

    const preflight = await fetch(`${base}/me`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://app.example');
    assert.equal(preflight.headers.get('access-control-max-age'), '3600');
    const refused = await fetch(`${base}/me`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' },
    });
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
  });

  it('lets an in-flight request finish when the server closes, and refuses new ones', async () => {
    const bus = new LocalBus();
    bus.bind(AppKeyAddress.Get, (m: { key: string }) => keys.find((k) => k.key === m.key) ?? null);
    const closing = new ApiServer({
      bus,
      logger: silentLogger,
      config: { apiUrl: new URL('http://127.0.0.1:0'), apiAllowOrigins: [] },
    });
    let release: () => void = () => {};
    let arrived: () => void = () => {};
    const requestArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    closing.register('/slow-api', (app) => {
      app.get('/wait', async () => {
        arrived();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { done: true };
      });
    });
    const url = (await closing.listen()).origin;
    const inFlight = fetch(`${url}/slow-api/wait`, { headers: { authorization: 'Bearer k1' } });
    await requestArrived;
    const closed = closing.close();
    release();
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { done: true });
    await closed;
    await assert.rejects(fetch(`${url}/me`, { headers: { authorization: 'Bearer k1' } }));
  });
});
