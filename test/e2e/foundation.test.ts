import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IdentityApi, VersionApi } from 'ya-ts-client';
import { ControlConnection } from '../../src/core/control/index.ts';
import { AppKeyAddress, type AppKeyInfo } from '../../src/core/model/identity.ts';
import {
  api,
  type DaemonHandle,
  REPO_ROOT,
  readJson,
  runCli,
  startDaemon,
  tempDir,
} from '../support/daemon.ts';

describe('daemon foundation (real process)', () => {
  let daemon: DaemonHandle;
  before(async () => {
    daemon = await startDaemon({ env: { YA_NET_DISABLED: '1' } });
  });
  after(async () => {
    await daemon.stop();
    daemon.cleanup();
  });

  it('serves /me and /version/get to the official ya-ts-client', async () => {
    const version = await new VersionApi.Client({ BASE: daemon.apiUrl }).default.getVersion();
    const [major, minor] = version.current.version.split('.').map((part) => Number.parseInt(part, 10));
    assert.ok(major! > 0 || minor! >= 15, `version ${version.current.version} must be >= 0.15.2`);
    assert.equal(version.pending, null);

    const me = await new IdentityApi.Client({
      BASE: daemon.apiUrl,
      TOKEN: daemon.appKey,
    }).default.getIdentity();
    assert.deepEqual(me, { identity: daemon.nodeId, name: 'autoconfigured', role: 'manager' });

    // Our 401 body is JSON where yagna's is plain text: the client must still see a plain 401.
    await assert.rejects(
      new IdentityApi.Client({ BASE: daemon.apiUrl, TOKEN: 'not-a-key' }).default.getIdentity(),
      (error: { status?: number }) => error.status === 401,
    );
  });

  it('answers 401 with a JSON reason without a key or with a wrong one, on every route', async () => {
    for (const path of ['/me', '/market-api/v1/demands', '/net-api/v2/net/status', '/anything/else']) {
      const missing = await fetch(`${daemon.apiUrl}${path}`);
      assert.equal(missing.status, 401, path);
      assert.equal((await readJson(missing)).code, 'API_MISSING_APPKEY');
      const wrong = await fetch(`${daemon.apiUrl}${path}`, {
        headers: { authorization: 'Bearer not-a-key' },
      });
      assert.equal(wrong.status, 401, path);
      assert.equal((await readJson(wrong)).message, 'Invalid application key');
    }
    const viaQuery = await fetch(`${daemon.apiUrl}/me?authToken=${daemon.appKey}`);
    assert.equal(viaQuery.status, 200);
    assert.equal((await fetch(`${daemon.apiUrl}/version/get`)).status, 200);
  });

  it('accepts an app-key created while running, at once', async () => {
    const created = runCli(['app-key', 'create', 'late', '--json'], { dataDir: daemon.dataDir });
    assert.equal(created.code, 0, created.stderr);
    const key = JSON.parse(created.stdout) as AppKeyInfo;
    const me = await api({ apiUrl: daemon.apiUrl, appKey: key.key }, '/me');
    assert.equal(me.status, 200);
    assert.equal((await readJson(me)).name, 'late');
  });

  it('lists identities and keys through the CLI with --json while the daemon runs', () => {
    const ids = runCli(['id', 'list', '--json'], { dataDir: daemon.dataDir });
    assert.equal(ids.code, 0, ids.stderr);
    assert.equal(JSON.parse(ids.stdout)[0].nodeId, daemon.nodeId);
    const keys = runCli(['app-key', 'list', '--json'], { dataDir: daemon.dataDir });
    assert.ok(JSON.parse(keys.stdout).some((k: AppKeyInfo) => k.name === 'autoconfigured'));
  });

  it('refuses a second daemon on the same data dir', async () => {
    await assert.rejects(
      startDaemon({ dataDir: daemon.dataDir, env: { YA_NET_DISABLED: '1' }, timeoutMs: 10_000 }),
      /already runs/,
    );
  });
});

