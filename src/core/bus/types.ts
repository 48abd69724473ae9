/**
 * Contracts of the service bus (Golem's GSB): addressed request/response, streamed replies and broadcast topics.
 *
 * Addresses:
 * - `/local/<module>/<Message>`: this node only; never reachable from the network.
 * - `/public/<module>/<Message>`: callable by other nodes.
 * - `/net/<nodeId>/<module>/<Message>`: call `/public/<module>/<Message>` on node `<nodeId>` (on this node when
 *   `<nodeId>` is one of ours).
 *
 * Messages are JSON-compatible values (plain objects, arrays, strings, numbers, booleans, null) and Uint8Array.
 * A handler must not keep or mutate the message object it receives.
 */

/** `'local'` for calls made on this node; the authenticated `0x…` node id for calls from the network. */
export type Caller = string;

export const LOCAL_CALLER: Caller = 'local';

export interface CallContext {
  caller: Caller;
  /** Address the handler was reached under (a `/net/<id>/X` call arrives as `/public/X`). */
  address: string;
  /** Aborted when the caller cancels or its deadline passes. */
  signal: AbortSignal;
}

export type RpcHandler<Req = unknown, Res = unknown> = (
  message: Req,
  context: CallContext,
) => Res | Promise<Res>;
export type StreamHandler<Req = unknown, Item = unknown> = (
  message: Req,
  context: CallContext,
) => AsyncIterable<Item>;

export interface CallOptions {
  /** Deadline for the whole call (default 60 s, as GSB's forward timeout). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Local identity to act as for `/net/...` calls (default: the node's default identity). */
  as?: string;
}

export interface BroadcastContext {
  /** Node id of the publisher (authenticated by the net when it came from the network). */
  from: string;
  topic: string;
}

export type BroadcastListener<Msg = unknown> = (
  message: Msg,
  context: BroadcastContext,
) => void | Promise<void>;

/**
 * What a broadcast from the network deserves before it is delivered here or forwarded to other nodes: `accept`
 * (deliver and forward), `ignore` (drop quietly: a duplicate, over a quota) or `reject` (drop, and count against
 * the node that sent it: forged, malformed).
 */
export type BroadcastVerdict = 'accept' | 'ignore' | 'reject';
export type BroadcastValidator<Msg = unknown> = (
  message: Msg,
  context: BroadcastContext,
) => BroadcastVerdict | Promise<BroadcastVerdict>;

export interface RemoteCallOptions {
  /** Node id the call is made as. */
  as: string;
  signal: AbortSignal;
  timeoutMs: number;
}

/**
 * What the net module plugs into the bus so that `/net/<nodeId>/...` calls and broadcasts cross the network.
 * `address` is always a `/public/...` address.
 */
export interface RemoteTransport {
  call(target: string, address: string, message: unknown, options: RemoteCallOptions): Promise<unknown>;
  stream(
    target: string,
    address: string,
    message: unknown,
    options: RemoteCallOptions,
  ): AsyncIterable<unknown>;
  publish(topic: string, message: unknown, from: string): Promise<void>;
  /** Called when the first local listener of a topic appears / the last one goes away. */
  topicsChanged?(topics: readonly string[]): void;
}

export type Unbind = () => void;

export interface Bus {
  /** Default identity of this node (lower-case 0x address), or undefined before the identity module starts. */
  readonly nodeId: string | undefined;
  setNodeIds(defaultId: string, all?: readonly string[]): void;
  isLocalNode(nodeId: string): boolean;

  bind<Req = unknown, Res = unknown>(address: string, handler: RpcHandler<Req, Res>): Unbind;
  bindStream<Req = unknown, Item = unknown>(address: string, handler: StreamHandler<Req, Item>): Unbind;
  call<Res = unknown>(address: string, message?: unknown, options?: CallOptions): Promise<Res>;
  stream<Item = unknown>(address: string, message?: unknown, options?: CallOptions): AsyncIterable<Item>;

  subscribe<Msg = unknown>(topic: string, listener: BroadcastListener<Msg>): Unbind;
  /** Delivers to local listeners and, unless the topic is named `local:…`, to every node subscribed to it. */
  publish(topic: string, message: unknown): Promise<void>;

  /** Plugs the network in (net module) or out (undefined). */
  setRemote(transport: RemoteTransport | undefined): void;
  /** Entry for calls that arrived from the network: only `/public/...` addresses are served. */
  dispatchRemote(caller: string, address: string, message: unknown, signal: AbortSignal): Promise<unknown>;
  dispatchRemoteStream(
    caller: string,
    address: string,
    message: unknown,
    signal: AbortSignal,
  ): AsyncIterable<unknown>;
  /** Entry for broadcasts that arrived from the network. */
  deliverBroadcast(topic: string, message: unknown, from: string): void;
  /** Sets the one validator of a topic's broadcasts from the network (before delivery and forwarding). */
  setBroadcastValidator<Msg = unknown>(topic: string, validator: BroadcastValidator<Msg>): Unbind;
  /** The verdict of the topic's validator on a broadcast from the network (`accept` when it has none). */
  validateBroadcast(topic: string, message: unknown, from: string): Promise<BroadcastVerdict>;
  /** Topics with at least one local listener. */
  topics(): string[];
}
