/** The requestor agent's pure parts: the sample WASI module (no drift from its source), ranking by price and reputation. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import wabt from 'wabt';
import { offerPrice, Reputation, rankOffers } from '../../../../src/agents/requestor/reputation.ts';
import { ECHO_WASM, ECHO_WAT, samplePackage } from '../../../../src/agents/requestor/sample.ts';
import { tempDir } from '../../../support/daemon.ts';

describe('requestor agent', () => {
  it('ships the echo module compiled from its source, and a package whose hash is stable', async () => {
    const module = (await wabt()).parseWat('echo.wat', ECHO_WAT);
    assert.deepEqual(Buffer.from(module.toBinary({}).buffer), ECHO_WASM);
    module.destroy();
    assert.equal(samplePackage().sha3, samplePackage().sha3);
  });

  it('prices an offer by its linear coefficients in the order of its usage vector', () => {
    const properties = {
      'golem.com.usage.vector': ['golem.usage.duration_sec', 'golem.usage.cpu_sec'],
      'golem.com.pricing.model.linear.coeffs': [0.001, 0.002, 0.5],
    };
    assert.equal(offerPrice(properties), 0.5 + 60 * 0.003);
    assert.equal(offerPrice({}), Number.POSITIVE_INFINITY);
  });

  it('ranks by price over reputation: failures and disputes make a provider look dearer; kept on disk', () => {
    const file = join(tempDir('reputation-'), 'reputation.json');
    const reputation = new Reputation(file);
    const offer = (providerId: string, start: number) => ({
      providerId,
      properties: {
        'golem.com.usage.vector': ['golem.usage.cpu_sec'],
        'golem.com.pricing.model.linear.coeffs': [0, start],
      },
    });
    const offers = [offer('cheap-but-bad', 0.1), offer('dearer-but-good', 0.15)];
    assert.deepEqual(
      rankOffers(offers, reputation).map((o) => o.providerId),
      ['cheap-but-bad', 'dearer-but-good'],
    );
    reputation.record('cheap-but-bad', { ok: false });
    reputation.record('cheap-but-bad', { ok: true, seconds: 2, dispute: true });
    reputation.record('dearer-but-good', { ok: true, seconds: 1 });
    reputation.save();
    const reloaded = new Reputation(file);
    assert.deepEqual(reloaded.get('dearer-but-good'), {
      successes: 1,
      failures: 0,
      disputes: 0,
      meanSeconds: 1,
    });
    assert.deepEqual(
      rankOffers(offers, reloaded).map((o) => o.providerId),
      ['dearer-but-good', 'cheap-but-bad'],
    );
    // A provider that overcharged comes after every other, however cheap it is; one never seen still gets work.
    reloaded.record('overcharger', { ok: true, seconds: 1, dispute: true });
    assert.deepEqual(
      rankOffers([offer('overcharger', 0.001), offer('newcomer', 1)], reloaded).map((o) => o.providerId),
      ['newcomer', 'overcharger'],
    );
  });
});
