/**
 * The host side of the guest-agent wire protocol (ya-runtime-vm's, provider.md §5.7), byte by byte: little-endian
 * `u64 id | u8 type | {u8 sub | body}* | u8 0` to the guest, `u64 id | u8 type | body` back, BYTES = u64 len + data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GuestMessage,
  GuestMessageWriter,
  parseGuestMessage,
} from '../../../../src/execution/runtimes/vm/guest-protocol.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const le64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b.toString('hex');
};

describe('guest-agent protocol (host side)', () => {
  it('MOUNT_VOLUME: tag and path as BYTES, END', () => {
    const bytes = new GuestMessageWriter(7n, GuestMessage.MountVolume)
      .bytes(1, 'mnt0')
      .bytes(2, '/golem/input')
      .finish();
    assert.equal(
      bytes.toString('hex'),
      `${le64(7)}04 01${le64(4)}${Buffer.from('mnt0').toString('hex')} 02${le64(12)}${Buffer.from('/golem/input').toString('hex')} 00`.replace(
        /\s+/g,
        '',
      ),
    );
  });

  it('RUN_PROCESS argv as ARRAY (count, then BYTES each); QUIT has no sub-messages', () => {
    const run = new GuestMessageWriter(1n, GuestMessage.RunProcess).array(2, ['sh', '-c']).finish();
    assert.equal(
      run.toString('hex'),
      `${le64(1)}02 02${le64(2)}${le64(2)}7368${le64(2)}2d63 00`.replace(/\s+/g, ''),
    );
    assert.equal(new GuestMessageWriter(2n, GuestMessage.Quit).finish().toString('hex'), `${le64(2)}0100`);
  });

  it('parses every answer and notification, and waits for the rest of a partial one', () => {
    assert.deepEqual(parseGuestMessage(hex(`${le64(3)}00`)), {
      message: { id: 3n, reply: { kind: 'ok' } },
      length: 9,
    });
    assert.deepEqual(parseGuestMessage(hex(`${le64(3)}01${le64(42)}`))?.message.reply, {
      kind: 'u64',
      value: 42n,
    });
    assert.deepEqual(parseGuestMessage(hex(`${le64(3)}02${le64(2)}6869`))?.message.reply, {
      kind: 'bytes',
      value: Buffer.from('hi'),
    });
    assert.equal(parseGuestMessage(hex(`${le64(3)}02${le64(2)}68`)), undefined);
    assert.deepEqual(parseGuestMessage(hex(`${le64(3)}03 02000000`))?.message.errno, 2);
    assert.deepEqual(parseGuestMessage(hex(`${le64(0)}04${le64(5)}01000000`))?.message.notification, {
      kind: 'output',
      id: 5n,
      fd: 1,
    });
    assert.deepEqual(parseGuestMessage(hex(`${le64(0)}05${le64(5)}09 01`))?.message.notification, {
      kind: 'died',
      id: 5n,
      status: 9,
      reason: 'killed',
    });
    assert.equal(parseGuestMessage(hex(`${le64(0)}05${le64(5)}09`)), undefined);
  });

  it('refuses an unknown message type and an oversized reply with VM_GUEST_PROTOCOL', () => {
    assert.throws(() => parseGuestMessage(hex(`${le64(1)}09`)), { code: 'VM_GUEST_PROTOCOL' });
    assert.throws(() => parseGuestMessage(hex(`${le64(1)}02${le64(2 ** 40)}`)), {
      code: 'VM_GUEST_PROTOCOL',
    });
  });
});