describe('durability (real process)', () => {
  it('keeps identities and app-keys across a restart', async () => {
    const dataDir = tempDir();
    const created = runCli(['id', 'create', '--alias', 'second', '--json'], { dataDir });
    assert.equal(created.code, 0, created.stderr);
    const key = runCli(['app-key', 'create', 'kept', '--id', 'second'], { dataDir }).stdout.trim();

    const first = await startDaemon({ dataDir, env: { YA_NET_DISABLED: '1' } });
    const me = await api({ apiUrl: first.apiUrl, appKey: key }, '/me');
    assert.equal((await readJson(me)).identity, JSON.parse(created.stdout).nodeId);
    assert.equal(await first.stop(), 0);
    // A clean stop leaves no trace of a running daemon behind.
    assert.ok(!existsSync(join(dataDir, 'daemon.json')));
    assert.ok(!existsSync(join(dataDir, 'yagna.sock')));

    const second = await first.restart();
    assert.equal(second.nodeId, first.nodeId);
    assert.equal((await api({ apiUrl: second.apiUrl, appKey: key }, '/me')).status, 200);
    await second.stop();
    second.cleanup();
  });

  it('loses no acknowledged write when killed with SIGKILL', async () => {
    const daemon = await startDaemon({ env: { YA_NET_DISABLED: '1' } });
    const control = await ControlConnection.connect(`${daemon.dataDir}/yagna.sock`);
    const acknowledged: string[] = [];
    // Writes keep flowing when the kill lands; every one that was answered must survive.
    const writer = (async () => {
      for (let i = 0; i < 500; i++) {
        try {
          const key = await control.call<AppKeyInfo>(AppKeyAddress.Create, { name: `k${i}` });
          acknowledged.push(key.key);
        } catch {
          return;
        }
      }
    })();
    while (acknowledged.length < 20) await new Promise((resolve) => setTimeout(resolve, 5));
    await daemon.kill();
    await writer;
    await control.close();

    const restarted = await daemon.restart();
    for (const key of acknowledged) {
      assert.equal(
        (await api({ apiUrl: restarted.apiUrl, appKey: key }, '/me')).status,
        200,
        `key ${key} was lost`,
      );
    }
    await restarted.stop();
    restarted.cleanup();
  });
});

describe('CLI (real process)', () => {
  it('exits 2 with usage on bad arguments', () => {
    const unknownVerb = runCli(['id', 'frobnicate']);
    assert.equal(unknownVerb.code, 2);
    assert.match(unknownVerb.stderr, /Usage: yagna/);
    const unknownOption = runCli(['app-key', 'list', '--bogus'], { dataDir: tempDir() });
    assert.equal(unknownOption.code, 2);
    assert.match(unknownOption.stderr, /bogus/);
    const missing = runCli(['app-key', 'create'], { dataDir: tempDir() });
    assert.equal(missing.code, 2);
  });

  it('works offline: create, lock, unlock, export an identity', () => {
    const dataDir = tempDir();
    const created = JSON.parse(runCli(['id', 'create', '--alias', 'a', '--json'], { dataDir }).stdout);
    assert.equal(runCli(['id', 'lock', 'a', '--password', 'pw'], { dataDir }).code, 0);
    const exported = runCli(['id', 'export', 'a'], { dataDir });
    assert.equal(JSON.parse(exported.stdout).address, created.nodeId.slice(2));
    const show = JSON.parse(runCli(['id', 'show', 'a', '--json'], { dataDir }).stdout);
    assert.equal(show.isLocked, true);
    const wrong = runCli(['id', 'unlock', 'a', '--password', 'nope'], { dataDir });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /IDENTITY_WRONG_PASSWORD/);
  });
});

const BIN = join(REPO_ROOT, 'bin', 'yagna.js');
const PROJECT_NODE = join(REPO_ROOT, 'node_modules', '.bin', 'node');
const SYSTEM_NODE = '/usr/bin/node';

/** The Nodes a user may start the bin with: the project's Node 24 and the machine's own (Node 20 here). */
const nodes = [
  { name: 'the project Node (node_modules/.bin/node)', path: PROJECT_NODE, skip: false as const },
  {
    name: `the system Node (${SYSTEM_NODE})`,
    path: SYSTEM_NODE,
    skip: existsSync(SYSTEM_NODE) ? (false as const) : `no system Node at ${SYSTEM_NODE}`,
  },
];

/** PATH with `node`'s folder first, so `#!/usr/bin/env node` picks that Node. */
function pathFirst(node: string): string {
  return [dirname(node), '/usr/bin', '/bin'].join(':');
}

