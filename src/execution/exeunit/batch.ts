/**
 * One exec batch: its results (cumulative, in index order) and its runtime events (kept from the start, so a
 * stream that subscribes late still sees everything), with waiters woken on every change.
 */
import type {
  ExeScriptCommand,
  ExeScriptCommandResult,
  RuntimeEvent,
  RuntimeEventKind,
} from '../../core/model/activity.ts';
import type { Command } from '../../core/model/exescript.ts';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';

/** Events and output bytes kept per batch for late streams; beyond them the oldest output chunks are dropped. */
export const MAX_EVENTS_PER_BATCH = 10_000;
export const MAX_EVENT_BYTES_PER_BATCH = 16 * 1024 * 1024;

function outputBytes(kind: RuntimeEventKind): number {
  if ('stdout' in kind) return kind.stdout.length;
  if ('stderr' in kind) return kind.stderr.length;
  return 0;
}

/** yagna's RuntimeEvent timestamp: zone-less, microseconds. */
export function naiveTimestamp(date = new Date()): string {
  return `${date.toISOString().slice(0, 23)}000`;
}

export class Batch {
  readonly id: string;
  readonly raw: ExeScriptCommand[];
  readonly commands: Command[];
  readonly results: ExeScriptCommandResult[] = [];
  readonly events: RuntimeEvent[] = [];
  readonly abort = new AbortController();
  /** Index of the command running now, or undefined. */
  running: number | undefined;
  #finished = false;
  #droppedEvents = 0;
  #eventBytes = 0;
  /** Sequence number of each kept event (parallel to `events`), so a reader resumes after what it saw. */
  #seqs: number[] = [];
  #nextSeq = 0;
  #waiters = new Set<() => void>();

  constructor(id: string, raw: ExeScriptCommand[], commands: Command[]) {
    this.id = id;
    this.raw = raw;
    this.commands = commands;
  }

  get finished(): boolean {
    return this.#finished;
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next change, after `timeoutMs`, or when `signal` aborts. */
  #changed(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.add(done);
    });
  }

  emit(index: number, kind: RuntimeEventKind): void {
    this.events.push({ batch_id: this.id, index, timestamp: naiveTimestamp(), kind });
    this.#seqs.push(this.#nextSeq++);
    this.#eventBytes += outputBytes(kind);
    while (this.events.length > MAX_EVENTS_PER_BATCH || this.#eventBytes > MAX_EVENT_BYTES_PER_BATCH) {
      // Output chunks go first; started/finished events stay, a stream reader needs them.
      const drop = this.events.findIndex((e) => outputBytes(e.kind) > 0);
      if (drop < 0 || drop === this.events.length - 1) break;
      this.#eventBytes -= outputBytes(this.events[drop]!.kind);
      this.events.splice(drop, 1);
      this.#seqs.splice(drop, 1);
      this.#droppedEvents++;
    }
    this.#wake();
  }

  get droppedEvents(): number {
    return this.#droppedEvents;
  }

  /** Records a command's result; an error or the last command finishes the batch. */
  finish(result: Omit<ExeScriptCommandResult, 'isBatchFinished' | 'eventDate'>): void {
    const last = result.index === this.commands.length - 1 || result.result === 'Error';
    this.results.push({ ...result, eventDate: new Date().toISOString(), isBatchFinished: last });
    if (last) this.#finished = true;
    this.#wake();
  }

  /** Ends a batch that cannot go on (shutdown): nothing more will come. */
  close(): void {
    this.#finished = true;
    this.#wake();
  }

  /**
   * Results so far, after waiting up to `timeoutMs` for command `commandIndex` (default: the last) to finish.
   * With `commandIndex` a timeout is an error (yagna's 408); without, what is done is returned.
   */
  async resultsUpTo(
    commandIndex: number | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ExeScriptCommandResult[]> {
    if (commandIndex !== undefined && (commandIndex < 0 || commandIndex >= this.commands.length))
      throw exeUnitError(ExeUnitErrorCode.BadScript, `commandIndex ${commandIndex} is out of range`, {
        httpStatus: 400,
        details: { commandIndex, commands: this.commands.length },
      });
    const deadline = Date.now() + timeoutMs;
    const target = commandIndex ?? this.commands.length - 1;
    const done = () => this.#finished || this.results.some((r) => r.index >= target);
    while (!done() && Date.now() < deadline && !signal?.aborted)
      await this.#changed(deadline - Date.now(), signal);
    if (commandIndex === undefined) return [...this.results];
    if (!this.results.some((r) => r.index >= commandIndex)) {
      if (this.#finished) return [...this.results];
      throw exeUnitError(ExeUnitErrorCode.Timeout, `command ${commandIndex} has not finished yet`, {
        httpStatus: 408,
      });
    }
    return this.results
      .filter((r) => r.index <= commandIndex)
      .map((r) => (r.index === commandIndex ? { ...r, isBatchFinished: true } : r));
  }

  /** Position of the first kept event numbered after `seen` (the numbers ascend: binary search). */
  #after(seen: number): number {
    let low = 0;
    let high = this.#seqs.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#seqs[mid]! > seen) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  /** Every event kept from the start, then new ones as they come, until the batch is finished. */
  async *stream(signal?: AbortSignal): AsyncIterable<RuntimeEvent> {
    let seen = -1;
    for (;;) {
      const next = this.#after(seen);
      if (next < this.events.length) {
        seen = this.#seqs[next]!;
        yield this.events[next]!;
        continue;
      }
      if (this.#finished || signal?.aborted) return;
      await this.#changed(60_000, signal);
    }
  }
}
