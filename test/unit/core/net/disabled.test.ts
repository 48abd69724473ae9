import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { openDatabase } from '../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { IdentityService } from '../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { NetAddress, type NetStatus } from '../../../../src/core/model/net.ts';
import { NetService } from '../../../../src/core/net/index.ts';

describe('net disabled', () => {
  it('runs no host: status answers locally and calls to other nodes fail with BUS_UNREACHABLE', async () => {
    const db = openDatabase(':memory:');
    const bus = new LocalBus();
    const config = resolveConfig({}, { YA_NET_DISABLED: '1' });
    const identity = new IdentityService({ db, bus, logger: silentLogger, config });
    await identity.start();
    const net = new NetService({ db, bus, logger: silentLogger, config });
    try {
      await net.start();
      assert.equal(net.host, undefined);
      const status = await bus.call<NetStatus>(NetAddress.Status);
      assert.equal(status.nodeId, bus.nodeId);
      assert.equal(status.connectedPeers, 0);
      await assert.rejects(bus.call(`/net/0x${'1'.repeat(40)}/net/Ping`), (e) =>
        isGolemError(e, 'BUS_UNREACHABLE'),
      );
      await assert.rejects(bus.call(NetAddress.Ping, { nodeId: `0x${'1'.repeat(40)}` }), (e) =>
        isGolemError(e, 'BUS_UNREACHABLE'),
      );
    } finally {
      await net.stop();
      await identity.stop();
      db.close();
    }
  });
});