function stripsTypes(version: string): boolean {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major! > 22 || (major === 22 && minor! >= 18);
}

function nodeVersion(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

describe('bin/yagna.js on every Node (real process)', () => {
  for (const node of nodes) {
    describe(node.name, { skip: node.skip }, () => {
      it('prints the version, as `node bin/yagna.js` and as `./bin/yagna.js` with that Node first on PATH', () => {
        const runs = [
          spawnSync(node.path, [BIN, 'version'], { encoding: 'utf8', timeout: 60_000 }),
          spawnSync(BIN, ['version'], {
            encoding: 'utf8',
            timeout: 60_000,
            env: { ...process.env, PATH: pathFirst(node.path) },
          }),
        ];
        for (const run of runs) {
          assert.equal(run.status, 0, run.stderr);
          assert.match(run.stdout, /^golem-ts \d+\.\d+\.\d+ \(serves the yagna [^)]+ REST API\)\n$/);
        }
      });

      for (const how of ['node bin/yagna.js', './bin/yagna.js']) {
        it(`runs a daemon that answers /version/get: ${how} service run`, async () => {
          const direct = how.startsWith('node');
          const daemon = await startDaemon({
            command: direct ? [node.path, BIN] : [BIN],
            args: ['--net-disabled'],
            env: direct ? {} : { PATH: pathFirst(node.path) },
          });
          try {
            const response = await fetch(`${daemon.apiUrl}/version/get`);
            assert.equal(response.status, 200);
            const body = (await response.json()) as { current: { version: string } };
            assert.match(body.current.version, /^0\.17\.\d+-golem-ts/);
            const { pid } = JSON.parse(readFileSync(join(daemon.dataDir, 'daemon.json'), 'utf8'));
            // A Node that strips types runs the daemon in the started process; an older one hands it to a Node 24 child.
            assert.equal(
              pid === daemon.process.pid,
              stripsTypes(nodeVersion(node.path)),
              `daemon pid ${pid}`,
            );
          } finally {
            // SIGTERM to the started process reaches the daemon, through the launcher when it re-executed.
            assert.equal(await daemon.stop(), 0);
            daemon.cleanup();
          }
        });
      }
    });
  }

  const oldNode = !existsSync(SYSTEM_NODE)
    ? `no system Node at ${SYSTEM_NODE}`
    : stripsTypes(nodeVersion(SYSTEM_NODE))
      ? `the system Node (${nodeVersion(SYSTEM_NODE)}) strips types: no Node older than 22.18 to try`
      : false;
  it('on an old Node, says what to do when the package has no Node 24 to run on', { skip: oldNode }, () => {
    // A copy of the bin folder where no node_modules/.bin/node is found upwards.
    const dir = tempDir('golem-ts-bin-');
    cpSync(join(REPO_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    const run = spawnSync(SYSTEM_NODE, [join(dir, 'bin', 'yagna.js'), 'version'], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.match(
      run.stderr,
      /^yagna needs Node\.js >= 22\.18 \(found \d+\.\d+\.\d+\); run `npm install` in the package first\.\n$/,
    );
  });
});

describe('a REST port already in use (real process)', () => {
  it('says in one line which address is taken and which setting moves it, and exits 1', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as { port: number }).port;
    try {
      // With the network on and debug logs: the daemon must give up before any module starts.
      const byFlag = runCli(['service', 'run', '--api-url', `http://127.0.0.1:${port}`], {
        dataDir: tempDir(),
        env: { YAGNA_LOG_LEVEL: 'debug', YA_NET_LISTEN: '/ip4/127.0.0.1/tcp/0' },
      });
      assert.doesNotMatch(byFlag.stderr, /module started|identity|net/i, 'no module started');
      const byEnv = runCli(['service', 'run', '--net-disabled'], {
        dataDir: tempDir(),
        env: { YAGNA_API_URL: `http://127.0.0.1:${port}` },
      });
      for (const result of [byFlag, byEnv]) {
        assert.equal(result.code, 1, result.stderr);
        const line = `yagna service run: address 127.0.0.1:${port} is already in use; choose another with --api-url or YAGNA_API_URL [API_ADDRESS_IN_USE]`;
        assert.ok(result.stderr.split('\n').includes(line), result.stderr);
        assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
      }
    } finally {
      holder.close();
    }
  });
});
