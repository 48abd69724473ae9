/** Discovery's errors carry the market's declared codes (what a REST client or bus caller sees). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBus } from '../../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../../src/core/config/index.ts';
import { migrate, openDatabase } from '../../../../../src/core/db/index.ts';
import { IdentityService } from '../../../../../src/core/identity/index.ts';
import { silentLogger } from '../../../../../src/core/log/index.ts';
import { MarketErrorCode } from '../../../../../src/core/market/errors.ts';
import { marketMigrations, OfferDiscovery } from '../../../../../src/core/market/index.ts';
import { DiscoveryAddress } from '../../../../../src/core/model/market.ts';

async function node() {
  const bus = new LocalBus();
  const db = openDatabase(':memory:');
  await new IdentityService({ db, bus, logger: silentLogger, config: resolveConfig({}, {}) }).start();
  migrate(db, marketMigrations);
  const discovery = new OfferDiscovery({ bus, db, logger: silentLogger }, { antiEntropyMs: 0 });
  discovery.start();
  return { bus, discovery, nodeId: bus.nodeId! };
}

describe('offer discovery: error codes', () => {
  it('unsubscribing an unknown offer is OfferNotFound (404); twice is OfferGone (410)', async () => {
    const { discovery, nodeId } = await node();
    await assert.rejects(discovery.unsubscribe(`${'ab'.repeat(32)}-${'cd'.repeat(32)}`), {
      code: MarketErrorCode.OfferNotFound,
      httpStatus: 404,
    });
    const offer = await discovery.publish({
      providerId: nodeId,
      properties: { 'golem.node.id.name': 'p' },
      constraints: '()',
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await discovery.unsubscribe(offer.offerId);
    await assert.rejects(discovery.unsubscribe(offer.offerId), {
      code: MarketErrorCode.OfferGone,
      httpStatus: 410,
    });
    discovery.stop();
  });

  it('a Get without a list of ids is BadRequest', async () => {
    const { bus, discovery } = await node();
    await assert.rejects(bus.call(DiscoveryAddress.Get, { ids: 'x' }), { code: MarketErrorCode.BadRequest });
    discovery.stop();
  });
});
