/**
 * `yagna devnet up --detach | status | down` as a user runs them (CLI processes): the devnet comes up with a
 * WASI provider, writes a sourceable devnet.env whose requestor answers with that key and sees the provider's offer,
 * refuses a second `up` on the same folder, and `down` stops every process it recorded and nothing else.
 * `npm start` as a terminal runs it: progress, the demo's summary, and Ctrl-C (SIGINT to its process group) stops
 * everything it started and nothing else.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { DevnetState } from '../../src/devnet/devnet.ts';
import { isRunning } from '../../src/devnet/processes.ts';
import { CLI_MAIN, REPO_ROOT, tempDir } from '../support/daemon.ts';
import { sourceEnv } from '../support/devnet.ts';
import { alive, descendants } from '../support/processes.ts';

const cli = (args: string[], timeout = 120_000) =>
  spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout });

describe('yagna devnet', () => {
  const dir = join(tempDir('devnet-'), 'net');
  let state: DevnetState;
  let upOutput = '';

  before(() => {
    const up = cli(['devnet', 'up', '--dir', dir, '--providers', '1', '--runtimes', 'wasi', '--detach']);
    upOutput = up.stdout + up.stderr;
    assert.equal(up.status, 0, upOutput);
    state = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8'));
  });
  after(() => {
    cli(['devnet', 'down', '--dir', dir]);
  });

  it('comes up detached with progress, a table and a sourceable devnet.env', async () => {
    assert.match(upOutput, /\[devnet\] chain: anvil on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(upOutput, /\[devnet\] market: waiting until every provider is visible/);
    assert.match(upOutput, /provider-1 +0x[0-9a-f]{40} +http:\/\/127\.0\.0\.1:\d+ \(wasmtime\)/);
    const envFile = join(dir, 'devnet.env');
    assert.ok(upOutput.includes(envFile));
    const env = sourceEnv(envFile);
    assert.deepEqual(Object.keys(env).sort(), [
      'GOLEM_REGISTRY_URL',
      'PAYMENT_NETWORK',
      'YAGNA_API_URL',
      'YAGNA_APPKEY',
    ]);
    assert.equal(env.PAYMENT_NETWORK, 'dev');
    // The requestor answers with the key from the file, and its market already holds the provider's offer.
    const me = await fetch(`${env.YAGNA_API_URL}/me`, {
      headers: { authorization: `Bearer ${env.YAGNA_APPKEY}` },
    });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { identity: string }).identity, state.requestor.nodeId);
    const registry = await fetch(`${env.GOLEM_REGISTRY_URL}/v1/image/list`);
    assert.equal(registry.status, 200);
    // The requestor was funded on the devnet's chain.
    const accounts = await fetch(`${env.YAGNA_API_URL}/payment-api/v1/requestorAccounts`, {
      headers: { authorization: `Bearer ${env.YAGNA_APPKEY}` },
    });
    assert.equal(accounts.status, 200);
  });

  it('status lists every process running; a second up on the folder is refused', () => {
    const status = cli(['devnet', 'status', '--dir', dir, '--json']);
    assert.equal(status.status, 0, status.stderr);
    const parsed = JSON.parse(status.stdout) as { components: { name: string; running: boolean }[] };
    assert.deepEqual(
      parsed.components.map((c) => c.name).sort(),
      ['anvil', 'devnet (registry)', 'provider-1', 'provider-1 daemon', 'relay', 'requestor'].sort(),
    );
    assert.ok(parsed.components.every((c) => c.running));
    const again = cli(['devnet', 'up', '--dir', dir, '--detach']);
    assert.equal(again.status, 1);
    assert.match(again.stdout, /already runs/);
  });

  it('golem run: a WASI command on the provider, output streamed, invoice paid on chain; no match explained', () => {
    const env = {
      ...process.env,
      ...sourceEnv(join(dir, 'devnet.env')),
      GOLEM_REQUESTOR_DIR: tempDir('golem-'),
    };
    const golem = join(REPO_ROOT, 'bin', 'golem.js');
    const run = spawnSync(
      process.execPath,
      [golem, 'run', '--runtime', 'wasi', '--json', '--', 'echo', 'hi', 'there'],
      {
        env,
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.ok(run.stdout.startsWith('hi there\n'), run.stdout);
    const summary = JSON.parse(run.stdout.slice('hi there\n'.length)) as {
      providers: { providerId: string; ok: boolean; invoiceStatus: string; transactions: string[] }[];
    };
    assert.equal(summary.providers.length, 1);
    assert.equal(summary.providers[0]!.providerId, state.providers[0]!.nodeId);
    assert.equal(summary.providers[0]!.invoiceStatus, 'SETTLED');
    assert.match(summary.providers[0]!.transactions[0]!, /^0x[0-9a-f]{64}$/);
    assert.match(run.stderr, /\[golem\] market: agreement with provider-1/);
    // The provider remembers nothing of this, the requestor does: one success for that provider.
    const reputation = JSON.parse(readFileSync(join(env.GOLEM_REQUESTOR_DIR, 'reputation.json'), 'utf8'));
    assert.equal(reputation[state.providers[0]!.nodeId].successes, 1);
    // A VM demand on a WASI-only devnet: the offers known are explained, not waited on forever.
    const none = spawnSync(
      process.execPath,
      [golem, 'run', '--runtime', 'vm', '--image', join(dir, 'devnet.env'), '--', 'true'],
      { env: { ...env }, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no offer matches the demand; closest:/);
    assert.match(none.stderr, /golem\.runtime\.name/);
  });

  it('down stops everything it started and nothing else', async () => {
    // A process of the same kind the devnet did not start (another anvil-like sleeper) must survive.
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    const recorded = [state.supervisor, ...state.processes];
    assert.ok(recorded.every(isRunning));
    const down = cli(['devnet', 'down', '--dir', dir]);
    assert.equal(down.status, 0, down.stderr);
    assert.match(down.stdout, /stopped the devnet/);
    assert.deepEqual(
      recorded.filter(isRunning).map((p) => p.pid),
      [],
    );
    assert.equal(bystander.exitCode, null);
    bystander.kill();
    assert.equal(existsSync(join(dir, 'devnet.json')), false);
    const status = cli(['devnet', 'status', '--dir', dir]);
    assert.notEqual(status.status, 0);
    assert.match(status.stderr + status.stdout, /no devnet/);
  });
});

/**
 * The demo as a terminal starts it: in a process group of its own (Ctrl-C's SIGINT goes to the whole group), without
 * QEMU (a name that is no program: the WASI demo only). `until` waits for a line of its output.
 */
