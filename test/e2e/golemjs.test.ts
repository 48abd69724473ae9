/**
 * golem-js compatibility: real programs using the unmodified `@golem-sdk/golem-js@3.6.0` from npm
 * (test/golemjs/programs) run as processes against one `yagna devnet up` with three VM providers, sourcing its
 * devnet.env exactly as a user would. Each program prints one `RESULT {…}` line; after each, every invoice the
 * requestor received is SETTLED (accepted by golem-js, paid on the devnet's chain, confirmed) and `disconnect()`
 * returned (the process exited 0). The VPN program
 * rents two VMs in one network: one reaches a TCP server in the other, and TcpProxy reaches it from the requestor.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { vmAvailability } from '../../src/devnet/vm.ts';
import { CLI_MAIN, REPO_ROOT, tempDir } from '../support/daemon.ts';
import { sourceEnv } from '../support/devnet.ts';
import { eventually } from '../support/net.ts';

const PROGRAMS = join(REPO_ROOT, 'test', 'golemjs', 'programs');
const vm = vmAvailability();
const skip = vm.ok ? false : `needs QEMU and the VM images: ${vm.reason}`;

type Invoice = { invoiceId: string; status: string; agreementId: string };

describe('golem-js 3.6.0 against the devnet', { skip }, () => {
  const dir = join(tempDir('golemjs-'), 'devnet');
  let env: Record<string, string>;
  const settled = new Set<string>();

  const requestor = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${env.YAGNA_API_URL}${path}`, {
      headers: { authorization: `Bearer ${env.YAGNA_APPKEY}` },
    });
    assert.equal(response.status, 200, path);
    return (await response.json()) as T;
  };

  /** Runs a program to its end; returns its RESULT and checks its rentals were paid on chain. */
  const program = async (name: string, extraEnv: Record<string, string> = {}, rents = true) => {
    const child = spawn(process.execPath, [join(PROGRAMS, `${name}.cjs`)], {
      env: { ...process.env, ...env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, `${name} failed:\n${output}`);
    const line = output.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, output);
    // Every invoice of this program accepted by golem-js and paid on chain (SETTLED on the requestor).
    if (rents)
      await eventually(
        async () => {
          const invoices = await requestor<Invoice[]>('/payment-api/v1/invoices');
          const fresh = invoices.filter((i) => !settled.has(i.invoiceId));
          if (fresh.length === 0 || fresh.some((i) => i.status !== 'SETTLED')) return false;
          for (const invoice of fresh) settled.add(invoice.invoiceId);
          return true;
        },
        `${name}: its invoices SETTLED`,
        60_000,
      );
    return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
  };

  before(() => {
    const up = spawnSync(
      process.execPath,
      [CLI_MAIN, 'devnet', 'up', '--dir', dir, '--providers', '3', '--runtimes', 'vm', '--detach'],
      { encoding: 'utf8', timeout: 180_000 },
    );
    assert.equal(up.status, 0, up.stdout + up.stderr);
    env = sourceEnv(join(dir, 'devnet.env'));
  });
  after(() => {
    spawnSync(process.execPath, [CLI_MAIN, 'devnet', 'down', '--dir', dir], { timeout: 120_000 });
  });

  it('hello world: oneOf + run', async () => {
    const result = await program('hello');
    assert.equal(result.stdout, 'Hello World\n');
    assert.match(String(result.provider), /^0x[0-9a-f]{40}$/);
  });

  it('runAndStream: output while the command runs, stderr apart', async () => {
    const result = await program('stream');
    assert.deepEqual(result, { stdout: 'line-1\nline-2\nline-3\n', stderr: 'oops\n', result: 'Ok' });
  });

  it('upload and download through the WebSocket storage provider', async () => {
    const result = await program('transfer');
    assert.deepEqual(result, {
      output: 'QUIET WORDS FROM THE REQUESTOR\n',
      json: '{"greeting":"hi"}',
      downloaded: '{"greeting":"hi"}',
    });
  });

  it('an image by imageUrl: file://… (served by golem-js over GFTP)', async () => {
    const result = await program('local-image', {
      GOLEMJS_IMAGE_FILE: join(vm.imagesDir, 'busybox.gvmi'),
    });
    assert.match(String(result.stdout), /^\/golem\/work\nbin\n/);
  });

  it('manyOf: three rentals at once on three providers', async () => {
    const result = await program('many-of');
    assert.equal(result.providers, 3);
    assert.deepEqual(result.outputs, ['from golem\n', 'from golem\n', 'from golem\n']);
  });

  it('VPN: two VMs in one network talk over TCP; TcpProxy reaches a VM', async () => {
    const result = await program('vpn');
    assert.deepEqual(result, {
      providers: 2,
      ips: ['192.168.7.2', '192.168.7.3'],
      fromA: 'hello-from-A\n',
      proxied: 'hello-through-proxy\n',
    });
  });

  it('scan: every provider’s VM offer, without a demand', async () => {
    const result = await program('scan', {}, false);
    assert.deepEqual(result, { offers: 3, providers: 3, runtime: 'vm' });
  });

  it('the event streams of market, activity and payment', async () => {
    const result = await program('events');
    assert.deepEqual(result.events, [
      'activityCreated',
      'activityDestroyed',
      'agreementApproved',
      'agreementTerminated',
      'allocationCreated',
      'demandSubscriptionStarted',
      'invoiceAccepted',
      'invoiceReceived',
    ]);
  });
});
