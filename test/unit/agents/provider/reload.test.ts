/**
 * The running agent applies its settings files when they change, with the daemon's REST API played by a fake that
 * records the offer calls: a new price subscribes the new offer and then deletes the old one; a file that does
 * not parse changes nothing and is reported in the agent's status; mended with the same terms, nothing is
 * re-published; a preset deactivated withdraws its offer. The settings are changed as `golemsp` changes them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DaemonApi } from '../../../../src/agents/provider/api.ts';
import { applySettings, ProviderAgent, SettingsStore } from '../../../../src/agents/provider/index.ts';
import { createLogger } from '../../../../src/core/log/index.ts';
import { tempDir } from '../../../support/daemon.ts';
import { eventually } from '../../../support/net.ts';

const TEST_RUNTIME = fileURLToPath(
  new URL('../../../support/exeunit-runtime/descriptor.json', import.meta.url),
);
const COEFFS = 'golem.com.pricing.model.linear.coeffs';

type OfferCall =
  | { kind: 'subscribe'; id: string; runtime: string; cpuPerSecond: number | undefined }
  | { kind: 'unsubscribe'; id: string };

/** The provider's daemon as far as offers go; no agreements. */
class OfferDaemon extends DaemonApi {
  calls: OfferCall[] = [];
  #next = 1;

  constructor() {
    super({ apiUrl: 'http://fake.invalid', appKey: 'k' });
  }

  override async call<T>(
    method: string,
    path: string,
    body?: unknown,
    options: { waitMs?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const answer = (value: unknown) => value as T;
    if (path === '/me') return answer({ identity: '0x00000000000000000000000000000000000000aa' });
    if (method === 'GET' && (path === '/market-api/v1/agreements' || path === '/market-api/v1/offers'))
      return answer([]);
    if (method === 'POST' && path === '/market-api/v1/offers') {
      const id = `offer-${this.#next++}`;
      const properties = (body as { properties: Record<string, unknown> }).properties;
      this.calls.push({
        kind: 'subscribe',
        id,
        runtime: String(properties['golem.runtime.name']),
        cpuPerSecond: (properties[COEFFS] as number[])[0],
      });
      return answer(id);
    }
    if (method === 'DELETE' && path.startsWith('/market-api/v1/offers/')) {
      this.calls.push({ kind: 'unsubscribe', id: path.split('/').at(-1)! });
      return answer(null);
    }
    if (method === 'GET' && /\/offers\/[^/]+\/events/.test(path)) {
      // A long-poll with nothing to say: a short one, so the test's stop is quick.
      await new Promise((resolve) => setTimeout(resolve, Math.min(options.waitMs ?? 0, 100)));
      return answer([]);
    }
    throw new Error(`unexpected call ${method} ${path}`);
  }
}

describe('golemsp applies its settings while it runs', () => {
  const dir = tempDir('golemsp-reload-');
  const store = new SettingsStore(dir);
  const api = new OfferDaemon();
  let agent: ProviderAgent;
  // The descriptor has two runtimes; the checks follow test-runtime's offer.
  const offered = () =>
    agent
      .status()
      .offers.filter((o) => o.runtime === 'test-runtime')
      .map((o) => o.subscriptionId);
  const callsOf = (ids: string[]) =>
    api.calls.filter((c) => ids.includes(c.id) || (c.kind === 'subscribe' && c.runtime === 'test-runtime'));

  before(async () => {
    applySettings(store, { 'payment-network': ['dev'], subnet: 'unit', 'cpu-per-hour': '36' });
    agent = new ProviderAgent({
      api,
      settings: store,
      exeUnitPath: [TEST_RUNTIME],
      log: createLogger({ level: 'error', namespace: 'golemsp' }),
      eventsTimeoutS: 1,
      reloadDebounceMs: 50,
    });
    await agent.start();
  });
  after(() => agent.stop());

  it('subscribes the new offer, then unsubscribes the old one, when a price changes', async () => {
    const [old] = offered();
    assert.deepEqual(callsOf([old!]), [
      { kind: 'subscribe', id: old, runtime: 'test-runtime', cpuPerSecond: 36 / 3600 },
    ]);
    applySettings(store, { 'cpu-per-hour': '72' });
    await eventually(() => offered()[0] !== old, 'the offer re-published', 10_000);
    const [fresh] = offered();
    assert.deepEqual(callsOf([old!, fresh!]), [
      { kind: 'subscribe', id: old, runtime: 'test-runtime', cpuPerSecond: 36 / 3600 },
      { kind: 'subscribe', id: fresh, runtime: 'test-runtime', cpuPerSecond: 72 / 3600 },
      { kind: 'unsubscribe', id: old },
    ]);
    assert.equal(offered().length, 1);
  });

  it('keeps the settings in force when a file does not parse, and says why', async () => {
    const path = store.globalsPath;
    const intact = readFileSync(path, 'utf8');
    const calls = api.calls.length;
    const offers = agent.status().offers;
    writeFileSync(path, '{ "subnet": "public", "prices": { oops');
    await eventually(() => agent.status().settings.error !== null, 'the bad edit reported', 10_000);
    assert.match(String(agent.status().settings.error), /globals\.json/);
    assert.equal(agent.status().settings.subnet, 'unit');
    assert.equal(api.calls.length, calls, 'no offer call');
    assert.deepEqual(agent.status().offers, offers);
    writeFileSync(path, intact);
    await eventually(() => agent.status().settings.error === null, 'the mended file applied', 10_000);
    assert.equal(api.calls.length, calls, 'the same terms: nothing re-published');
  });

  it('withdraws the offer of a preset deactivated', async () => {
    const [id] = offered();
    const presets = store.presets();
    presets.active = presets.active.filter((name) => name !== 'test-runtime');
    store.savePresets(presets);
    await eventually(() => offered().length === 0, 'the offer withdrawn', 10_000);
    assert.deepEqual(api.calls.at(-1), { kind: 'unsubscribe', id });
    assert.equal(agent.status().offers.length, 1, "the other runtime's offer stays");
  });
});
