import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { decodeHolePunch, dialTargets, encodeHolePunch } from '../../../../src/core/net/hole-punch.ts';

const bytesOf = (address: string) => multiaddr(address).bytes;

describe('hole punch messages', () => {
  it('round-trip Connect with addresses and an empty Sync', () => {
    const connect = {
      type: 100 as const,
      addresses: [bytesOf('/ip4/10.0.0.1/tcp/1'), bytesOf('/ip6/::1/tcp/2')],
    };
    const decoded = decodeHolePunch(encodeHolePunch(connect));
    assert.equal(decoded.type, 100);
    assert.deepEqual(
      decoded.addresses.map((a) => multiaddr(a).toString()),
      ['/ip4/10.0.0.1/tcp/1', '/ip6/::1/tcp/2'],
    );
    assert.deepEqual(decodeHolePunch(encodeHolePunch({ type: 300, addresses: [] })), {
      type: 300,
      addresses: [],
    });
  });

  it('skip fields they do not know, as protobuf readers must', () => {
    // field 3 (varint 5) and field 4 (bytes "ab") around a Sync
    const message = Uint8Array.from([0x18, 0x05, 0x08, 0xac, 0x02, 0x22, 0x02, 0x61, 0x62]);
    assert.deepEqual(decodeHolePunch(message), { type: 300, addresses: [] });
  });

  for (const [name, bytes] of [
    ['an empty message (no type)', []],
    ['an unknown type', [0x08, 0x07]],
    ['a truncated varint', [0x08, 0xac]],
    ['an address running past the end', [0x08, 0x64, 0x12, 0x09, 0x04]],
    ['a group wire type', [0x0b]],
  ] as const) {
    it(`reject ${name} with NET_PROTOCOL_ERROR`, () => {
      assert.throws(
        () => decodeHolePunch(Uint8Array.from(bytes)),
        (error) => isGolemError(error) && error.code === 'NET_PROTOCOL_ERROR',
      );
    });
  }
});

describe('hole punch dial targets', () => {
  it('keep TCP addresses only, at most four, and skip what cannot be parsed', () => {
    const addresses = [
      bytesOf('/ip4/198.51.100.7/tcp/4001'),
      bytesOf('/ip4/198.51.100.7/udp/4001/quic-v1'),
      bytesOf('/ip4/198.51.100.8/tcp/4001/p2p-circuit'),
      Uint8Array.from([0xff, 0xff, 0xff]),
      bytesOf('/ip4/198.51.100.9/tcp/0'),
      bytesOf('/ip6/2001:db8::1/tcp/4002'),
      bytesOf('/dns4/example.com/tcp/4003'),
    ];
    assert.deepEqual(dialTargets(addresses), [
      { host: '198.51.100.7', port: 4001 },
      { host: '2001:db8::1', port: 4002 },
    ]);
    const many = Array.from({ length: 20 }, (_, i) => bytesOf(`/ip4/10.0.0.${i + 1}/tcp/4001`));
    assert.equal(dialTargets(many).length, 4);
  });
});
