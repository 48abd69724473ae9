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
import { type Bus, BusErrorCode } from '../bus/index.ts';
import { type ErrorCode, GolemError, isGolemError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES, protocolError } from './codec.ts';
import { NetErrorCode } from './errors.ts';
import { nodeIdOfPeer } from './ids.ts';
import type { BufferVerdict, Offence, PeerGuard } from './peer-guard.ts';

export const BUS_PROTOCOL = '/golem-ts/bus/1.0.0';

type Request = { t: 'call' | 'stream'; a: string; m: unknown; to?: number };
type Reply =
  | { t: 'ok'; v: unknown }
  | { t: 'item'; v: unknown }
  | { t: 'end' }
  | {
      t: 'err';
      e: { code: ErrorCode; message: string; details?: Record<string, unknown>; httpStatus?: number };
    };

/** Bytes a reader holds before it pauses the stream (the muxer then stops granting the sender window). */
const READ_HIGH_WATER = 1024 * 1024;

/** What a reader reports to its peer's accounting: bytes of unfinished frames it holds, as they change. */
export interface ReadGuard {
  /** `delta` more (or fewer, when negative) buffered bytes; refused over the peer's bound or the shared pool's. */
  buffer(delta: number): BufferVerdict;
  /** Called after each chunk with the bytes of the frame still incomplete (0: at a frame boundary). */
  progress?(pending: number): void;
}

/** Decoded frames of a stream, in order; throws a protocol error on bad input or a truncated frame. */
export async function* readFrames(
  stream: AsyncIterable<Uint8Array | { subarray(): Uint8Array }>,
  guard?: ReadGuard,
): AsyncGenerator<unknown> {
  const decoder = new FrameDecoder();
  const chunks = isPausable(stream) ? pacedChunks(stream, READ_HIGH_WATER) : stream;
  let accounted = 0;
  try {
    for await (const chunk of chunks) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      const frames = decoder.push(bytes);
      if (guard !== undefined) {
        const delta = decoder.pending - accounted;
        if (delta !== 0) {
          const verdict = guard.buffer(delta);
          if (verdict === 'peer')
            throw protocolError('the peer holds too many bytes of unfinished frames', {
              reason: 'bufferExceeded' satisfies Offence,
              pending: decoder.pending,
            });
          // The shared pool is full (other peers hold it): this stream goes, but it is not this peer's offence.
          if (verdict === 'all')
            throw protocolError('too many bytes of unfinished frames in all; try again', {
              reason: 'busy',
              pending: decoder.pending,
            });
          accounted = decoder.pending;
        }
        guard.progress?.(decoder.pending);
      }
      for (const frame of frames) yield frame;
    }
    // Not an offence: a connection closed by the network (a relay's limit, a lost link) ends streams mid-frame too.
    if (decoder.pending > 0) throw protocolError('stream ended inside a frame', { reason: 'truncated' });
  } finally {
    if (accounted !== 0) guard?.buffer(-accounted);
  }
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
      reject(new GolemError(BusErrorCode.Cancelled, 'the stream closed while waiting to send'));
    };
    stream.addEventListener('drain', onDrain, { once: true });
    stream.addEventListener('close', onClose, { once: true });
  });
}

function errorFrame(error: unknown): Reply {
  const golem = isGolemError(error)
    ? error
    : new GolemError(BusErrorCode.HandlerFailed, (error as Error)?.message ?? String(error));
  return {
    t: 'err',
    e: { code: golem.code, message: golem.message, details: golem.details, httpStatus: golem.httpStatus },
  };
}

