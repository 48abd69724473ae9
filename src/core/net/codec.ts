/**
 * Wire format of the bus protocol: frames of a 4-byte big-endian length and a UTF-8 JSON body. Byte arrays
 * travel as `{"$bytes": "<base64>"}`. A frame larger than the limit or a body that is not JSON is a protocol
 * error that resets the stream it came on, nothing else.
 */
import { GolemError } from '../errors/index.ts';

export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export function protocolError(message: string, details?: Record<string, unknown>): GolemError {
  return new GolemError('NET_PROTOCOL_ERROR', message, { details });
}

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array)
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (typeof record.$bytes === 'string' && Object.keys(record).length === 1)
      return new Uint8Array(Buffer.from(record.$bytes, 'base64'));
  }
  return value;
}

export function encodeFrame(value: unknown): Uint8Array {
  const body = Buffer.from(JSON.stringify(value, replacer) ?? 'null', 'utf8');
  if (body.length > MAX_FRAME_BYTES)
    throw protocolError(`frame of ${body.length} bytes exceeds ${MAX_FRAME_BYTES}`);
  const frame = Buffer.allocUnsafe(4 + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, 4);
  return frame;
}

export function decodeBody(body: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), reviver);
  } catch (cause) {
    throw protocolError('frame body is not JSON', { cause: (cause as Error).message });
  }
}

/** Splits a byte stream into frames; throws a protocol error on an oversized frame or bad JSON. */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;

  push(chunk: Uint8Array): unknown[] {
    this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#buffered += chunk.byteLength;
    const frames: unknown[] = [];
    while (this.#buffered >= 4) {
      const head = this.#peek(4);
      const length = head.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES)
        throw protocolError(`frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`);
      if (this.#buffered < 4 + length) break;
      const all = this.#take(4 + length);
      frames.push(decodeBody(all.subarray(4)));
    }
    return frames;
  }

  /** Bytes of an unfinished frame (a stream that ends here was truncated). */
  get pending(): number {
    return this.#buffered;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }
}