function spawnDemo(command: string[]) {
  const demo = spawn(command[0]!, command.slice(1), {
    cwd: REPO_ROOT,
    detached: true,
    env: { ...process.env, GOLEM_VM_QEMU: 'golem-ts-no-qemu' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  demo.stdout.on('data', (chunk) => {
    text += chunk;
  });
  demo.stderr.on('data', (chunk) => {
    text += chunk;
  });
  const output = () => text;
  const until = async (line: RegExp, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!line.test(text) && demo.exitCode === null && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(text, line, text);
  };
  return { demo, output, until };
}

describe('npm start', () => {
  it('shows progress and the summary, and Ctrl-C stops everything it started and nothing else', async () => {
    const dir = join(tempDir('demo-'), 'net');
    const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
    const { demo, output, until } = spawnDemo(['npm', 'start', '--', '--dir', dir, '--providers', '1']);
    try {
      await until(/Ctrl-C stops everything/, 240_000);
      assert.match(output(), /! no VM task in this demo: golem-ts-no-qemu is not installed/);
      assert.match(output(), /\[devnet\] market: waiting until every provider is visible/);
      assert.match(output(), /\[golem\] market: agreement with provider-1/);
      assert.match(output(), /provider-1 \| hello from WebAssembly/);
      // The summary: agreement, cost, invoice settled and its transaction on the chain.
      assert.match(
        output(),
        /WASI: done in [\d.]+ s, cost [\d.]+ GLM\n {2}provider-1 0x[0-9a-f]{40}, agreement [0-9a-f]{16}…: ok, [\d.]+ s, [\d.]+ GLM, invoice SETTLED, tx 0x[0-9a-f]{64}/,
      );
      const state = JSON.parse(readFileSync(join(dir, 'devnet.json'), 'utf8')) as DevnetState;
      const recorded = [state.supervisor, ...state.processes];
      assert.ok(recorded.every(isRunning));
      process.kill(-demo.pid!, 'SIGINT');
      const [code, signal] = (await once(demo, 'exit')) as [number | null, string | null];
      assert.ok(code === 130 || signal === 'SIGINT', `exit ${code} ${signal}`);
      assert.match(output(), /\[demo\] stopped/);
      assert.deepEqual(
        recorded.filter(isRunning).map((p) => p.pid),
        [],
      );
      assert.equal(bystander.exitCode, null);
      assert.equal(existsSync(join(dir, 'devnet.json')), false);
    } finally {
      try {
        process.kill(-demo.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      bystander.kill();
    }
  });
});

describe('npm start interrupted while the devnet starts', () => {
  it('SIGINT to the demo process alone stops every process it had started', async () => {
    const dir = join(tempDir('demo-int-'), 'net');
    const { demo, output, until } = spawnDemo([
      process.execPath,
      join(REPO_ROOT, 'src', 'devnet', 'demo.ts'),
      '--dir',
      dir,
    ]);
    try {
      // Mid-start: the chain, the relay and the nodes run, the providers' offers are not yet all known.
      await until(/\[devnet\] node: requestor/, 120_000);
      const started = descendants(demo.pid!);
      assert.ok(started.length >= 4, `anvil, relay, requestor, golemsp…: ${started.length}`);
      process.kill(demo.pid!, 'SIGINT'); // the demo alone, not its group: it must stop its children itself
      const [code] = (await once(demo, 'exit')) as [number | null];
      assert.equal(code, 130, output());
      assert.match(output(), /\[demo\] interrupted; stopping what has started\n(.|\n)*\[demo\] stopped/);
      const left = started
        .filter(alive)
        .map((pid) => `${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'utf8')}`);
      assert.deepEqual(left, [], 'every process the start had spawned is gone');
      assert.equal(existsSync(join(dir, 'devnet.json')), false);
    } finally {
      try {
        process.kill(-demo.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
  });
});