function remoteError(reply: Extract<Reply, { t: 'err' }>): GolemError {
  const { code, message, details, httpStatus } = reply.e ?? {};
  return new GolemError(
    typeof code === 'string' ? code : BusErrorCode.RemoteError,
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

/**
 * Serves incoming bus streams: dispatches to the local bus as the authenticated caller, within the caller's
 * bounds (`PeerGuard`). A stream takes a stream slot of its peer at once, but a call slot only once its whole
 * request has arrived, so streams that never send one cannot crowd out anyone's calls; they are reset after
 * `requestTimeoutMs` and count against their peer, as do frames left unfinished and malformed input.
 */
export function createBusStreamHandler(bus: Bus, logger: Logger, guard: PeerGuard) {
  const limits = guard.limits;
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString();
    if (!guard.openStream(peer)) {
      await refuseBusy(stream, 'too many streams from this node; try again');
      return;
    }
    const controller = new AbortController();
    let deadline: NodeJS.Timeout | undefined;
    let callerGone = false;
    let calling = false;
    /** Set when this side gave up on the stream, with the offence that made it. */
    let offence: Offence | undefined;
    const cut = (why: Offence, message: string) => {
      offence = why;
      stream.abort(protocolError(message, { reason: why }));
    };
    const onClose = () => {
      callerGone = true;
      controller.abort(new GolemError(BusErrorCode.Cancelled, 'the caller went away'));
    };
    stream.addEventListener('close', onClose, { once: true });
    // The request must arrive whole within its deadline; later, any frame under way must keep moving.
    const requestTimer = setTimeout(
      () => cut('requestTimeout', 'no request within the deadline'),
      limits.requestTimeoutMs,
    );
    let stallTimer: NodeJS.Timeout | undefined;
    const readGuard: ReadGuard = {
      buffer: (delta) => guard.buffer(peer, delta),
      progress: (pending) => {
        if (pending === 0) {
          clearTimeout(stallTimer);
          stallTimer = undefined;
        } else if (stallTimer === undefined) {
          stallTimer = setTimeout(() => cut('stalledFrame', 'frame stalled'), limits.stallTimeoutMs);
        } else {
          stallTimer.refresh();
        }
      },
    };
    try {
      const caller = nodeIdOfPeer(connection.remotePeer);
      const frames = readFrames(stream, readGuard);
      const first = await frames.next();
      clearTimeout(requestTimer);
      if (first.done) return;
      const request = first.value as Request;
      if (
        request === null ||
        typeof request !== 'object' ||
        typeof request.a !== 'string' ||
        (request.t !== 'call' && request.t !== 'stream')
      ) {
        offence = 'malformed';
        throw protocolError('first frame must be a call or stream request');
      }
      if (!guard.startCall(peer)) {
        await refuseBusy(stream, 'too many calls in progress; try again');
        return;
      }
      calling = true;
      // The caller's deadline also bounds the handler here, so a caller lost without a reset cannot pin it forever.
      const timeoutMs =
        typeof request.to === 'number' && request.to > 0
          ? Math.min(request.to, MAX_HANDLER_MS)
          : MAX_HANDLER_MS;
      deadline = setTimeout(
        () => controller.abort(new GolemError(BusErrorCode.Timeout, `the call to ${request.a} timed out`)),
        timeoutMs,
      );
      // Anything the caller sends after the request (it should send nothing) is drained; its end is ignored.
      void (async () => {
        try {
          for await (const _ of frames) {
            // requests carry one frame
          }
        } catch (error) {
          offence ??= offenceOf(error);
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
        await writeReply(stream, reply);
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
      offence ??= offenceOf(error);
      logger.debug('bus stream reset', { peer, offence, error });
      stream.abort(error instanceof Error ? error : new Error(String(error)));
    } finally {
      clearTimeout(requestTimer);
      clearTimeout(stallTimer);
      clearTimeout(deadline);
      stream.removeEventListener('close', onClose);
      if (calling) guard.endCall(peer);
      guard.closeStream(peer);
      if (offence !== undefined) guard.strike(peer, offence);
    }
  };
}

/** The offence a protocol error stands for (what the peer sent, not a stream that merely went away). */
function offenceOf(error: unknown): Offence | undefined {
  if (!isGolemError(error, NetErrorCode.ProtocolError)) return undefined;
  const reason = error.details?.reason;
  if (reason === 'truncated' || reason === 'busy') return undefined;
  return reason === 'bufferExceeded' || reason === 'stalledFrame' || reason === 'requestTimeout'
    ? reason
    : 'malformed';
}

/** Answers BUS_BUSY without reading the stream, then closes it. */
async function refuseBusy(stream: Stream, message: string): Promise<void> {
  try {
    await writeFrame(stream, errorFrame(new GolemError(BusErrorCode.Busy, message, { httpStatus: 503 })));
    await stream.close();
  } catch {
    stream.abort(new Error(message));
  }
}

/** Writes a reply; one too large for a frame becomes an error the caller can read. */
async function writeReply(stream: Stream, reply: Reply): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = encodeFrame(reply);
  } catch (error) {
    bytes = encodeFrame(
      errorFrame(
        new GolemError(BusErrorCode.ReplyTooLarge, 'the reply is larger than a frame may be', {
          cause: error,
          details: { maxBytes: MAX_FRAME_BYTES },
        }),
      ),
    );
  }
  await sendBounded(stream, bytes);
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
    throw new GolemError(
      BusErrorCode.Unreachable,
      `the remote node closed the call to ${address} without a reply`,
    );
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
    throw new GolemError(
      BusErrorCode.Unreachable,
      `the remote node closed the stream of ${address} before its end`,
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
    // A consumer that stops early cancels the remote handler.
    if (!finished) stream.abort(new Error('stream consumer stopped'));
    else if (stream.status === 'open') await stream.close().catch(() => {});
  }
}
