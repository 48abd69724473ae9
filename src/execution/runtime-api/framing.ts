/**
 * Framing of the Runtime API stream: each message is preceded by its length as a protobuf varint (prost's
 * `encode_length_delimited`). Note for senders: Golem's Rust decoder waits for at least 4 buffered bytes before it
 * looks at a frame, so a frame shorter than 4 bytes (e.g. a Request with id 0 and an empty Hello) is only read when
 * the next one arrives; request ids start at 1 for that reason.
 */
import { GolemError } from '../../core/errors/index.ts';
import { malformed, RuntimeApiErrorCode } from './errors.ts';
import { ProtoWriter } from './protobuf.ts';

/** Default bound of one frame: process output travels in frames, the guest's buffers are far smaller. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

export function frame(message: Uint8Array): Uint8Array {
  const prefix = new ProtoWriter().varint(message.length).finish();
  const out = new Uint8Array(prefix.length + message.length);
  out.set(prefix);
  out.set(message, prefix.length);
  return out;
}

/** Collects chunks of a byte stream and hands out whole frames. */
export class FrameReader {
  private pending: Uint8Array = new Uint8Array(0);
  private readonly maxFrameBytes: number;

  constructor(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Appends a chunk and returns every frame now complete (payloads without the prefix). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.pending.length === 0) this.pending = chunk;
    else {
      const joined = new Uint8Array(this.pending.length + chunk.length);
      joined.set(this.pending);
      joined.set(chunk, this.pending.length);
      this.pending = joined;
    }
    const frames: Uint8Array[] = [];
    let offset = 0;
    for (;;) {
      let length = 0;
      let shift = 0;
      let cursor = offset;
      let complete = false;
      while (cursor < this.pending.length) {
        const byte = this.pending[cursor++]!;
        length += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (shift >= 35) throw malformed('frame length prefix longer than 5 bytes');
      }
      if (!complete) break;
      if (length > this.maxFrameBytes) {
        throw new GolemError(
          RuntimeApiErrorCode.FrameTooLarge,
          `Runtime API frame of ${length} bytes exceeds ${this.maxFrameBytes}`,
          { details: { length, max: this.maxFrameBytes } },
        );
      }
      if (this.pending.length - cursor < length) break;
      frames.push(this.pending.slice(cursor, cursor + length));
      offset = cursor + length;
    }
    this.pending = offset === 0 ? this.pending : this.pending.slice(offset);
    return frames;
  }

  /** Bytes of an unfinished frame (non-zero when the stream ends mid-frame). */
  get buffered(): number {
    return this.pending.length;
  }
}
