/**
 * Output kept for a command's result, as Golem's capture modes say: all of it (bounded), the first N bytes
 * (`head`), a ring of the last N (`tail`), ceil(N/2) head + the rest tail (`headTail`), or the first `limit`
 * bytes of a stream. Every buffer is bounded, whatever the requestor asks: a command that prints gigabytes
 * costs at most `maxBytes`.
 */
import type { CommandOutput } from '../../core/model/activity.ts';
import type { CaptureFormat, CaptureMode } from '../../core/model/exescript.ts';

/** What any one output of one command may keep (a requestor's `head: 10^12` is cut to this). */
export const DEFAULT_MAX_CAPTURE_BYTES = 1024 * 1024;

export class OutputBuffer {
  readonly format: CaptureFormat;
  #headLimit: number;
  #tailLimit: number;
  #head: Buffer[] = [];
  #headBytes = 0;
  #tail: Buffer[] = [];
  #tailBytes = 0;
  #seen = 0;

  /** `mode` undefined: nothing is kept (a `run` without capture). */
  constructor(mode: CaptureMode | undefined, maxBytes = DEFAULT_MAX_CAPTURE_BYTES) {
    this.format = mode?.format ?? 'str';
    let head = 0;
    let tail = 0;
    if (mode?.kind === 'stream') head = Math.min(mode.limit ?? maxBytes, maxBytes);
    else if (mode?.kind === 'atEnd') {
      const part = mode.part;
      if (part === undefined) head = maxBytes;
      else if ('head' in part) head = Math.min(part.head, maxBytes);
      else if ('tail' in part) tail = Math.min(part.tail, maxBytes);
      else {
        const n = Math.min(part.headTail, maxBytes);
        head = Math.ceil(n / 2);
        tail = n - head;
      }
    }
    this.#headLimit = head;
    this.#tailLimit = tail;
  }

  /** Bytes seen, kept or not. */
  get seen(): number {
    return this.#seen;
  }

  get kept(): number {
    return this.#headBytes + this.#tailBytes;
  }

  push(chunk: Buffer): void {
    this.#seen += chunk.length;
    let rest = chunk;
    if (this.#headBytes < this.#headLimit) {
      const take = rest.subarray(0, this.#headLimit - this.#headBytes);
      this.#head.push(take);
      this.#headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0 || this.#tailLimit === 0) return;
    if (rest.length >= this.#tailLimit) {
      this.#tail = [Buffer.from(rest.subarray(rest.length - this.#tailLimit))];
      this.#tailBytes = this.#tailLimit;
      return;
    }
    this.#tail.push(Buffer.from(rest));
    this.#tailBytes += rest.length;
    while (this.#tailBytes > this.#tailLimit) {
      const first = this.#tail[0]!;
      const excess = this.#tailBytes - this.#tailLimit;
      if (first.length <= excess) {
        this.#tail.shift();
        this.#tailBytes -= first.length;
      } else {
        this.#tail[0] = first.subarray(excess);
        this.#tailBytes -= excess;
      }
    }
  }

  /** The result's `stdout`/`stderr`: null when nothing is kept. */
  result(keepsAnything: boolean): CommandOutput {
    if (!keepsAnything) return null;
    return encodeOutput(Buffer.concat([...this.#head, ...this.#tail]), this.format);
  }
}

export function encodeOutput(bytes: Buffer, format: CaptureFormat): string | number[] {
  return format === 'bin' ? [...bytes] : bytes.toString('utf8');
}
