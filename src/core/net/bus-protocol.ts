/**
 * The bus over libp2p: one stream per call on protocol `/golem-ts/bus/1.0.0`.
 *
 *   caller → `{t:"call"|"stream", a:"/public/…", m:<message>, to:<timeout ms>}`
 *   callee → `{t:"ok", v}` | `{t:"item", v}`… `{t:"end"}` | `{t:"err", e:{code, message, details, httpStatus}}`
 *
 * The callee learns the caller's node id from the connection (the Noise-authenticated peer key), never from
 * the frame. Closing or aborting the stream cancels the remote handler. A malformed frame resets that stream.
 */
import type { Connection, Stream } from '@libp2p/interface';
import type { Bus } from '../bus/index.ts';
import { GolemError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { encodeFrame, FrameDecoder, protocolError } from './codec.ts';
import { nodeIdOfPeer } from './ids.ts';

export const BUS_PROTOCOL = '/golem-ts/bus/1.0.0';

type Request = { t: 'call' | 'stream'; a: string; m: unknown; to?: number };
type Reply =
  | { t: 'ok'; v: unknown }
  | { t: 'item'; v: unknown }
  | { t: 'end' }
  | {
      t: 'err';
      e: { code: string; message: string; details?: Record<string, unknown>; httpStatus?: number };
    };

/** Bytes a reader holds before it pauses the stream (the muxer then stops granting the sender window). */
const READ_HIGH_WATER = 1024 * 1024;

/** Decoded frames of a stream, in order; throws a protocol error on bad input or a truncated frame. */
export async function* readFrames(
  stream: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>,
): AsyncGenerator<unknown> {
  const decoder = new FrameDecoder();
  const chunks = isPausable(stream) ? pacedChunks(stream, READ_HIGH_WATER) : stream;
  for await (const chunk of chunks) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    for (const frame of decoder.push(bytes)) yield frame;
  }
  if (decoder.pending > 0) throw protocolError('stream ended inside a frame');
}

function isPausable(stream: unknown): stream is Stream {
  return typeof (stream as Stream).pause === 'function' && typeof (stream as Stream).resume === 'function';
}

/**
 * The chunks of a stream, read no faster than the consumer takes them: a stream's own iterator queues without
 * bound, so a slow consumer would let a fast remote producer fill memory. Past `highWater` queued bytes the stream
 * is paused (Yamux stops extending the sender's window, so the remote `send` waits for drain) and resumed once
 * the consumer has taken half of them.
 */
async function* pacedChunks(stream: Stream, highWater: number): AsyncGenerator<Uint8Array> {
  if (stream.readStatus !== 'readable' && stream.readStatus !== 'paused') return;
  const queue: Uint8Array[] = [];
  let queued = 0;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const onMessage = (event: { data: Uint8Array | { subarray(): Uint8Array } }) => {
    const bytes = event.data instanceof Uint8Array ? event.data : event.data.subarray();
    queue.push(bytes);
    queued += bytes.byteLength;
    if (queued > highWater && stream.readStatus === 'readable') stream.pause();
    notify();
  };
  const onClose = (event: { error?: Error }) => {
    ended = true;
    failure = event.error;
    notify();
  };
  const onRemoteCloseWrite = () => {
    ended = true;
    notify();
  };
  stream.addEventListener('message', onMessage);
  stream.addEventListener('close', onClose);
  stream.addEventListener('remoteCloseWrite', onRemoteCloseWrite);
  try {
    for (;;) {
      const next = queue.shift();
      if (next !== undefined) {
        queued -= next.byteLength;
        if (stream.readStatus === 'paused' && queued <= highWater / 2) stream.resume();
        yield next;
      } else if (ended) {
        if (failure !== undefined) throw failure;
        return;
      } else {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
  } finally {
    stream.removeEventListener('message', onMessage);
    stream.removeEventListener('close', onClose);
    stream.removeEventListener('remoteCloseWrite', onRemoteCloseWrite);
  }
}

export async function writeFrame(stream: Stream, value: unknown): Promise<void> {
  await sendBounded(stream, encodeFrame(value));
}

/** Sends bytes and, when the stream asks for it, waits until it has drained before returning. */
export async function sendBounded(stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await drained(stream);
}

/**
 * Waits for the stream's next 'drain'. Not `stream.onDrain()`: in @libp2p/utils 7.4 it keeps its first resolved
 * promise, so after one drain every later wait returned at once and a fast producer filled the write buffer without
 * bound (found by the backpressure test).
 */
function drained(stream: Stream): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      stream.removeEventListener('close', onClose);
      resolve();
    };
    const onClose = () => {
      stream.removeEventListener('drain', onDrain);
      reject(new GolemError('BUS_CANCELLED', 'the stream closed while waiting to send'));
    };
    stream.addEventListener('drain', onDrain, { once: true });
    stream.addEventListener('close', onClose, { once: true });
  });
}

function errorFrame(error: unknown): Reply {
  const golem = isGolemError(error)
    ? error
    : new GolemError('BUS_HANDLER_FAILED', (error as Error)?.message ?? String(error));
  return {
    t: 'err',
    e: { code: golem.code, message: golem.message, details: golem.details, httpStatus: golem.httpStatus },
  };
}

function remoteError(reply: Extract<Reply, { t: 'err' }>): GolemError {
  const { code, message, details, httpStatus } = reply.e ?? {};
  return new GolemError(
    typeof code === 'string' ? code : 'BUS_REMOTE_ERROR',
    typeof message === 'string' ? message : 'remote error',
    {
      details,
      httpStatus,
    },
  );
}

