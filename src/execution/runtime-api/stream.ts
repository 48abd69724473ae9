import type { Readable, Writable } from 'node:stream';

/** Writes to a stream in order, waiting for 'drain' when the stream asks to (large process output). */
export class OrderedWriter {
  private tail: Promise<void> = Promise.resolve();
  private readonly output: Writable;

  constructor(output: Writable) {
    this.output = output;
  }

  write(bytes: Uint8Array): Promise<void> {
    const next = this.tail.then(
      () =>
        new Promise<void>((resolve, reject) => {
          if (this.output.destroyed || this.output.writableEnded) {
            reject(new Error('stream closed'));
            return;
          }
          const ok = this.output.write(bytes, (error) => (error ? reject(error) : undefined));
          if (ok) resolve();
          else this.output.once('drain', resolve);
        }),
    );
    this.tail = next.catch(() => {});
    return next;
  }
}

/** Calls `onData` for every chunk and `onEnd` once, when the stream ends, closes or fails. */
export function consume(
  input: Readable,
  onData: (chunk: Uint8Array) => void,
  onEnd: (error?: Error) => void,
): void {
  let ended = false;
  const end = (error?: Error) => {
    if (ended) return;
    ended = true;
    onEnd(error);
  };
  input.on('data', (chunk: Buffer) => {
    if (ended) return;
    try {
      onData(chunk);
    } catch (error) {
      end(error as Error);
      input.destroy();
    }
  });
  input.once('end', () => end());
  input.once('close', () => end());
  input.once('error', (error) => end(error));
}
