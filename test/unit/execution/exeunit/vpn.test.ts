/**
 * The supervisor's VPN wiring with a scripted service runtime and a recording link: with the offer's `vpn`
 * capability and `deploy.net`, the link is opened at deploy, the runtime starts with `--vpn-endpoint`, the VM joins
 * the deploy's networks for the agreement's requestor, and terminate closes the link. Without the capability (or
 * without `net`) no link is opened. (The whole path over real daemons and VMs: test/e2e/vm-vpn-activity.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ExeScriptCommandResult } from '../../../../src/core/model/activity.ts';
import { ExeUnit, type ExeUnitVpnLink } from '../../../../src/execution/exeunit/supervisor.ts';
import type { DeployNetwork, RuntimeClient } from '../../../../src/execution/runtime-api/index.ts';

const RUNTIME = fileURLToPath(new URL('./fixtures/vpn-runtime.ts', import.meta.url));
const NET: DeployNetwork = {
  id: 'net1',
  ip: '192.168.5.0',
  mask: '255.255.255.0',
  nodes: { '192.168.5.1': '0xreq', '192.168.5.2': '0xprov' },
  nodeIp: '192.168.5.2',
};

class RecordingLink implements ExeUnitVpnLink {
  readonly endpoint = 'udp://127.0.0.1:5555';
  joined: Array<{ networks: DeployNetwork[]; requestorId: string; endpoint: unknown }> = [];
  closed = 0;
  async join(runtime: RuntimeClient, networks: DeployNetwork[], requestorId: string): Promise<void> {
    // The runtime is live: the link's CreateNetwork goes through it.
    const endpoint = await runtime.createNetwork({ networks: [], hosts: {}, interface: 0 as never });
    this.joined.push({ networks, requestorId, endpoint });
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

const dirs: string[] = [];
const units: ExeUnit[] = [];
after(async () => {
  // Even after a failed assertion: no runtime process is left to keep the test alive.
  await Promise.all(units.map((unit) => unit.shutdown('test over')));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function exeUnit(capabilities: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'exeunit-vpn-'));
  dirs.push(dir);
  const links: RecordingLink[] = [];
  const unit = new ExeUnit({
    activityId: 'a1',
    runtimePath: RUNTIME,
    workdir: join(dir, 'work'),
    cacheDir: join(dir, 'cache'),
    agreement: {
      agreementId: 'ag1',
      requestorId: '0xreq',
      providerId: '0xprov',
      demandProperties: {},
      offerProperties: { 'golem.runtime.capabilities': capabilities },
    },
    call: async () => ({}),
    openVpnLink: async () => {
      const link = new RecordingLink();
      links.push(link);
      return link;
    },
  });
  units.push(unit);
  const run = async (batchId: string, exeScript: unknown[]): Promise<ExeScriptCommandResult[]> => {
    unit.exec({ activityId: 'a1', batchId, exeScript: exeScript as never });
    return unit.results({ activityId: 'a1', batchId, timeoutMs: 20_000 } as never);
  };
  const argv = () => {
    const file = join(dir, 'work', 'start-argv.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as string[]) : undefined;
  };
  return { unit, links, run, argv };
}

describe('ExeUnit VPN wiring', () => {
  it('opens the link at deploy, starts with --vpn-endpoint, joins the networks, closes on terminate', async () => {
    const { unit, links, run, argv } = exeUnit(['vpn']);
    await unit.start();
    const results = await run('b1', [{ deploy: { net: [NET] } }, { start: {} }]);
    assert.deepEqual(
      results.map((r) => r.result),
      ['Ok', 'Ok'],
      JSON.stringify(results),
    );
    assert.equal(links.length, 1);
    const args = argv()!;
    const flag = args.indexOf('--vpn-endpoint');
    assert.ok(flag >= 0 && flag < args.indexOf('start'), `--vpn-endpoint before start: ${args.join(' ')}`);
    assert.equal(args[flag + 1], 'udp://127.0.0.1:5555');
    assert.deepEqual(links[0]!.joined, [
      { networks: [NET], requestorId: '0xreq', endpoint: { kind: 'udpDatagram', address: '127.0.0.1:9' } },
    ]);
    assert.equal(links[0]!.closed, 0);
    assert.equal((await run('b2', [{ terminate: {} }]))[0]?.result, 'Ok');
    assert.equal(links[0]!.closed, 1);
    await unit.shutdown('done');
    assert.equal(links[0]!.closed, 1, 'closed once');
  });

  it('refuses deploy.net when the offer has no vpn capability; no link, no --vpn-endpoint', async () => {
    const { unit, links, run } = exeUnit([]);
    await unit.start();
    const results = await run('b1', [{ deploy: { net: [NET] } }, { start: {} }]);
    assert.equal(results[0]?.result, 'Error');
    assert.match(String(results[0]?.message), /no vpn capability/);
    assert.equal(links.length, 0);
    await unit.shutdown('done');
  });

  it('a deploy without net opens no link', async () => {
    const { unit, links, run, argv } = exeUnit(['vpn']);
    await unit.start();
    const results = await run('b1', [{ deploy: {} }, { start: {} }]);
    assert.deepEqual(
      results.map((r) => r.result),
      ['Ok', 'Ok'],
    );
    assert.equal(links.length, 0);
    assert.ok(!argv()!.includes('--vpn-endpoint'));
    await unit.shutdown('done');
  });
});
