/**
 * Bus contract of the identity module (after Golem's ya-core-model): the messages other modules send to
 * `/local/identity/*` and `/local/appkey/*`. All of them are local: none is reachable from the network.
 * Hex values are lower-case with a `0x` prefix.
 */

export const IDENTITY_SERVICE = '/local/identity';
export const APPKEY_SERVICE = '/local/appkey';
/** Local broadcast topic of identity events (`IdentityEvent`). */
export const IDENTITY_EVENTS_TOPIC = 'local:identity-events';

export const IdentityAddress = {
  List: `${IDENTITY_SERVICE}/List`,
  Get: `${IDENTITY_SERVICE}/Get`,
  Create: `${IDENTITY_SERVICE}/Create`,
  Update: `${IDENTITY_SERVICE}/Update`,
  Lock: `${IDENTITY_SERVICE}/Lock`,
  Unlock: `${IDENTITY_SERVICE}/Unlock`,
  Drop: `${IDENTITY_SERVICE}/Drop`,
  Export: `${IDENTITY_SERVICE}/Export`,
  Sign: `${IDENTITY_SERVICE}/Sign`,
  GetPubKey: `${IDENTITY_SERVICE}/GetPubKey`,
  /** The raw secret of an unlocked identity, for the net module's libp2p key. Never leaves the node. */
  GetSecretKey: `${IDENTITY_SERVICE}/GetSecretKey`,
} as const;

export const AppKeyAddress = {
  Create: `${APPKEY_SERVICE}/Create`,
  List: `${APPKEY_SERVICE}/List`,
  /** Looks a key up by its value (REST auth). */
  Get: `${APPKEY_SERVICE}/Get`,
  Drop: `${APPKEY_SERVICE}/Drop`,
} as const;

export interface IdentityInfo {
  nodeId: string;
  alias: string | null;
  isDefault: boolean;
  isLocked: boolean;
  createdAt: string;
}

/** `{}` or no message: the default identity. */
export interface GetIdentity {
  nodeId?: string;
  alias?: string;
}

export interface CreateIdentity {
  alias?: string;
  /** Encrypt the new key file with this password (empty or absent: unlocked, as yagna does). */
  password?: string;
  /** Import a raw secp256k1 secret (hex). */
  fromPrivateKey?: string;
  /** Import a V3 keystore JSON (object or its text). */
  fromKeystore?: unknown;
  keystorePassword?: string;
  setDefault?: boolean;
}

export interface UpdateIdentity {
  nodeId: string;
  alias?: string | null;
  setDefault?: boolean;
}

export interface LockIdentity {
  nodeId: string;
  password: string;
}

export interface UnlockIdentity {
  nodeId: string;
  password: string;
}

export interface DropIdentity {
  nodeId: string;
}

export interface ExportIdentity {
  nodeId: string;
  /** Password for the exported V3 file (default: the file as stored). */
  password?: string;
  /** Export the raw private key instead of a key file. */
  plain?: boolean;
}

export type ExportedIdentity = { keystore: Record<string, unknown> } | { privateKey: string };

export interface SignPayload {
  nodeId: string;
  /** 32-byte digest to sign, hex. */
  digest: string;
}

/** 65-byte recoverable signature r‖s‖v (v = 27 or 28), hex: what Ethereum tools and viem expect. */
export type SignatureHex = string;

export interface NodeRef {
  nodeId: string;
}

export type IdentityEvent =
  | { type: 'created'; nodeId: string }
  | { type: 'locked'; nodeId: string }
  | { type: 'unlocked'; nodeId: string }
  | { type: 'updated'; nodeId: string }
  | { type: 'dropped'; nodeId: string };

export interface AppKeyInfo {
  name: string;
  key: string;
  nodeId: string;
  role: 'manager';
  createdAt: string;
  allowOrigins: string[];
}

export interface CreateAppKey {
  name: string;
  /** Identity (node id or alias); default identity when absent. */
  nodeId?: string;
  allowOrigins?: string[];
}

export interface ListAppKeys {
  nodeId?: string;
}

export interface GetAppKey {
  key: string;
}

export interface DropAppKey {
  name: string;
  nodeId?: string;
}
