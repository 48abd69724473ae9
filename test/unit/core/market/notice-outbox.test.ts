/** The bounds of the market's notice outbox: what waits for one peer is capped by count and by age. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { migrate, openDatabase } from '../../../../src/core/db/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { marketMigrations } from '../../../../src/core/market/index.ts';
import { marketAddressAt } from '../../../../src/core/model/market.ts';
import { Outbox } from '../../../../src/core/outbox/index.ts';

function outbox(limits: { perTarget: number; maxAgeMs: number }) {
  const db = openDatabase(':memory:');
  migrate(db, marketMigrations);
  const box = new Outbox(
    db,
    new LocalBus(),
    silentLogger,
    { initialDelayMs: 60_000, maxDelayMs: 60_000, callTimeoutMs: 1000 },
    { table: 'market_notice_outbox', addressOf: marketAddressAt, limits },
  );
  return { db, box };
}

describe('the notice outbox bounds', () => {
  it('keeps at most perTarget notices for one peer, dropping the oldest; other peers keep theirs', () => {
    const { box } = outbox({ perTarget: 2, maxAgeMs: 3600_000 });
    for (const key of ['a1', 'a2', 'a3']) box.enqueue(key, '0xpeer-a', '0xme', '/public/market/x', { key });
    box.enqueue('b1', '0xpeer-b', '0xme', '/public/market/x', {});
    assert.deepEqual(
      ['a1', 'a2', 'a3', 'b1'].map((key) => box.has(key)),
      [false, true, true, true],
    );
  });

  it('drops notices older than maxAgeMs on the next round', async () => {
    const { db, box } = outbox({ perTarget: 10, maxAgeMs: 60_000 });
    box.enqueue('old', '0xpeer', '0xme', '/public/market/x', {});
    box.enqueue('new', '0xpeer', '0xme', '/public/market/x', {});
    db.run('UPDATE market_notice_outbox SET created_at = ? WHERE key = ?', '2000-01-01T00:00:00.000Z', 'old');
    box.start();
    try {
      for (let waited = 0; box.has('old'); waited += 20) {
        assert.ok(waited < 5000, 'the old notice was kept');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(box.has('new'), true);
    } finally {
      box.stop();
    }
  });
});
