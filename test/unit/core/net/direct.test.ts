import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directCandidates, type Subnet } from '../../../../src/core/net/direct.ts';

const lan: Subnet[] = [
  { family: 'IPv4', address: '127.0.0.1', netmask: '255.0.0.0' },
  { family: 'IPv4', address: '192.168.7.20', netmask: '255.255.255.0' },
  { family: 'IPv6', address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' },
];

describe('direct upgrade candidates', () => {
  it('keeps public addresses and private ones inside this host’s own subnets', () => {
    assert.deepEqual(
      directCandidates(
        [
          '/ip4/8.8.4.4/tcp/11500',
          '/ip4/192.168.7.33/tcp/11500',
          '/ip4/127.0.0.1/tcp/11500/ws',
          '/ip6/::1/tcp/11500',
          '/ip6/2a01:4f8::1/tcp/11500',
        ],
        lan,
      ),
      [
        '/ip4/8.8.4.4/tcp/11500',
        '/ip4/192.168.7.33/tcp/11500',
        '/ip4/127.0.0.1/tcp/11500/ws',
        '/ip6/::1/tcp/11500',
        '/ip6/2a01:4f8::1/tcp/11500',
      ],
    );
  });

  it('leaves other networks’ private hosts, relay circuits, unspecified and non-TCP addresses alone', () => {
    assert.deepEqual(
      directCandidates(
        [
          '/ip4/192.168.8.33/tcp/11500',
          '/ip4/10.1.2.3/tcp/11500',
          '/ip4/172.20.0.5/tcp/11500',
          '/ip4/100.64.1.1/tcp/11500',
          '/ip4/0.0.0.0/tcp/11500',
          '/ip4/8.8.4.4/tcp/0',
          '/ip4/1.2.3.4/tcp/7477/p2p/16Uiu2HAm/p2p-circuit',
          '/ip4/8.8.4.4/udp/11500/quic-v1',
          '/ip4/300.1.1.1/tcp/11500',
          '/ip6/fd00::5/tcp/11500',
          '/ip6/fe80::1/tcp/11500',
          '/ip6/::/tcp/11500',
          '/dns4/example.org/tcp/11500',
        ],
        lan,
      ),
      [],
    );
    assert.deepEqual(
      directCandidates(['/ip4/127.0.0.1/tcp/11500'], []),
      [],
      'no loopback without a loopback subnet',
    );
  });
});
