/**
 * DCUtR messages byte for byte as libp2p encodes them (vectors made with the protobuf code of js-libp2p's
 * @libp2p/dcutr 3.x), so our hole punching speaks to any libp2p node's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { multiaddr } from '@multiformats/multiaddr';
import { decodeHolePunch, encodeHolePunch } from '../../../src/core/net/hole-punch.ts';

const vectors = [
  {
    name: 'Connect with an IPv4 and an IPv6 address',
    message: { type: 100 as const, addresses: ['/ip4/203.0.113.7/tcp/4001', '/ip6/2001:db8::1/tcp/4002'] },
    hex: '0864120804cb007107060fa112142920010db8000000000000000000000001060fa2',
  },
  { name: 'Sync', message: { type: 300 as const, addresses: [] as string[] }, hex: '08ac02' },
];

describe('DCUtR wire format (spec vectors)', () => {
  for (const { name, message, hex } of vectors) {
    it(`${name}: encodes to the libp2p bytes and decodes back`, () => {
      const encoded = encodeHolePunch({
        type: message.type,
        addresses: message.addresses.map((a) => multiaddr(a).bytes),
      });
      assert.equal(Buffer.from(encoded).toString('hex'), hex);
      const decoded = decodeHolePunch(Buffer.from(hex, 'hex'));
      assert.equal(decoded.type, message.type);
      assert.deepEqual(
        decoded.addresses.map((a) => multiaddr(a).toString()),
        message.addresses,
      );
    });
  }
});
