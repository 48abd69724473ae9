/** Capture buffers against a reference on the whole output, for any chunking (fast-check). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CaptureMode } from '../../../../src/core/model/exescript.ts';
import { OutputBuffer } from '../../../../src/execution/exeunit/capture.ts';

function reference(all: Buffer, mode: CaptureMode, max: number): Buffer {
  if (mode.kind === 'stream') return all.subarray(0, Math.min(mode.limit ?? max, max));
  const part = mode.part;
  if (part === undefined) return all.subarray(0, max);
  if ('head' in part) return all.subarray(0, Math.min(part.head, max));
  if ('tail' in part) {
    const n = Math.min(part.tail, max);
    return n === 0 ? Buffer.alloc(0) : all.subarray(Math.max(0, all.length - n));
  }
  const n = Math.min(part.headTail, max);
  const head = Math.ceil(n / 2);
  const tail = n - head;
  if (all.length <= head) return all;
  return Buffer.concat([
    all.subarray(0, head),
    tail === 0 ? Buffer.alloc(0) : all.subarray(Math.max(head, all.length - tail)),
  ]);
}

const modes: fc.Arbitrary<CaptureMode> = fc.oneof(
  fc.record({
    kind: fc.constant('atEnd' as const),
    part: fc.constant(undefined),
    format: fc.constant('bin' as const),
  }),
  fc.record({
    kind: fc.constant('atEnd' as const),
    part: fc.oneof(
      fc.record({ head: fc.nat(40) }),
      fc.record({ tail: fc.nat(40) }),
      fc.record({ headTail: fc.nat(40) }),
    ),
    format: fc.constant('bin' as const),
  }),
  fc.record({
    kind: fc.constant('stream' as const),
    limit: fc.option(fc.nat(40), { nil: undefined }),
    format: fc.constant('bin' as const),
  }),
);

describe('capture buffers', () => {
  it('keep exactly head, tail, headTail or the bounded whole, however the output is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 30 }), { maxLength: 12 }),
        modes,
        fc.integer({ min: 1, max: 50 }),
        (chunks, mode, max) => {
          const buffer = new OutputBuffer(mode, max);
          for (const chunk of chunks) buffer.push(Buffer.from(chunk));
          const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          assert.deepEqual(buffer.result(true), [...reference(all, mode, max)]);
          assert.equal(buffer.seen, all.length);
        },
      ),
    );
  });

  it('keeps nothing without a capture, text as UTF-8 with one', () => {
    const none = new OutputBuffer(undefined);
    none.push(Buffer.from('x'));
    assert.equal(none.result(false), null);
    const text = new OutputBuffer({ kind: 'atEnd', part: undefined, format: 'str' });
    text.push(Buffer.from('zażółć\n'));
    assert.equal(text.result(true), 'zażółć\n');
  });
});
