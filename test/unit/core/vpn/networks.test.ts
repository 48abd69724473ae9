import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetworkRegistry, VPN_LIMITS } from '../../../../src/core/vpn/index.ts';

const alice = '0x00000000000000000000000000000000000000a1';
const bob = '0x00000000000000000000000000000000000000b0';
const provider = '0x00000000000000000000000000000000000000c3';

describe('VPN network registry', () => {
  it('normalises CIDR and mask forms as golem-js and yagna send them', () => {
    const r = new NetworkRegistry();
    const a = r.create(alice, { ip: '192.168.7.0', mask: '255.255.255.0' });
    assert.deepEqual({ ip: a.ip, mask: a.mask }, { ip: '192.168.7.0', mask: '255.255.255.0' });
    assert.match(a.id, /^[0-9a-f]{32}$/);
    const b = r.create(alice, { ip: '10.1.2.3/16', gateway: '10.1.0.1' });
    assert.deepEqual(
      { ip: b.ip, mask: b.mask, gateway: b.gateway },
      { ip: '10.1.0.0', mask: '255.255.0.0', gateway: '10.1.0.1' },
    );
    assert.deepEqual(r.create(alice, { ip: '172.16.0.0' }).mask, '255.255.255.0');
  });

  it('refuses bad input with coded 400s', () => {
    const r = new NetworkRegistry();
    for (const body of [
      {},
      { ip: '300.1.1.1' },
      { ip: '10.0.0.0/33' },
      { ip: '10.0.0.0', mask: '255.0.255.0' },
      { ip: '10.0.0.0/24', mask: '255.255.0.0' },
      { ip: '10.0.0.0/24', gateway: '10.0.1.1' },
    ]) {
      assert.throws(
        () => r.create(alice, body),
        { code: 'VPN_BAD_REQUEST', httpStatus: 400 },
        JSON.stringify(body),
      );
    }
    const n = r.create(alice, { ip: '192.168.7.0/24' });
    for (const ip of ['192.168.7.0', '192.168.7.255', '192.168.8.1', 'x']) {
      assert.throws(() => r.addNode(alice, n.id, { id: provider, ip }), { code: 'VPN_BAD_REQUEST' }, ip);
    }
    assert.throws(() => r.addNode(alice, n.id, { id: 'not-a-node', ip: '192.168.7.2' }), {
      code: 'VPN_BAD_REQUEST',
    });
  });

  it('one address, one holder: a node or the owner; repeating the same addition is idempotent', () => {
    const r = new NetworkRegistry();
    const n = r.create(alice, { ip: '192.168.7.0/24' });
    r.addAddress(alice, n.id, { ip: '192.168.7.1' });
    r.addAddress(alice, n.id, { ip: '192.168.7.1' });
    r.addNode(alice, n.id, { id: provider, ip: '192.168.7.2' });
    r.addNode(alice, n.id, { id: provider.toUpperCase().replace('0X', '0x'), ip: '192.168.7.2' });
    assert.throws(() => r.addNode(alice, n.id, { id: bob, ip: '192.168.7.2' }), {
      code: 'VPN_CONFLICT',
      httpStatus: 409,
    });
    assert.throws(() => r.addNode(alice, n.id, { id: bob, ip: '192.168.7.1' }), { code: 'VPN_CONFLICT' });
    assert.deepEqual(r.get(alice, n.id).nodes, { '192.168.7.2': provider });
    r.removeNode(alice, n.id, provider);
    assert.throws(() => r.removeNode(alice, n.id, provider), { code: 'VPN_NOT_FOUND', httpStatus: 404 });
  });

  it('another identity can neither see nor change a network (403), an unknown one is 404', () => {
    const r = new NetworkRegistry();
    const n = r.create(alice, { ip: '192.168.7.0/24' });
    assert.deepEqual(r.list(bob), []);
    assert.throws(() => r.get(bob, n.id), { code: 'VPN_FORBIDDEN', httpStatus: 403 });
    assert.throws(() => r.addNode(bob, n.id, { id: provider, ip: '192.168.7.2' }), { code: 'VPN_FORBIDDEN' });
    assert.throws(() => r.remove(bob, n.id), { code: 'VPN_FORBIDDEN' });
    assert.throws(() => r.get(alice, 'nope'), { code: 'VPN_NOT_FOUND' });
    r.remove(alice, n.id);
    assert.deepEqual(r.list(alice), []);
  });

  it('bounds what one identity can create', () => {
    const r = new NetworkRegistry();
    for (let i = 0; i < VPN_LIMITS.networksPerOwner; i++) r.create(alice, { ip: `10.${i}.0.0/24` });
    assert.throws(() => r.create(alice, { ip: '10.200.0.0/24' }), { code: 'VPN_LIMIT', httpStatus: 429 });
    r.create(bob, { ip: '10.200.0.0/24' });
    const n = r.create(bob, { ip: '10.0.0.0/16' });
    for (let i = 0; i < VPN_LIMITS.nodesPerNetwork; i++) {
      r.addNode(bob, n.id, {
        id: `0x${(i + 1).toString(16).padStart(40, '0')}`,
        ip: `10.0.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`,
      });
    }
    assert.throws(() => r.addNode(bob, n.id, { id: provider, ip: '10.0.200.1' }), { code: 'VPN_LIMIT' });
  });
});
