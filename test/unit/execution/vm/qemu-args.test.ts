import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Deployment } from '../../../../src/execution/runtimes/vm/deploy.ts';
import { qemuArgs } from '../../../../src/execution/runtimes/vm/vm.ts';

const deployment: Deployment = {
  cpuCores: 2,
  memMib: 512,
  taskPackages: ['/images/a.gvmi'],
  user: [0, 0],
  volumes: [{ name: 'vol-1', path: '/golem/input' }],
  hostname: 'h',
  config: {},
};
const base = {
  env: { qemu: 'qemu', kernel: '/k/vmlinuz', initramfs: '/k/initramfs.cpio.gz', runtimeDir: '/k' },
  deployment,
  workdir: '/wd',
  socketPath: '/tmp/s.sock',
  consoleLog: '/wd/console.log',
};
const after = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

describe('QEMU command line', () => {
  it('limits from the deployment, the image read-only, volumes over 9p, and no network device at all', () => {
    const args = qemuArgs({ ...base, accel: 'tcg' });
    assert.deepEqual(after(args, '-m'), ['512M']);
    assert.deepEqual(after(args, '-smp'), ['2']);
    assert.deepEqual(after(args, '-accel'), ['tcg']);
    assert.ok(args.includes('-nodefaults'));
    assert.deepEqual(after(args, '-nic'), ['none']);
    assert.ok(!args.includes('-netdev'));
    assert.deepEqual(after(args, '-drive'), [
      'file=/images/a.gvmi,cache=unsafe,readonly=on,format=raw,id=rootfs-0,if=none',
    ]);
    assert.deepEqual(after(args, '-virtfs'), [
      'local,id=mnt0,path=/wd/vol-1,security_model=none,mount_tag=mnt0',
    ]);
  });

  it('KVM with the host CPU; a VPN link adds exactly one virtio-net device on the UDP socket pair', () => {
    const args = qemuArgs({
      ...base,
      accel: 'kvm',
      vpn: { remote: '127.0.0.1:5000', local: '127.0.0.1:5001' },
    });
    assert.deepEqual(after(args, '-accel'), ['kvm']);
    assert.deepEqual(after(args, '-cpu'), ['host']);
    assert.deepEqual(after(args, '-netdev'), ['socket,id=vpn,udp=127.0.0.1:5000,localaddr=127.0.0.1:5001']);
    assert.deepEqual(
      after(args, '-device').filter((d) => d.startsWith('virtio-net')),
      ['virtio-net-pci,netdev=vpn,mac=90:13:00:00:00:01'],
    );
  });
});

describe('runtime arguments', () => {
  it('refuses a hostname that would add kernel parameters, and bad limits', async () => {
    const { parseRuntimeArgs } = await import('../../../../src/execution/runtimes/vm/args.ts');
    assert.equal(parseRuntimeArgs(['--hostname', 'node-1.golem', 'deploy']).hostname, 'node-1.golem');
    assert.throws(() => parseRuntimeArgs(['--hostname', 'x init=/bin/sh', 'deploy']), {
      code: 'VM_BAD_ARGUMENTS',
    });
    assert.throws(() => parseRuntimeArgs(['--cpu-cores', '0', 'deploy']), { code: 'VM_BAD_ARGUMENTS' });
    assert.throws(() => parseRuntimeArgs(['--mem-gib', 'lots', 'start']), { code: 'VM_BAD_ARGUMENTS' });
    assert.throws(() => parseRuntimeArgs(['fly']), { code: 'VM_BAD_ARGUMENTS' });
    const parsed = parseRuntimeArgs([
      '-w',
      '/wd',
      '-t',
      'a.gvmi',
      '--cpu-cores',
      '2',
      '--mem-gib',
      '0.5',
      'deploy',
      '--',
    ]);
    assert.deepEqual(
      [parsed.command, parsed.workdir, parsed.taskPackages, parsed.cpuCores, parsed.memGib],
      ['deploy', '/wd', ['a.gvmi'], 2, 0.5],
    );
  });
});
