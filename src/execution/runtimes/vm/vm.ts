/**
 * One running VM: QEMU with the kernel, our initramfs (guest agent as PID 1), the image as a read-only virtio disk,
 * the volumes over 9p, and the guest agent's virtio-serial port as a unix socket. No network device.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateNetwork, ProcessStatus, RunProcess } from '../../runtime-api/index.ts';
import type { Deployment } from './deploy.ts';
import type { Accelerator, VmEnvironment } from './environment.ts';
import { VmErrorCode, vmError } from './errors.ts';
import {
  GuestAgent,
  GuestMessage,
  GuestMessageWriter,
  type GuestNotification,
  Redirect,
} from './guest-protocol.ts';

/** Output buffer per stream in the guest; blocking (the process waits) rather than Golem's cyclic 4 KiB (loses bytes). */
const OUTPUT_BUFFER_BYTES = 64 * 1024;
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface StartOptions {
  env: VmEnvironment;
  accel: Accelerator;
  deployment: Deployment;
  workdir: string;
  bootTimeoutMs: number;
  onStatus: (status: ProcessStatus) => void;
  vpn?: VpnLink;
}

/** The VM's VPN device: Ethernet frames, one per UDP datagram, between QEMU (`local`) and the supervisor (`remote`). */
export interface VpnLink {
  remote: string;
  local: string;
}

/** MAC of the VM's VPN device (ya-runtime-vm's). */
export const VPN_MAC = '90:13:00:00:00:01';

export function qemuArgs(o: {
  env: VmEnvironment;
  accel: Accelerator;
  deployment: Deployment;
  workdir: string;
  socketPath: string;
  consoleLog: string;
  vpn?: VpnLink;
}): string[] {
  const d = o.deployment;
  const args = [
    '-nographic',
    '-no-reboot',
    '-nodefaults',
    '-display',
    'none',
    '-vga',
    'none',
    '-nic',
    'none',
    '-m',
    `${d.memMib}M`,
    '-smp',
    String(d.cpuCores),
    ...(o.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']),
    '-kernel',
    o.env.kernel,
    '-initrd',
    o.env.initramfs,
    '-append',
    // The writable layer is a tmpfs in guest RAM: half of it, so a full disk cannot take the memory processes need.
    `console=ttyS0 panic=1 quiet hostname=${d.hostname} overlay_size=${Math.max(16, Math.floor(d.memMib / 2))}M`,
    '-chardev',
    `file,id=console,path=${o.consoleLog}`,
    '-serial',
    'chardev:console',
    '-device',
    'virtio-serial',
    '-device',
    'virtio-rng-pci',
    '-chardev',
    `socket,path=${o.socketPath},server=on,wait=off,id=manager_cdev`,
    '-device',
    'virtserialport,chardev=manager_cdev,name=manager_port',
  ];
  d.taskPackages.forEach((file, i) => {
    args.push(
      '-drive',
      `file=${file},cache=unsafe,readonly=on,format=raw,id=rootfs-${i},if=none`,
      '-device',
      `virtio-blk-pci,drive=rootfs-${i},serial=rootfs-${i}`,
    );
  });
  if (o.vpn) {
    args.push(
      '-netdev',
      `socket,id=vpn,udp=${o.vpn.remote},localaddr=${o.vpn.local}`,
      '-device',
      `virtio-net-pci,netdev=vpn,mac=${VPN_MAC}`,
    );
  }
  d.volumes.forEach((v, j) => {
    args.push(
      '-virtfs',
      `local,id=mnt${j},path=${join(o.workdir, v.name)},security_model=none,mount_tag=mnt${j}`,
    );
  });
  return args;
}

function consoleTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-1500);
  } catch {
    return '';
  }
}