function isReply(value: unknown): value is Reply {
  return value !== null && typeof value === 'object' && typeof (value as { t?: unknown }).t === 'string';
}

/** Longest a handler serves one remote call or stream, whatever deadline the caller asked for. */
const MAX_HANDLER_MS = 60 * 60 * 1000;

export interface ServerLimits {
  /** Calls served at once over all peers; beyond it callers get BUS_BUSY. */
  maxConcurrentCalls: number;
}

/** Serves incoming bus streams: dispatches to the local bus as the authenticated caller. */
export function createBusStreamHandler(bus: Bus, logger: Logger, limits: ServerLimits) {
  let active = 0;
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const controller = new AbortController();
    let deadline: NodeJS.Timeout | undefined;
    let callerGone = false;
    const onClose = () => {
      callerGone = true;
      controller.abort(new GolemError('BUS_CANCELLED', 'the caller went away'));
    };
    stream.addEventListener('close', onClose, { once: true });
    active++;
    try {
      const caller = nodeIdOfPeer(connection.remotePeer);
      const frames = readFrames(stream);
      const first = await frames.next();
      if (first.done) return;
      const request = first.value as Request;
      if (
        request === null ||
        typeof request !== 'object' ||
        typeof request.a !== 'string' ||
        (request.t !== 'call' && request.t !== 'stream')
      ) {
        throw protocolError('first frame must be a call or stream request');
      }
      if (active > limits.maxConcurrentCalls) {
        await writeFrame(
          stream,
          errorFrame(new GolemError('BUS_BUSY', 'too many calls in progress; try again')),
        );
        await stream.close();
        return;
      }
      // The caller's deadline also bounds the handler here, so a caller lost without a reset cannot pin it forever.
      const timeoutMs =
        typeof request.to === 'number' && request.to > 0
          ? Math.min(request.to, MAX_HANDLER_MS)
          : MAX_HANDLER_MS;
      deadline = setTimeout(
        () => controller.abort(new GolemError('BUS_TIMEOUT', `the call to ${request.a} timed out`)),
        timeoutMs,
      );
      // Anything the caller sends after the request (it should send nothing) is drained; its end is ignored.
      void (async () => {
        try {
          for await (const _ of frames) {
            // requests carry one frame
          }
        } catch {
          controller.abort(protocolError('malformed frame after the request'));
        }
      })();
      if (request.t === 'call') {
        let reply: Reply;
        try {
          reply = {
            t: 'ok',
            v: (await bus.dispatchRemote(caller, request.a, request.m, controller.signal)) ?? null,
          };
        } catch (error) {
          reply = errorFrame(error);
        }
        await writeFrame(stream, reply);
      } else {
        try {
          for await (const item of bus.dispatchRemoteStream(
            caller,
            request.a,
            request.m,
            controller.signal,
          )) {
            if (controller.signal.aborted) break;
            await writeFrame(stream, { t: 'item', v: item ?? null });
          }
          // A stream cut short must never look complete to the caller.
          if (controller.signal.aborted) throw controller.signal.reason;
          await writeFrame(stream, { t: 'end' });
        } catch (error) {
          if (!callerGone)
            await writeFrame(
              stream,
              errorFrame(controller.signal.aborted ? controller.signal.reason : error),
            );
        }
      }
      await stream.close();
    } catch (error) {
      logger.debug('bus stream reset', { peer: connection.remotePeer.toString(), error });
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      active--;
      clearTimeout(deadline);
      stream.removeEventListener('close', onClose);
    }
  };
}

/** Sends one call on a fresh stream and waits for its single reply. */
export async function callOnStream(
  stream: Stream,
  address: string,
  message: unknown,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<unknown> {
  const onAbort = () => stream.abort(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await writeFrame(stream, { t: 'call', a: address, m: message, to: timeoutMs } satisfies Request);
    for await (const frame of readFrames(stream)) {
      if (!isReply(frame)) throw protocolError('reply frame without a type');
      if (frame.t === 'ok') return frame.v;
      if (frame.t === 'err') throw remoteError(frame);
      throw protocolError(`unexpected ${frame.t} frame for a call`);
    }
    throw new GolemError('BUS_UNREACHABLE', `the remote node closed the call to ${address} without a reply`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (stream.status === 'open') await stream.close().catch(() => {});
  }
}

/** Opens a streamed call and yields each item until the remote ends the stream. */
export async function* streamOnStream(
  stream: Stream,
  address: string,
  message: unknown,
  timeoutMs: number,
  signal: AbortSignal,
): AsyncGenerator<unknown> {
  const onAbort = () => stream.abort(signal.reason instanceof Error ? signal.reason : new Error('cancelled'));
  signal.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    await writeFrame(stream, { t: 'stream', a: address, m: message, to: timeoutMs } satisfies Request);
    for await (const frame of readFrames(stream)) {
      if (!isReply(frame)) throw protocolError('reply frame without a type');
      if (frame.t === 'item') yield frame.v;
      else if (frame.t === 'end') {
        finished = true;
        return;
      } else if (frame.t === 'err') throw remoteError(frame);
      else throw protocolError(`unexpected ${frame.t} frame for a stream`);
    }
    throw new GolemError('BUS_UNREACHABLE', `the remote node closed the stream of ${address} before its end`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    // A consumer that stops early cancels the remote handler.
    if (!finished) stream.abort(new Error('stream consumer stopped'));
    else if (stream.status === 'open') await stream.close().catch(() => {});
  }
}
