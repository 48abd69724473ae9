/**
 * Wire format of the bus protocol: frames of a 4-byte big-endian length and a UTF-8 JSON body. Byte arrays
 * travel as `{"$bytes": "<base64>"}`. A frame larger than the limit or a body that is not JSON is a protocol
 * error that resets the stream it came on, nothing else.
 */
import { NetErrorCode, protocolError } from './errors.ts';

export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export { protocolError };

/**
 * Body layout: `u32 jsonLength ‖ json ‖ (u32 length ‖ bytes)*`. Byte arrays in the value are written as binary
 * attachments after the JSON and referenced from it as `{"$bin": index}`, so bulk data is never base64-encoded.
 */
export function encodeFrame(value: unknown): Uint8Array {
  const attachments: Uint8Array[] = [];
  const json = Buffer.from(
    JSON.stringify(value, (_key, item: unknown) =>
      item instanceof Uint8Array ? { $bin: attachments.push(item) - 1 } : item,
    ) ?? 'null',
    'utf8',
  );
  let bodyLength = 4 + json.length;
  for (const attachment of attachments) bodyLength += 4 + attachment.byteLength;
  if (bodyLength > MAX_FRAME_BYTES)
    throw protocolError(`frame of ${bodyLength} bytes exceeds ${MAX_FRAME_BYTES}`);
  const frame = Buffer.allocUnsafe(4 + bodyLength);
  frame.writeUInt32BE(bodyLength, 0);
  frame.writeUInt32BE(json.length, 4);
  json.copy(frame, 8);
  let at = 8 + json.length;
  for (const attachment of attachments) {
    frame.writeUInt32BE(attachment.byteLength, at);
    frame.set(attachment, at + 4);
    at += 4 + attachment.byteLength;
  }
  return frame;
}

export function decodeBody(body: Uint8Array): unknown {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buffer.length < 4) throw protocolError('frame body too short');
  const jsonLength = buffer.readUInt32BE(0);
  if (4 + jsonLength > buffer.length) throw protocolError('frame body shorter than its JSON');
  const attachments: Uint8Array[] = [];
  for (let at = 4 + jsonLength; at < buffer.length; ) {
    if (at + 4 > buffer.length) throw protocolError('truncated attachment header');
    const length = buffer.readUInt32BE(at);
    if (at + 4 + length > buffer.length) throw protocolError('truncated attachment');
    // A view, not a copy: the frame's bytes were assembled for this frame and nobody writes to them.
    attachments.push(new Uint8Array(buffer.buffer, buffer.byteOffset + at + 4, length));
    at += 4 + length;
  }
  try {
    return JSON.parse(buffer.toString('utf8', 4, 4 + jsonLength), (_key, item: unknown) => {
      if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
        const index = (item as { $bin?: unknown }).$bin;
        if (typeof index === 'number' && Object.keys(item).length === 1) {
          const attachment = attachments[index];
          if (attachment === undefined) throw protocolError('reference to a missing attachment');
          return attachment;
        }
      }
      return item;
    });
  } catch (cause) {
    if (cause instanceof Error && (cause as { code?: string }).code === NetErrorCode.ProtocolError)
      throw cause;
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
