import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from '../../../../src/core/net/index.ts';

describe('bus frame codec', () => {
  it('round-trips values with bytes, split at any point', () => {
    const value = {
      t: 'call',
      a: '/public/x',
      m: { bytes: new Uint8Array([0, 255, 7]), list: [1, 'a', null] },
    };
    const frame = encodeFrame(value);
    for (let cut = 0; cut <= frame.length; cut++) {
      const decoder = new FrameDecoder();
      const out = [...decoder.push(frame.subarray(0, cut)), ...decoder.push(frame.subarray(cut))];
      assert.deepEqual(out, [value]);
      assert.equal(decoder.pending, 0);
    }
  });

  it('refuses an oversized length and a body that is not JSON, with a protocol error', () => {
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1);
    assert.throws(
      () => new FrameDecoder().push(huge),
      (e) => isGolemError(e, 'NET_PROTOCOL_ERROR'),
    );
    assert.throws(
      () => new FrameDecoder().push(Buffer.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b])),
      (e) => isGolemError(e, 'NET_PROTOCOL_ERROR'),
    );
  });

  it('never throws anything but a protocol error on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          new FrameDecoder().push(bytes);
        } catch (error) {
          assert.ok(isGolemError(error, 'NET_PROTOCOL_ERROR'));
        }
      }),
      { numRuns: 2000 },
    );
    new FrameDecoder().push(randomBytes(3));
  });
});