async function connectWithRetry(path: string, qemuExited: () => boolean, timeoutMs: number): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const s = connect(path);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined));
    });
    if (socket) return socket;
    if (qemuExited() || Date.now() > deadline) throw vmError(VmErrorCode.Boot, `cannot connect to ${path}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export class VirtualMachine {
  private readonly qemu: ChildProcess;
  private readonly agent: GuestAgent;
  private readonly socketPath: string;
  private readonly deployment: Deployment;
  private readonly onStatus: (status: ProcessStatus) => void;
  private notifications: Promise<void> = Promise.resolve();
  readonly exited: Promise<number | string>;
  readonly consoleLog: string;

  private constructor(
    qemu: ChildProcess,
    agent: GuestAgent,
    socketPath: string,
    consoleLog: string,
    exited: Promise<number | string>,
    options: StartOptions,
  ) {
    this.qemu = qemu;
    this.agent = agent;
    this.socketPath = socketPath;
    this.consoleLog = consoleLog;
    this.exited = exited;
    this.deployment = options.deployment;
    this.onStatus = options.onStatus;
    agent.onNotification = (n) => {
      this.notifications = this.notifications.then(() => this.handle(n)).catch(() => {});
    };
  }

  static async start(options: StartOptions): Promise<VirtualMachine> {
    const socketPath = join(tmpdir(), `golem-vm-${randomUUID()}.sock`);
    const consoleLog = join(options.workdir, 'console.log');
    const args = qemuArgs({ ...options, socketPath, consoleLog });
    // setpriv --pdeathsig: QEMU dies with this runtime process, even when that is killed with SIGKILL.
    const qemu = spawn('setpriv', ['--pdeathsig', 'KILL', '--', options.env.qemu, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let qemuStderr = '';
    qemu.stderr!.on('data', (b: Buffer) => {
      qemuStderr = (qemuStderr + b.toString()).slice(-2000);
    });
    let hasExited = false;
    const exited = new Promise<number | string>((resolve) => {
      qemu.once('exit', (code, signal) => {
        hasExited = true;
        rmSync(socketPath, { force: true });
        resolve(code ?? signal ?? -1);
      });
      qemu.once('error', () => {
        hasExited = true;
        resolve(-1);
      });
    });
    const failed = (reason: string, cause?: unknown) =>
      vmError(
        VmErrorCode.Boot,
        `VM did not start: ${reason}`,
        { qemuStderr: qemuStderr.trim(), console: consoleTail(consoleLog), accel: options.accel },
        cause,
      );
    let agent: GuestAgent | undefined;
    const boot = async () => {
      const socket = await connectWithRetry(socketPath, () => hasExited, 10_000);
      agent = new GuestAgent(socket);
      // The first answers double as "the guest is up": they come once the agent runs and reads the port.
      if (options.deployment.volumes.length === 0) await agent.request(GuestMessage.SyncFs);
      for (const [j, v] of options.deployment.volumes.entries()) {
        await agent.request(GuestMessage.MountVolume, (w) => w.bytes(1, `mnt${j}`).bytes(2, v.path));
      }
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        boot(),
        exited.then((code) => {
          throw failed(`QEMU exited (${code})`);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(failed(`the guest agent did not answer within ${options.bootTimeoutMs} ms`)),
            options.bootTimeoutMs,
          );
        }),
      ]);
    } catch (error) {
      agent?.destroy();
      qemu.kill('SIGKILL');
      await exited;
      throw (error as { code?: string }).code === VmErrorCode.Boot
        ? error
        : failed((error as Error).message, error);
    } finally {
      clearTimeout(timer);
    }
    return new VirtualMachine(qemu, agent!, socketPath, consoleLog, exited, options);
  }

  private async drain(id: bigint, fd: 1 | 2): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for (;;) {
      const reply = await this.agent.request(GuestMessage.QueryOutput, (w) =>
        w.u64(1, id).u8(2, fd).u64(3, 0).u64(4, 0xffffffffffffffffn),
      );
      if (reply.kind !== 'bytes' || reply.value.length === 0) break;
      chunks.push(reply.value);
    }
    return Buffer.concat(chunks);
  }

  private async handle(n: GuestNotification): Promise<void> {
    const pid = Number(n.id);
    const none = new Uint8Array(0);
    if (n.kind === 'output') {
      const fd = n.fd === 2 ? 2 : 1;
      const data = await this.drain(n.id, fd);
      if (data.length === 0) return;
      this.onStatus({
        pid,
        running: true,
        returnCode: 0,
        stdout: fd === 1 ? data : none,
        stderr: fd === 2 ? data : none,
      });
      return;
    }
    // Output still buffered in the guest goes out before the exit.
    const stdout = await this.drain(n.id, 1);
    const stderr = await this.drain(n.id, 2);
    if (stdout.length || stderr.length) this.onStatus({ pid, running: true, returnCode: 0, stdout, stderr });
    // As ya-runtime-vm: the exit status, or the signal number of a killed process.
    this.onStatus({ pid, running: false, returnCode: n.status, stdout: none, stderr: none });
  }

  async run(run: RunProcess, entrypoint = false): Promise<number> {
    const config = this.deployment.config;
    const env = config.Env?.length ? [...config.Env] : [];
    if (!env.some((e) => e.startsWith('PATH='))) env.push(DEFAULT_PATH);
    const [uid, gid] = this.deployment.user;
    const reply = await this.agent.request(GuestMessage.RunProcess, (w) => {
      w.bytes(1, run.bin)
        .array(2, run.args.length ? run.args : [run.bin])
        .array(3, env)
        .u32(4, uid)
        .u32(5, gid);
      for (const fd of [1, 2])
        w.raw(
          6,
          Buffer.from(Uint32Array.of(fd).buffer),
          Buffer.of(Redirect.PipeBlocking),
          u64(OUTPUT_BUFFER_BYTES),
        );
      // As ya-runtime-vm: the image's WorkingDir; a supervisor's "/" (Golem's and ours send it) means no choice.
      w.bytes(7, run.workDir && run.workDir !== '/' ? run.workDir : config.WorkingDir || '/');
      if (entrypoint) w.raw(8);
    });
    if (reply.kind !== 'u64')
      throw vmError(VmErrorCode.Protocol, 'RUN_PROCESS answered without a process id');
    return Number(reply.value);
  }

  /** Hosts, then per network the interface address and (with a gateway) the route, as ya-runtime-vm sends them. */
  async createNetwork(network: CreateNetwork): Promise<void> {
    const hosts = Object.entries(network.hosts);
    if (hosts.length) {
      await this.agent.request(GuestMessage.NetHost, (w) => {
        for (const [ip, name] of hosts)
          w.raw(1, GuestMessageWriter.bytes(ip), GuestMessageWriter.bytes(name));
      });
    }
    for (const n of network.networks) {
      await this.agent.request(GuestMessage.NetCtl, (w) =>
        w.raw(1, u16(1)).bytes(5, n.ifAddr).bytes(3, n.mask).raw(6, u16(network.interface)),
      );
      if (n.gateway) {
        await this.agent.request(GuestMessage.NetCtl, (w) =>
          w
            .raw(1, u16(1))
            .bytes(2, n.addr)
            .bytes(3, n.mask)
            .bytes(4, n.gateway)
            .raw(6, u16(network.interface)),
        );
      }
    }
  }

  async kill(pid: number): Promise<void> {
    await this.agent.request(GuestMessage.KillProcess, (w) => w.u64(1, pid));
  }

  /** QUIT (the guest syncs and powers off); QEMU is killed if it is not gone within `timeoutMs`. */
  async stop(timeoutMs = 5000): Promise<void> {
    if (!this.agent.closed) {
      await Promise.race([this.agent.request(GuestMessage.Quit).catch(() => {}), sleep(timeoutMs)]);
    }
    const gone = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!gone) this.qemu.kill('SIGKILL');
    await this.exited;
    this.agent.destroy();
    rmSync(this.socketPath, { force: true });
  }

  /** Kills QEMU at once (the runtime is going away). */
  kill9(): void {
    this.qemu.kill('SIGKILL');
    rmSync(this.socketPath, { force: true });
  }
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

function u64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
