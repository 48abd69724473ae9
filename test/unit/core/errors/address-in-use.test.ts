import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressInUseLine, type ErrorCode, GolemError } from '../../../../src/core/errors/index.ts';

/** Codes of modules that bind sockets, declared or not yet: the line depends only on the code's ending. */
const code = (text: string) => text as ErrorCode;

describe('addressInUseLine', () => {
  const details = { address: '0.0.0.0:11500', flag: '--net-listen', env: 'YA_NET_LISTEN' };

  it('gives one line for any module whose code ends in _ADDRESS_IN_USE, also as the cause of another error', () => {
    const net = new GolemError(code('NET_ADDRESS_IN_USE'), 'libp2p cannot listen', { details });
    const line =
      'address 0.0.0.0:11500 is already in use; choose another with --net-listen or YA_NET_LISTEN [NET_ADDRESS_IN_USE]';
    assert.equal(addressInUseLine(net), line);
    assert.equal(
      addressInUseLine(new GolemError(code('DAEMON_START'), 'start failed', { cause: net })),
      line,
    );
  });

  it('is undefined for other errors and for the code without the details', () => {
    assert.equal(addressInUseLine(new GolemError(code('NET_DIAL_FAILED'), 'x', { details })), undefined);
    assert.equal(addressInUseLine(new GolemError(code('NET_ADDRESS_IN_USE'), 'x')), undefined);
    assert.equal(addressInUseLine(new Error('EADDRINUSE')), undefined);
  });
});
