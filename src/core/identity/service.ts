import { randomBytes, randomUUID } from 'node:crypto';
import type { Bus, Unbind } from '../bus/index.ts';
import type { NodeConfig } from '../config/index.ts';
import { fromHex, isNodeId, nodeIdFromSecret, signDigest, toHex } from '../crypto/index.ts';
import { type Database, migrate } from '../db/index.ts';
import { GolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import {
  AppKeyAddress,
  type AppKeyInfo,
  type CreateAppKey,
  type CreateIdentity,
  type DropAppKey,
  type DropIdentity,
  type ExportedIdentity,
  type ExportIdentity,
  type GetAppKey,
  type GetIdentity,
  IDENTITY_EVENTS_TOPIC,
  IdentityAddress,
  type IdentityEvent,
  type IdentityInfo,
  type ListAppKeys,
  type LockIdentity,
  type NodeRef,
  type SignPayload,
  type UnlockIdentity,
  type UpdateIdentity,
} from '../model/identity.ts';
import type { CoreComponents, Service } from '../service/index.ts';
import { IdentityErrorCode } from './errors.ts';
import { secp256k1PublicKey } from './keys.ts';
import { decryptKeystore, encryptKeystore, parseKeystore } from './keystore.ts';
import { identityMigrations } from './migrations.ts';

export const AUTOCONF_APPKEY_NAME = 'autoconfigured';

interface IdentityRow {
  node_id: string;
  alias: string | null;
  keystore: string;
  is_default: number;
  created_at: string;
}

interface AppKeyRow {
  key: string;
  name: string;
  node_id: string;
  allow_origins: string;
  created_at: string;
}

/** What a field of a bus message must be; `?` marks an optional one (absent: undefined). */
type FieldRule = 'string' | 'string?' | 'boolean?' | 'string-or-null?' | 'strings?' | 'any?';

/**
 * The fields of each message, checked before a handler runs: the control socket (and later ExeUnit processes)
 * send whatever JSON they like, and a wrong type must be a coded 400, not a TypeError or, worse, a value stored as
 * something else (an `allowOrigins` string would be matched by substring).
 */
const MESSAGE_FIELDS: Record<string, Record<string, FieldRule>> = {
  [IdentityAddress.List]: {},
  [IdentityAddress.Get]: { nodeId: 'string?', alias: 'string?' },
  [IdentityAddress.Create]: {
    alias: 'string?',
    password: 'string?',
    fromPrivateKey: 'string?',
    fromKeystore: 'any?',
    keystorePassword: 'string?',
    setDefault: 'boolean?',
  },
  [IdentityAddress.Update]: { nodeId: 'string?', alias: 'string-or-null?', setDefault: 'boolean?' },
  [IdentityAddress.Lock]: { nodeId: 'string?', password: 'string' },
  [IdentityAddress.Unlock]: { nodeId: 'string?', password: 'string' },
  [IdentityAddress.Drop]: { nodeId: 'string?' },
  [IdentityAddress.Export]: { nodeId: 'string?', password: 'string?', plain: 'boolean?' },
  [IdentityAddress.Sign]: { nodeId: 'string?', digest: 'string' },
  [IdentityAddress.GetPubKey]: { nodeId: 'string?' },
  [IdentityAddress.GetSecretKey]: { nodeId: 'string?' },
  [AppKeyAddress.Create]: { name: 'string', nodeId: 'string?', allowOrigins: 'strings?' },
  [AppKeyAddress.List]: { nodeId: 'string?' },
  [AppKeyAddress.Get]: { key: 'string' },
  [AppKeyAddress.Drop]: { name: 'string', nodeId: 'string?' },
};

function fits(value: unknown, rule: FieldRule): boolean {
  if (value === undefined) return rule.endsWith('?');
  switch (rule) {
    case 'string':
    case 'string?':
      return typeof value === 'string';
    case 'boolean?':
      return typeof value === 'boolean';
    case 'string-or-null?':
      return value === null || typeof value === 'string';
    case 'strings?':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'any?':
      return true;
  }
}

const RULE_TEXT: Record<FieldRule, string> = {
  string: 'a string',
  'string?': 'a string',
  'boolean?': 'true or false',
  'string-or-null?': 'a string or null',
  'strings?': 'a list of strings',
  'any?': 'anything',
};

/** Throws IDENTITY_BAD_REQUEST (400) naming the first field of `message` that breaks its rule. */
function checkMessage(address: string, message: unknown): void {
  if (message !== null && message !== undefined && typeof message !== 'object') {
    throw new GolemError(IdentityErrorCode.BadRequest, `${address} takes an object`, { httpStatus: 400 });
  }
  const fields = (message ?? {}) as Record<string, unknown>;
  for (const [field, rule] of Object.entries(MESSAGE_FIELDS[address]!)) {
    if (!fits(fields[field], rule)) {
      throw new GolemError(IdentityErrorCode.BadRequest, `${address}: ${field} must be ${RULE_TEXT[rule]}`, {
        httpStatus: 400,
        details: { address, field },
      });
    }
  }
}

function notFound(what: string): GolemError {
  return new GolemError(IdentityErrorCode.NotFound, `identity not found: ${what}`, {
    httpStatus: 404,
    details: { identity: what },
  });
}

/**
 * Identities (secp256k1 keys in V3 keystore files) and the app-keys that map REST tokens to them.
 * Unlocked secrets live only in memory; the database keeps the encrypted files.
 */
export class IdentityService implements Service {
  readonly name = 'identity';
  #db: Database;
  #bus: Bus;
  #log: Logger;
  #config: Pick<NodeConfig, 'autoconfAppKey' | 'autoconfIdSecret' | 'identityPassword'>;
  #unlocked = new Map<string, Uint8Array>();
  #appKeys = new Map<string, AppKeyInfo>();
  #autoconf: AppKeyInfo | undefined;
  #unbinds: Unbind[] = [];

  constructor(components: Pick<CoreComponents, 'db' | 'bus' | 'logger' | 'config'>) {
    this.#db = components.db;
    this.#bus = components.bus;
    this.#log = components.logger.child('identity');
    this.#config = components.config;
  }

  async start(): Promise<void> {
    migrate(this.#db, identityMigrations);
    this.#loadIdentities();
    if (this.#config.autoconfIdSecret !== undefined)
      this.#autoconfigureIdentity(this.#config.autoconfIdSecret);
    if (this.#rows().length === 0) {
      const created = this.create({ setDefault: true });
      this.#log.info('created default identity', { nodeId: created.nodeId });
    }
    const defaultId = this.#defaultRow();
    if (!this.#unlocked.has(defaultId.node_id)) {
      throw new GolemError(
        IdentityErrorCode.DefaultLocked,
        `default identity ${defaultId.node_id} is locked: give its password in YAGNA_ID_PASSWORD`,
        { details: { nodeId: defaultId.node_id } },
      );
    }
    for (const row of this.#db.all<AppKeyRow>('SELECT * FROM app_key'))
      this.#appKeys.set(row.key, appKeyInfo(row, this.#log));
    if (this.#config.autoconfAppKey !== undefined) {
      this.#autoconf = {
        name: AUTOCONF_APPKEY_NAME,
        key: this.#config.autoconfAppKey,
        nodeId: defaultId.node_id,
        role: 'manager',
        createdAt: new Date().toISOString(),
        allowOrigins: [],
      };
    }
    this.#publishNodeIds();
    this.#bindBus();
  }

  async stop(): Promise<void> {
    for (const unbind of this.#unbinds.splice(0)) unbind();
    for (const secret of this.#unlocked.values()) secret.fill(0);
    this.#unlocked.clear();
    this.#appKeys.clear();
  }

  // ---- identities ----

  list(): IdentityInfo[] {
    return this.#rows().map((row) => this.#info(row));
  }

  get(query: GetIdentity = {}): IdentityInfo {
    return this.#info(this.#find(query));
  }

  create(request: CreateIdentity = {}): IdentityInfo {
    const secret = this.#secretFor(request);
    const nodeId = nodeIdFromSecret(secret);
    if (this.#db.get('SELECT 1 FROM identity WHERE node_id = ?', nodeId) !== undefined) {
      throw new GolemError(IdentityErrorCode.Exists, `identity ${nodeId} already exists`, {
        httpStatus: 409,
        details: { nodeId },
      });
    }
    if (request.alias !== undefined) this.#checkAliasFree(request.alias);
    const password = request.password ?? '';
    const keystore = encryptKeystore(secret, password);
    const isFirst = this.#rows().length === 0;
    this.#db.transaction(() => {
      if (request.setDefault === true) this.#db.run('UPDATE identity SET is_default = 0');
      this.#db.run(
        'INSERT INTO identity (node_id, alias, keystore, is_default, created_at) VALUES (?, ?, ?, ?, ?)',
        nodeId,
        request.alias ?? null,
        JSON.stringify(keystore),
        request.setDefault === true || isFirst ? 1 : 0,
        new Date().toISOString(),
      );
    });
    if (password === '') this.#unlocked.set(nodeId, secret);
    this.#changed({ type: 'created', nodeId });
    return this.get({ nodeId });
  }

  update(request: UpdateIdentity): IdentityInfo {
    const row = this.#find({ nodeId: request.nodeId });
    if (request.alias !== undefined && request.alias !== null && request.alias !== row.alias) {
      this.#checkAliasFree(request.alias);
    }
    this.#db.transaction(() => {
      if (request.alias !== undefined)
        this.#db.run('UPDATE identity SET alias = ? WHERE node_id = ?', request.alias, row.node_id);
      if (request.setDefault === true) {
        if (!this.#unlocked.has(row.node_id)) throw this.#locked(row.node_id);
        this.#db.run('UPDATE identity SET is_default = (node_id = ?)', row.node_id);
      }
    });
    this.#changed({ type: 'updated', nodeId: row.node_id });
    return this.get({ nodeId: row.node_id });
  }

  lock(request: LockIdentity): IdentityInfo {
    const row = this.#find({ nodeId: request.nodeId });
    if (request.password === '') {
      throw new GolemError(IdentityErrorCode.EmptyPassword, 'locking needs a non-empty password', {
        httpStatus: 400,
      });
    }
    const secret = this.#unlocked.get(row.node_id);
    if (secret === undefined) throw this.#locked(row.node_id);
    if (row.is_default === 1) {
      throw new GolemError(
        IdentityErrorCode.DefaultLock,
        'the default identity cannot be locked while the node runs on it',
        {
          httpStatus: 400,
          details: { nodeId: row.node_id },
        },
      );
    }
    const keystore = encryptKeystore(secret, request.password);
    this.#db.run('UPDATE identity SET keystore = ? WHERE node_id = ?', JSON.stringify(keystore), row.node_id);
    this.#unlocked.delete(row.node_id);
    secret.fill(0);
    this.#changed({ type: 'locked', nodeId: row.node_id });
    return this.get({ nodeId: row.node_id });
  }

  unlock(request: UnlockIdentity): IdentityInfo {
    const row = this.#find({ nodeId: request.nodeId });
    this.#unlocked.set(row.node_id, decryptKeystore(row.keystore, request.password));
    this.#changed({ type: 'unlocked', nodeId: row.node_id });
    return this.get({ nodeId: row.node_id });
  }

  drop(request: DropIdentity): void {
    const row = this.#find({ nodeId: request.nodeId });
    if (row.is_default === 1) {
      throw new GolemError(IdentityErrorCode.DropDefault, 'the default identity cannot be dropped', {
        httpStatus: 400,
      });
    }
    this.#db.run('DELETE FROM identity WHERE node_id = ?', row.node_id);
    for (const [key, info] of this.#appKeys) if (info.nodeId === row.node_id) this.#appKeys.delete(key);
    this.#unlocked.get(row.node_id)?.fill(0);
    this.#unlocked.delete(row.node_id);
    this.#changed({ type: 'dropped', nodeId: row.node_id });
  }

  export(request: ExportIdentity): ExportedIdentity {
    const row = this.#find({ nodeId: request.nodeId });
    if (request.plain === true) return { privateKey: toHex(this.#secret(row.node_id)) };
    if (request.password !== undefined) {
      return {
        keystore: encryptKeystore(this.#secret(row.node_id), request.password) as unknown as Record<
          string,
          unknown
        >,
      };
    }
    return { keystore: JSON.parse(row.keystore) as Record<string, unknown> };
  }

  sign(request: SignPayload): string {
    const row = this.#find({ nodeId: request.nodeId });
    const digest = fromHex(request.digest);
    if (digest.length !== 32) {
      throw new GolemError(IdentityErrorCode.BadDigest, 'sign takes a 32-byte digest', { httpStatus: 400 });
    }
    return toHex(signDigest(this.#secret(row.node_id), digest));
  }

  publicKey(request: NodeRef): string {
    const row = this.#find({ nodeId: request.nodeId });
    return toHex(secp256k1PublicKey(this.#secret(row.node_id)));
  }

  secretKey(request: NodeRef): string {
    return toHex(this.#secret(this.#find({ nodeId: request.nodeId }).node_id));
  }

  // ---- app-keys ----

  createAppKey(request: CreateAppKey): AppKeyInfo {
    if (typeof request.name !== 'string' || request.name.trim() === '') {
      throw new GolemError(IdentityErrorCode.AppKeyBadName, 'an app-key needs a name', { httpStatus: 400 });
    }
    if (request.name === AUTOCONF_APPKEY_NAME) {
      throw new GolemError(
        IdentityErrorCode.AppKeyNameTaken,
        `the name ${AUTOCONF_APPKEY_NAME} is reserved`,
        {
          httpStatus: 409,
        },
      );
    }
    const owner = this.#find(request.nodeId === undefined ? {} : identityQuery(request.nodeId));
    const existing = this.#db.get<AppKeyRow>('SELECT * FROM app_key WHERE name = ?', request.name);
    if (existing !== undefined) {
      if (existing.node_id === owner.node_id) return appKeyInfo(existing, this.#log);
      throw new GolemError(
        IdentityErrorCode.AppKeyNameTaken,
        `app-key ${request.name} belongs to another identity`,
        {
          httpStatus: 409,
          details: { name: request.name },
        },
      );
    }
    const row: AppKeyRow = {
      key: randomUUID().replaceAll('-', ''),
      name: request.name,
      node_id: owner.node_id,
      allow_origins: JSON.stringify(request.allowOrigins ?? []),
      created_at: new Date().toISOString(),
    };
    this.#db.run(
      'INSERT INTO app_key (key, name, node_id, allow_origins, created_at) VALUES (?, ?, ?, ?, ?)',
      row.key,
      row.name,
      row.node_id,
      row.allow_origins,
      row.created_at,
    );
    const info = appKeyInfo(row, this.#log);
    this.#appKeys.set(info.key, info);
    return info;
  }

  listAppKeys(request: ListAppKeys = {}): AppKeyInfo[] {
    const owner =
      request.nodeId === undefined ? undefined : this.#find(identityQuery(request.nodeId)).node_id;
    const rows = this.#db
      .all<AppKeyRow>('SELECT * FROM app_key ORDER BY created_at, name')
      .map((row) => appKeyInfo(row, this.#log));
    const all = this.#autoconf === undefined ? rows : [this.#autoconf, ...rows];
    return owner === undefined ? all : all.filter((info) => info.nodeId === owner);
  }

  getAppKey(request: GetAppKey): AppKeyInfo | null {
    if (this.#autoconf !== undefined && request.key === this.#autoconf.key) return this.#autoconf;
    return this.#appKeys.get(request.key) ?? null;
  }

  dropAppKey(request: DropAppKey): void {
    if (request.name === AUTOCONF_APPKEY_NAME && this.#autoconf !== undefined) {
      throw new GolemError(IdentityErrorCode.AppKeyAutoconf, 'the autoconfigured app-key cannot be dropped', {
        httpStatus: 400,
      });
    }
    const owner =
      request.nodeId === undefined ? undefined : this.#find(identityQuery(request.nodeId)).node_id;
    const row = this.#db.get<AppKeyRow>('SELECT * FROM app_key WHERE name = ?', request.name);
    if (row === undefined || (owner !== undefined && row.node_id !== owner)) {
      throw new GolemError(IdentityErrorCode.AppKeyNotFound, `app-key not found: ${request.name}`, {
        httpStatus: 404,
      });
    }
    this.#db.run('DELETE FROM app_key WHERE key = ?', row.key);
    this.#appKeys.delete(row.key);
  }

  // ---- internals ----

  #bindBus(): void {
    const bus = this.#bus;
    const bindings: [string, (message: never) => unknown][] = [
      [IdentityAddress.List, () => this.list()],
      [IdentityAddress.Get, (m: GetIdentity | null) => this.get(m ?? {})],
      [IdentityAddress.Create, (m: CreateIdentity | null) => this.create(m ?? {})],
      [IdentityAddress.Update, (m: UpdateIdentity) => this.update(m)],
      [IdentityAddress.Lock, (m: LockIdentity) => this.lock(m)],
      [IdentityAddress.Unlock, (m: UnlockIdentity) => this.unlock(m)],
      [IdentityAddress.Drop, (m: DropIdentity) => this.drop(m)],
      [IdentityAddress.Export, (m: ExportIdentity) => this.export(m)],
      [IdentityAddress.Sign, (m: SignPayload) => this.sign(m)],
      [IdentityAddress.GetPubKey, (m: NodeRef) => this.publicKey(m)],
      [IdentityAddress.GetSecretKey, (m: NodeRef) => this.secretKey(m)],
      [AppKeyAddress.Create, (m: CreateAppKey) => this.createAppKey(m)],
      [AppKeyAddress.List, (m: ListAppKeys | null) => this.listAppKeys(m ?? {})],
      [AppKeyAddress.Get, (m: GetAppKey) => this.getAppKey(m)],
      [AppKeyAddress.Drop, (m: DropAppKey) => this.dropAppKey(m)],
    ];
    for (const [address, handler] of bindings) {
      // Every message is checked: an address bound without its field rules is a mistake of this file.
      if (MESSAGE_FIELDS[address] === undefined) throw new Error(`no field rules for ${address}`);
      this.#unbinds.push(
        bus.bind(address, (message: unknown) => {
          checkMessage(address, message);
          return handler(message as never);
        }),
      );
    }
  }

  #loadIdentities(): void {
    for (const row of this.#rows()) {
      for (const password of ['', this.#config.identityPassword]) {
        if (password === undefined || this.#unlocked.has(row.node_id)) continue;
        try {
          this.#unlocked.set(row.node_id, decryptKeystore(row.keystore, password));
        } catch (error) {
          if (!(error instanceof GolemError && error.code === IdentityErrorCode.WrongPassword)) throw error;
        }
      }
    }
  }

  #autoconfigureIdentity(secretHex: string): void {
    const secret = parseSecret(secretHex);
    const nodeId = nodeIdFromSecret(secret);
    if (this.#db.get('SELECT 1 FROM identity WHERE node_id = ?', nodeId) === undefined) {
      this.create({ fromPrivateKey: secretHex, setDefault: true });
    } else {
      this.#unlocked.set(nodeId, secret);
      this.#db.run('UPDATE identity SET is_default = (node_id = ?)', nodeId);
    }
  }

  #secretFor(request: CreateIdentity): Uint8Array {
    if (request.fromPrivateKey !== undefined && request.fromKeystore !== undefined) {
      throw new GolemError(IdentityErrorCode.BadRequest, 'give a private key or a key file, not both', {
        httpStatus: 400,
      });
    }
    if (request.fromPrivateKey !== undefined) return parseSecret(request.fromPrivateKey);
    if (request.fromKeystore !== undefined) {
      return decryptKeystore(parseKeystore(request.fromKeystore), request.keystorePassword ?? '');
    }
    return new Uint8Array(randomBytes(32));
  }

  #checkAliasFree(alias: string): void {
    if (isNodeId(alias))
      throw new GolemError(IdentityErrorCode.BadAlias, 'an alias cannot look like a node id', {
        httpStatus: 400,
      });
    if (this.#db.get('SELECT 1 FROM identity WHERE alias = ?', alias) !== undefined) {
      throw new GolemError(IdentityErrorCode.AliasTaken, `alias ${alias} is taken`, {
        httpStatus: 409,
        details: { alias },
      });
    }
  }

  #rows(): IdentityRow[] {
    return this.#db.all<IdentityRow>('SELECT * FROM identity ORDER BY created_at, node_id');
  }

  #defaultRow(): IdentityRow {
    const row = this.#db.get<IdentityRow>('SELECT * FROM identity WHERE is_default = 1');
    if (row === undefined) throw notFound('default');
    return row;
  }

  #find(query: GetIdentity): IdentityRow {
    if (query.nodeId !== undefined && query.nodeId !== '') {
      const key = query.nodeId.toLowerCase();
      const row =
        this.#db.get<IdentityRow>('SELECT * FROM identity WHERE node_id = ?', key) ??
        this.#db.get<IdentityRow>('SELECT * FROM identity WHERE alias = ?', query.nodeId);
      if (row === undefined) throw notFound(query.nodeId);
      return row;
    }
    if (query.alias !== undefined) {
      const row = this.#db.get<IdentityRow>('SELECT * FROM identity WHERE alias = ?', query.alias);
      if (row === undefined) throw notFound(query.alias);
      return row;
    }
    return this.#defaultRow();
  }

  #secret(nodeId: string): Uint8Array {
    const secret = this.#unlocked.get(nodeId);
    if (secret === undefined) throw this.#locked(nodeId);
    return secret;
  }

  #locked(nodeId: string): GolemError {
    return new GolemError(IdentityErrorCode.Locked, `identity ${nodeId} is locked: unlock it first`, {
      httpStatus: 400,
      details: { nodeId },
    });
  }

  #info(row: IdentityRow): IdentityInfo {
    return {
      nodeId: row.node_id,
      alias: row.alias,
      isDefault: row.is_default === 1,
      isLocked: !this.#unlocked.has(row.node_id),
      createdAt: row.created_at,
    };
  }

  #publishNodeIds(): void {
    const rows = this.#rows();
    const defaultRow = rows.find((row) => row.is_default === 1);
    if (defaultRow !== undefined)
      this.#bus.setNodeIds(
        defaultRow.node_id,
        rows.map((row) => row.node_id),
      );
  }

  #changed(event: IdentityEvent): void {
    this.#publishNodeIds();
    void this.#bus.publish(IDENTITY_EVENTS_TOPIC, event);
  }
}

function identityQuery(value: string): GetIdentity {
  return isNodeId(value.toLowerCase()) ? { nodeId: value } : { alias: value };
}

function parseSecret(hex: string): Uint8Array {
  let secret: Uint8Array;
  try {
    secret = fromHex(hex.trim());
  } catch (cause) {
    throw new GolemError(IdentityErrorCode.BadKey, 'a private key is 32 bytes of hex', {
      cause,
      httpStatus: 400,
    });
  }
  if (secret.length !== 32)
    throw new GolemError(IdentityErrorCode.BadKey, 'a private key is 32 bytes of hex', { httpStatus: 400 });
  return secret;
}

/**
 * A damaged `allow_origins` column allows no origin (a warning says so) rather than failing the key or the start:
 * for CORS, allowing nothing is the safe reading.
 */
function storedAllowOrigins(row: AppKeyRow, log: Logger): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(row.allow_origins);
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.every((origin) => typeof origin === 'string')) return parsed;
  log.warn('app key has damaged allowed origins in the database; allowing none', { name: row.name });
  return [];
}

function appKeyInfo(row: AppKeyRow, log: Logger): AppKeyInfo {
  return {
    name: row.name,
    key: row.key,
    nodeId: row.node_id,
    role: 'manager',
    createdAt: row.created_at,
    allowOrigins: storedAllowOrigins(row, log),
  };
}
