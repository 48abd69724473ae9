import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { digestOf, fromHex, recoverNodeId, toHex } from '../../../../src/core/crypto/index.ts';
import { type Database, openDatabase } from '../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { encryptKeystore, IdentityService } from '../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import {
  AppKeyAddress,
  type AppKeyInfo,
  IDENTITY_EVENTS_TOPIC,
  IdentityAddress,
  type IdentityInfo,
} from '../../../../src/core/model/identity.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startNode(env: Record<string, string> = {}, db?: Database) {
  const dir = mkdtempSync(join(tmpdir(), 'identity-'));
  dirs.push(dir);
  const database = db ?? openDatabase(join(dir, 'yagna.db'));
  const bus = new LocalBus();
  const service = new IdentityService({
    db: database,
    bus,
    logger: silentLogger,
    config: resolveConfig({}, env),
  });
  await service.start();
  return { bus, service, db: database };
}

const SECRET = '0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318';
const SECRET_ID = '0x2c7536e3605d9c16a7a3d7b1898e529396a65c23';

describe('identity service over the bus', () => {
  it('creates a default identity on first start and announces it to the bus', async () => {
    const { bus } = await startNode();
    const list = await bus.call<IdentityInfo[]>(IdentityAddress.List);
    assert.equal(list.length, 1);
    assert.equal(list[0]!.isDefault, true);
    assert.equal(list[0]!.isLocked, false);
    assert.match(list[0]!.nodeId, /^0x[0-9a-f]{40}$/);
    assert.equal(bus.nodeId, list[0]!.nodeId);
  });

  it('imports from a private key and from a key file, with aliases', async () => {
    const { bus } = await startNode();
    const fromKey = await bus.call<IdentityInfo>(IdentityAddress.Create, {
      fromPrivateKey: SECRET,
      alias: 'imported',
    });
    assert.equal(fromKey.nodeId, SECRET_ID);
    assert.equal(
      (await bus.call<IdentityInfo>(IdentityAddress.Get, { alias: 'imported' })).nodeId,
      SECRET_ID,
    );
    await assert.rejects(bus.call(IdentityAddress.Create, { fromPrivateKey: SECRET }), (e) =>
      isGolemError(e, 'IDENTITY_EXISTS'),
    );
    await assert.rejects(bus.call(IdentityAddress.Create, { alias: 'imported' }), (e) =>
      isGolemError(e, 'IDENTITY_ALIAS_TAKEN'),
    );

    const file = encryptKeystore(fromHex(`0x${'11'.repeat(32)}`), 'pw');
    const fromFile = await bus.call<IdentityInfo>(IdentityAddress.Create, {
      fromKeystore: JSON.stringify(file),
      keystorePassword: 'pw',
    });
    assert.equal(fromFile.nodeId, `0x${file.address}`);
  });

  it('signs digests recoverably; a locked identity cannot sign until unlocked', async () => {
    const { bus } = await startNode();
    const other = await bus.call<IdentityInfo>(IdentityAddress.Create, { fromPrivateKey: SECRET });
    const digest = toHex(digestOf({ hello: 'world' }));
    const signature = await bus.call<string>(IdentityAddress.Sign, { nodeId: other.nodeId, digest });
    assert.equal(recoverNodeId(fromHex(digest), fromHex(signature)), other.nodeId);
    await assert.rejects(
      bus.call(IdentityAddress.Sign, { nodeId: other.nodeId, digest: toHex(new Uint8Array(31)) }),
      (e) => isGolemError(e, 'IDENTITY_BAD_DIGEST'),
    );

    const events: unknown[] = [];
    bus.subscribe(IDENTITY_EVENTS_TOPIC, (event) => {
      events.push(event);
    });
    const locked = await bus.call<IdentityInfo>(IdentityAddress.Lock, {
      nodeId: other.nodeId,
      password: 'pw',
    });
    assert.equal(locked.isLocked, true);
    await assert.rejects(bus.call(IdentityAddress.Sign, { nodeId: other.nodeId, digest }), (e) =>
      isGolemError(e, 'IDENTITY_LOCKED'),
    );
    await assert.rejects(bus.call(IdentityAddress.Unlock, { nodeId: other.nodeId, password: 'nope' }), (e) =>
      isGolemError(e, 'IDENTITY_WRONG_PASSWORD'),
    );
    await bus.call(IdentityAddress.Unlock, { nodeId: other.nodeId, password: 'pw' });
    assert.equal(await bus.call<string>(IdentityAddress.Sign, { nodeId: other.nodeId, digest }), signature);
    assert.deepEqual(events, [
      { type: 'locked', nodeId: other.nodeId },
      { type: 'unlocked', nodeId: other.nodeId },
    ]);
  });

  it('exports a key file under a new password and the plain key', async () => {
    const { bus } = await startNode({ YAGNA_AUTOCONF_ID_SECRET: SECRET });
    const exported = await bus.call<{ privateKey: string }>(IdentityAddress.Export, {
      nodeId: SECRET_ID,
      plain: true,
    });
    assert.equal(exported.privateKey, SECRET);
    const file = await bus.call<{ keystore: { address: string } }>(IdentityAddress.Export, {
      nodeId: SECRET_ID,
      password: 'x',
    });
    assert.equal(`0x${file.keystore.address}`, SECRET_ID);
  });

  it('sets the default identity from YAGNA_AUTOCONF_ID_SECRET and refuses to drop it', async () => {
    const { bus } = await startNode({ YAGNA_AUTOCONF_ID_SECRET: SECRET });
    assert.equal(bus.nodeId, SECRET_ID);
    await assert.rejects(bus.call(IdentityAddress.Drop, { nodeId: SECRET_ID }), (e) =>
      isGolemError(e, 'IDENTITY_DROP_DEFAULT'),
    );
  });

  it('manages app-keys: one name per node, same key on re-create, lookup by value, drop', async () => {
    const { bus } = await startNode();
    const first = await bus.call<AppKeyInfo>(AppKeyAddress.Create, { name: 'req' });
    assert.match(first.key, /^[0-9a-f]{32}$/);
    assert.equal(first.role, 'manager');
    assert.equal((await bus.call<AppKeyInfo>(AppKeyAddress.Create, { name: 'req' })).key, first.key);
    const other = await bus.call<IdentityInfo>(IdentityAddress.Create, { alias: 'second' });
    await assert.rejects(bus.call(AppKeyAddress.Create, { name: 'req', nodeId: other.nodeId }), (e) =>
      isGolemError(e, 'APPKEY_NAME_TAKEN'),
    );
    const second = await bus.call<AppKeyInfo>(AppKeyAddress.Create, { name: 'prov', nodeId: 'second' });
    assert.equal(second.nodeId, other.nodeId);
    assert.deepEqual(
      (await bus.call<AppKeyInfo | null>(AppKeyAddress.Get, { key: second.key }))?.name,
      'prov',
    );
    assert.equal((await bus.call<AppKeyInfo[]>(AppKeyAddress.List, { nodeId: other.nodeId })).length, 1);
    await bus.call(AppKeyAddress.Drop, { name: 'prov' });
    assert.equal(await bus.call(AppKeyAddress.Get, { key: second.key }), null);
    await assert.rejects(bus.call(AppKeyAddress.Drop, { name: 'prov' }), (e) =>
      isGolemError(e, 'APPKEY_NOT_FOUND'),
    );
  });

  it('serves the autoconfigured app-key from memory only', async () => {
    const { bus, service, db } = await startNode({ YAGNA_AUTOCONF_APPKEY: 'abc123' });
    const key = await bus.call<AppKeyInfo | null>(AppKeyAddress.Get, { key: 'abc123' });
    assert.equal(key?.name, 'autoconfigured');
    assert.equal(key?.nodeId, bus.nodeId);
    assert.ok((await bus.call<AppKeyInfo[]>(AppKeyAddress.List)).some((k) => k.name === 'autoconfigured'));
    await assert.rejects(bus.call(AppKeyAddress.Drop, { name: 'autoconfigured' }), (e) =>
      isGolemError(e, 'APPKEY_AUTOCONF'),
    );
    await assert.rejects(bus.call(AppKeyAddress.Create, { name: 'autoconfigured' }), (e) =>
      isGolemError(e, 'APPKEY_NAME_TAKEN'),
    );
    await service.stop();
    const again = await startNode({}, db);
    assert.equal(await again.bus.call(AppKeyAddress.Get, { key: 'abc123' }), null);
  });

  it('keeps identities and app-keys across a restart, and needs the password for a locked default', async () => {
    const { bus, service, db } = await startNode();
    const id = bus.nodeId!;
    const extra = await bus.call<IdentityInfo>(IdentityAddress.Create, {
      alias: 'locked-one',
      password: 'pw',
    });
    assert.equal(extra.isLocked, true);
    const key = await bus.call<AppKeyInfo>(AppKeyAddress.Create, { name: 'persisted' });
    await service.stop();

    const restarted = await startNode({}, db);
    assert.equal(restarted.bus.nodeId, id);
    assert.equal(
      (await restarted.bus.call<AppKeyInfo | null>(AppKeyAddress.Get, { key: key.key }))?.name,
      'persisted',
    );
    const list = await restarted.bus.call<IdentityInfo[]>(IdentityAddress.List);
    assert.equal(list.find((i) => i.alias === 'locked-one')?.isLocked, true);

    db.run('UPDATE identity SET is_default = COALESCE(alias = ?, 0)', 'locked-one');
    await restarted.service.stop();
    await assert.rejects(startNode({}, db), (e) => isGolemError(e, 'IDENTITY_DEFAULT_LOCKED'));
    const unlocked = await startNode({ YAGNA_ID_PASSWORD: 'pw' }, db);
    assert.equal(unlocked.bus.nodeId, extra.nodeId);
  });

  it('reads a damaged allowed-origins column as no origin allowed, and still starts', async () => {
    const { bus, service, db } = await startNode();
    const broken = await bus.call<AppKeyInfo>(AppKeyAddress.Create, {
      name: 'broken',
      allowOrigins: ['http://a'],
    });
    const wrongType = await bus.call<AppKeyInfo>(AppKeyAddress.Create, {
      name: 'typed',
      allowOrigins: ['http://b'],
    });
    const good = await bus.call<AppKeyInfo>(AppKeyAddress.Create, {
      name: 'good',
      allowOrigins: ['http://c'],
    });
    db.run('UPDATE app_key SET allow_origins = ? WHERE name = ?', '["http://a"', 'broken');
    db.run('UPDATE app_key SET allow_origins = ? WHERE name = ?', '["http://b", 1]', 'typed');
    await service.stop();

    const restarted = await startNode({}, db);
    const get = (key: string) => restarted.bus.call<AppKeyInfo | null>(AppKeyAddress.Get, { key });
    assert.deepEqual((await get(broken.key))?.allowOrigins, []);
    assert.deepEqual((await get(wrongType.key))?.allowOrigins, []);
    assert.deepEqual((await get(good.key))?.allowOrigins, ['http://c']);
    const listed = await restarted.bus.call<AppKeyInfo[]>(AppKeyAddress.List, {});
    assert.deepEqual(listed.find((key) => key.name === 'typed')?.allowOrigins, []);
  });

  it('answers malformed messages with an error, not a crash', async () => {
    const { bus } = await startNode();
    await assert.rejects(bus.call(IdentityAddress.Sign, 'nonsense'), (e) =>
      isGolemError(e, 'IDENTITY_BAD_REQUEST'),
    );
    await assert.rejects(bus.call(IdentityAddress.Sign, { nodeId: bus.nodeId, digest: 'zz' }), (e) =>
      isGolemError(e, 'CRYPTO_BAD_HEX'),
    );
    await assert.rejects(bus.call(IdentityAddress.Create, { fromPrivateKey: '0x12' }), (e) =>
      isGolemError(e, 'IDENTITY_BAD_KEY'),
    );
  });

  it('refuses a field of the wrong type with a 400 naming it, and stores nothing', async () => {
    const { bus } = await startNode();
    const wrong: [string, unknown, string][] = [
      [IdentityAddress.Sign, { digest: 5 }, 'digest'],
      [IdentityAddress.Sign, {}, 'digest'],
      [IdentityAddress.Get, { nodeId: 7 }, 'nodeId'],
      [IdentityAddress.Lock, { nodeId: bus.nodeId }, 'password'],
      [IdentityAddress.Update, { nodeId: bus.nodeId, alias: 3 }, 'alias'],
      [IdentityAddress.Create, { setDefault: 'yes' }, 'setDefault'],
      [AppKeyAddress.Get, { key: ['k'] }, 'key'],
      [AppKeyAddress.Drop, {}, 'name'],
      // A string would be stored and later matched by substring (CORS for any origin it contains).
      [AppKeyAddress.Create, { name: 'web', allowOrigins: 'http://app.example.com' }, 'allowOrigins'],
      [AppKeyAddress.Create, { name: 'web', allowOrigins: ['http://a.example', 1] }, 'allowOrigins'],
    ];
    for (const [address, message, field] of wrong) {
      await assert.rejects(
        bus.call(address, message),
        (e) =>
          isGolemError(e, 'IDENTITY_BAD_REQUEST') &&
          e.httpStatus === 400 &&
          e.details?.field === field &&
          e.message.includes(field),
        `${address} ${JSON.stringify(message)}`,
      );
    }
    const keys = await bus.call<AppKeyInfo[]>(AppKeyAddress.List, {});
    assert.ok(!keys.some((key) => key.name === 'web'));
    // The right types still pass.
    const web = await bus.call<AppKeyInfo>(AppKeyAddress.Create, {
      name: 'web',
      allowOrigins: ['http://a.example'],
    });
    assert.deepEqual(web.allowOrigins, ['http://a.example']);
  });
});
