/**
 * The VM runtime as the supervisor drives it: the runtime program as a process (deploy, then start speaking the
 * Runtime API), a real QEMU VM booted from an image built in the test (TCG here, KVM where it boots).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ErrorCode } from '../../src/execution/runtime-api/index.ts';
import { selfTestImage as defaultSelfTestImage } from '../../src/execution/runtimes/vm/self-test.ts';
import {
  buildBusyboxImage,
  deployRuntime,
  pidsWith,
  runCommand,
  startRuntime,
  VM_MAIN,
  vmPrerequisites,
} from '../support/vm.ts';

const run = promisify(execFile);
const skip = vmPrerequisites();

describe('VM runtime (QEMU)', { skip }, () => {
  let dir: string;
  let image: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vm-e2e-'));
    image = join(dir, 'test.gvmi');
    await buildBusyboxImage(
      join(dir, 'image'),
      image,
      { 'etc/greeting': 'hello from the test image\n' },
      {
        Env: ['PATH=/bin', 'GREETING=from-env'],
        WorkingDir: '/golem/work',
        Volumes: { '/golem/input': {}, '/golem/output': {} },
      },
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function deployed(name: string) {
    const workdir = join(dir, name);
    return { workdir, result: await deployRuntime(workdir, image) };
  }

  it('deploy prints the volumes and blocking start mode; a bad image is a coded failure', async () => {
    const { result } = await deployed('deploy');
    assert.deepEqual(result.valid, { Ok: '' });
    assert.equal(result.startMode, 'blocking');
    assert.deepEqual(result.vols.map((v) => v.path).sort(), ['/golem/input', '/golem/output']);
    assert.ok(result.vols.every((v) => /^vol-[0-9a-f-]{36}$/.test(v.name)));

    writeFileSync(join(dir, 'junk.gvmi'), 'junk');
    const failed = await run(process.execPath, [
      VM_MAIN,
      '--workdir',
      dir,
      '--task-package',
      join(dir, 'junk.gvmi'),
      'deploy',
    ]).catch((e) => e);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /VM_DEPLOY_FAILED/);
  });

  it('runs commands in the VM: output, exit codes, env and cwd, files through the volumes, kill at a deadline, no route to the host, shutdown of a hung VM', async () => {
    const { workdir, result } = await deployed('main');
    const volume = (path: string) => join(workdir, result.vols.find((v) => v.path === path)!.name);
    const runtime = startRuntime(workdir, image, 'pipe');
    let runtimeLog = '';
    runtime.child.stderr!.on('data', (b: Buffer) => {
      runtimeLog += b.toString();
    });
    try {
      assert.equal(await runtime.client.hello(), '0.1.0');
      const { client } = runtime;

      const cat = await runCommand(client, { bin: '/bin/cat', args: ['cat', '/etc/greeting'], workDir: '' });
      assert.deepEqual([cat.code, cat.stdout], [0, 'hello from the test image\n']);

      const shell = await runCommand(client, {
        bin: '/bin/sh',
        args: ['sh', '-c', 'echo $GREETING; pwd; echo oops >&2; exit 7'],
        workDir: '',
      });
      assert.deepEqual(shell, {
        pid: shell.pid,
        code: 7,
        stdout: 'from-env\n/golem/work\n',
        stderr: 'oops\n',
      });
      const cwd = await runCommand(client, { bin: '/bin/pwd', args: ['pwd'], workDir: '/tmp' });
      assert.equal(cwd.stdout, '/tmp\n');

      // Output larger than the guest's buffer arrives whole and in order.
      const seq = await runCommand(client, { bin: '/bin/seq', args: ['seq', '1', '30000'], workDir: '' });
      assert.equal(seq.code, 0);
      const expected = `${Array.from({ length: 30000 }, (_, i) => i + 1).join('\n')}\n`;
      assert.equal(seq.stdout.length, expected.length, 'no output lost');
      assert.ok(seq.stdout === expected, 'output in order');

      await assert.rejects(
        client.runProcess({ bin: '/bin/no-such-program', args: ['x'], workDir: '' }),
        (e: { code: string; details: { code: number; context: Record<string, string> } }) => {
          assert.equal(e.code, 'RUNTIME_API_REMOTE_ERROR');
          assert.equal(e.details.code, ErrorCode.BadRequest);
          assert.equal(e.details.context.errno, 'ENOENT');
          return true;
        },
      );

      // Upload and download through the 9p volumes.
      writeFileSync(join(volume('/golem/input'), 'data.txt'), 'uploaded by the host\n');
      const copy = await runCommand(client, {
        bin: '/bin/sh',
        args: ['sh', '-c', 'tr a-z A-Z < /golem/input/data.txt > /golem/output/result.txt'],
        workDir: '',
      });
      assert.equal(copy.code, 0);
      assert.equal(
        readFileSync(join(volume('/golem/output'), 'result.txt'), 'utf8'),
        'UPLOADED BY THE HOST\n',
      );

      // The guest is root in the VM, not on the host: a set-uid file it makes in a volume is not set-uid there.
      const suid = await runCommand(client, {
        bin: '/bin/sh',
        args: [
          'sh',
          '-c',
          'cp /bin/busybox /golem/output/suid && chown 0:0 /golem/output/suid && chmod 4755 /golem/output/suid',
        ],
        workDir: '',
      });
      assert.equal(suid.code, 0, suid.stderr);
      const mode = statSync(join(volume('/golem/output'), 'suid')).mode;
      assert.equal(mode & 0o6000, 0, `host mode ${mode.toString(8)}`);

      // No network device: the host's loopback services (QEMU's user-net gateway 10.0.2.2) are unreachable.
      let connections = 0;
      const server = createServer((s) => {
        connections++;
        s.end('HTTP/1.0 200 OK\r\n\r\nsecret');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const probe = await runCommand(client, {
        bin: '/bin/sh',
        args: [
          'sh',
          '-c',
          `cat /proc/net/dev; wget -T 3 -q -O - http://10.0.2.2:${port}/; echo "rc=$?"; wget -T 3 -q -O - http://127.0.0.1:${port}/; echo "rc=$?"`,
        ],
        workDir: '',
      });
      server.close();
      assert.equal(connections, 0);
      assert.doesNotMatch(probe.stdout, /secret/);
      assert.doesNotMatch(probe.stdout, /eth\d|ens\d|enp/);
      assert.match(probe.stdout, /rc=[1-9]/);

      // A command that hangs is killed at its deadline.
      const started = Date.now();
      const sleeper = await runCommand(
        client,
        { bin: '/bin/sleep', args: ['sleep', '1000'], workDir: '' },
        (pid) => {
          setTimeout(() => void client.killProcess({ pid, signal: 9 }), 1000);
        },
      );
      assert.equal(sleeper.code, 9); // as ya-runtime-vm: the signal number of a killed process
      assert.ok(Date.now() - started < 30_000);
      await assert.rejects(
        client.killProcess({ pid: 4242, signal: 9 }),
        (e: { details: { code: number } }) => {
          assert.equal(e.details.code, ErrorCode.NotFound);
          return true;
        },
      );

      // A VM that hangs as a whole (QEMU stopped) still ends: Shutdown kills it after its grace period.
      const [qemu] = pidsWith(workdir);
      assert.ok(qemu, 'QEMU runs');
      process.kill(qemu, 'SIGSTOP');
      await client.shutdown();
      assert.equal(await runtime.exited, 0);
      assert.deepEqual(pidsWith(workdir), []);
    } catch (error) {
      process.stderr.write(`runtime log:\n${runtimeLog}\nconsole:\n${readConsole(workdir)}\n`);
      throw error;
    } finally {
      runtime.child.kill('SIGKILL');
    }
  });

  it('QEMU dies with the runtime when the runtime is killed (SIGKILL)', async () => {
    const { workdir } = await deployed('killed');
    const runtime = startRuntime(workdir, image);
    await runtime.client.hello();
    const [qemu] = pidsWith(workdir);
    assert.ok(qemu, 'QEMU runs');
    runtime.child.kill('SIGKILL');
    await runtime.exited;
    for (let i = 0; i < 50 && pidsWith(workdir).length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pidsWith(workdir), []);
  });

  it('a VM that dies under the runtime ends the runtime with an error exit (no hang)', async () => {
    const { workdir } = await deployed('crashed');
    const runtime = startRuntime(workdir, image);
    await runtime.client.hello();
    const [qemu] = pidsWith(workdir);
    assert.ok(qemu, 'QEMU runs');
    process.kill(qemu, 'SIGKILL');
    assert.equal(await runtime.exited, 1);
    await assert.rejects(runtime.client.hello(), { code: 'RUNTIME_API_CLOSED' });
  });

  it('offer-template runs the self-test (boots a VM) and prints what golem-js demands match', async () => {
    const { stdout } = await run(process.execPath, [
      VM_MAIN,
      '--cpu-cores',
      '1',
      '--mem-gib',
      '0.5',
      '--storage-gib',
      '2',
      'offer-template',
    ]);
    const template = JSON.parse(stdout) as { properties: Record<string, unknown>; constraints: string };
    assert.equal(template.properties['golem.runtime.name'], 'vm');
    assert.deepEqual(template.properties['golem.runtime.capabilities'], ['vpn']);
    assert.equal(template.properties['golem.inf.cpu.threads'], 1);
    assert.equal(template.properties['golem.inf.mem.gib'], 0.5);
    assert.equal(template.properties['golem.inf.storage.gib'], 2);
    assert.ok(Array.isArray(template.properties['golem.inf.cpu.capabilities']));
    assert.equal(template.constraints, '');
  });

  it('offer-template right after a passed test does not boot the same VM again; a changed self-test image does', async () => {
    // QEMU behind a wrapper that logs each start, so the boots can be counted (the KVM probe's panic boot aside).
    const log = join(dir, 'qemu-starts.log');
    const wrapper = join(dir, 'qemu-counting.sh');
    writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> '${log}'\nexec qemu-system-x86_64 "$@"\n`, {
      mode: 0o755,
    });
    const selfTestImage = join(dir, 'self-test.gvmi');
    copyFileSync(defaultSelfTestImage(), selfTestImage);
    const env = { ...process.env, GOLEM_VM_QEMU: wrapper, GOLEM_VM_SELF_TEST_IMAGE: selfTestImage };
    const boots = () =>
      (existsSync(log) ? readFileSync(log, 'utf8') : '')
        .split('\n')
        .filter((line) => line.includes('-kernel') && !line.includes('panic=-1')).length;
    await run(process.execPath, [VM_MAIN, 'test'], { env });
    assert.equal(boots(), 1, 'the self-test boots a VM');
    const { stdout } = await run(process.execPath, [VM_MAIN, 'offer-template'], { env });
    assert.equal(JSON.parse(stdout).properties['golem.runtime.name'], 'vm');
    assert.equal(boots(), 1, 'offer-template took the test that just passed');
    // Anything the test depends on changing voids the pass: here the image's modification time.
    utimesSync(selfTestImage, new Date(), new Date(Date.now() + 5_000));
    await run(process.execPath, [VM_MAIN, 'offer-template'], { env });
    assert.equal(boots(), 2, 'offer-template tested the changed image');
  });

  it('test fails with a clear reason when the kernel is missing', async () => {
    const failed = await run(process.execPath, [VM_MAIN, 'test'], {
      env: { ...process.env, GOLEM_VM_DIR: join(dir, 'nothing') },
    }).catch((e) => e);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /vmlinuz is missing: run scripts\/setup-vm.sh/);
  });
});

function readConsole(workdir: string): string {
  try {
    return readFileSync(join(workdir, 'console.log'), 'utf8').slice(-3000);
  } catch {
    return '';
  }
}
