/**
 * Host side of the guest-agent wire protocol (Golem's ya-runtime-vm, spoken by our `guest/init.c`) over the
 * virtio-serial port QEMU exposes as a unix socket. Little-endian; host→guest `u64 id | u8 type | {u8 sub | body}* | 0`,
 * guest→host `u64 id | u8 type | body`; id 0 = notification. One request outstanding at a time, as the agent expects.
 */
import type { Socket } from 'node:net';
import { VmErrorCode, vmError } from './errors.ts';

export const GuestMessage = {
  Quit: 1,
  RunProcess: 2,
  KillProcess: 3,
  MountVolume: 4,
  UploadFile: 5,
  QueryOutput: 6,
  PutInput: 7,
  SyncFs: 8,
  NetCtl: 9,
  NetHost: 10,
} as const;

export const GuestResponse = {
  Ok: 0,
  OkU64: 1,
  OkBytes: 2,
  Err: 3,
  OutputAvailable: 4,
  ProcessDied: 5,
} as const;
export const Redirect = { File: 0, PipeBlocking: 1, PipeCyclic: 2 } as const;

/** Builds one host→guest message. */
export class GuestMessageWriter {
  private readonly parts: Buffer[] = [];
  constructor(id: bigint, type: number) {
    const head = Buffer.alloc(9);
    head.writeBigUInt64LE(id);
    head.writeUInt8(type, 8);
    this.parts.push(head);
  }
  private sub(subtype: number, ...body: Buffer[]): this {
    this.parts.push(Buffer.of(subtype), ...body);
    return this;
  }
  static u64(v: bigint | number): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  }
  static u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  }
  static bytes(v: string | Uint8Array): Buffer {
    const data = typeof v === 'string' ? Buffer.from(v) : Buffer.from(v);
    return Buffer.concat([GuestMessageWriter.u64(data.length), data]);
  }
  static array(items: string[]): Buffer {
    return Buffer.concat([
      GuestMessageWriter.u64(items.length),
      ...items.map((i) => GuestMessageWriter.bytes(i)),
    ]);
  }
  u8(subtype: number, v: number): this {
    return this.sub(subtype, Buffer.of(v));
  }
  u32(subtype: number, v: number): this {
    return this.sub(subtype, GuestMessageWriter.u32(v));
  }
  u64(subtype: number, v: bigint | number): this {
    return this.sub(subtype, GuestMessageWriter.u64(v));
  }
  bytes(subtype: number, v: string | Uint8Array): this {
    return this.sub(subtype, GuestMessageWriter.bytes(v));
  }
  array(subtype: number, v: string[]): this {
    return this.sub(subtype, GuestMessageWriter.array(v));
  }
  raw(subtype: number, ...body: Buffer[]): this {
    return this.sub(subtype, ...body);
  }
  finish(): Buffer {
    return Buffer.concat([...this.parts, Buffer.of(0)]);
  }
}

export type GuestReply = { kind: 'ok' } | { kind: 'u64'; value: bigint } | { kind: 'bytes'; value: Buffer };

export type GuestNotification =
  | { kind: 'output'; id: bigint; fd: number }
  | { kind: 'died'; id: bigint; status: number; reason: 'exited' | 'killed' | 'dumped' };

type Parsed = { id: bigint; reply?: GuestReply; errno?: number; notification?: GuestNotification };

/** Parses one guest→host message from the front of `buf`; undefined when more bytes are needed. */
export function parseGuestMessage(buf: Buffer): { message: Parsed; length: number } | undefined {
  if (buf.length < 9) return undefined;
  const id = buf.readBigUInt64LE(0);
  const type = buf.readUInt8(8);
  switch (type) {
    case GuestResponse.Ok:
      return { message: { id, reply: { kind: 'ok' } }, length: 9 };
    case GuestResponse.OkU64:
      return buf.length < 17
        ? undefined
        : { message: { id, reply: { kind: 'u64', value: buf.readBigUInt64LE(9) } }, length: 17 };
    case GuestResponse.OkBytes: {
      if (buf.length < 17) return undefined;
      const n = buf.readBigUInt64LE(9);
      if (n > BigInt(64 * 1024 * 1024))
        throw vmError(VmErrorCode.Protocol, `guest sent ${n} bytes in one reply`);
      const end = 17 + Number(n);
      return buf.length < end
        ? undefined
        : {
            message: { id, reply: { kind: 'bytes', value: Buffer.from(buf.subarray(17, end)) } },
            length: end,
          };
    }
    case GuestResponse.Err:
      return buf.length < 13 ? undefined : { message: { id, errno: buf.readUInt32LE(9) }, length: 13 };
    case GuestResponse.OutputAvailable:
      return buf.length < 21
        ? undefined
        : {
            message: {
              id,
              notification: { kind: 'output', id: buf.readBigUInt64LE(9), fd: buf.readUInt32LE(17) },
            },
            length: 21,
          };
    case GuestResponse.ProcessDied: {
      if (buf.length < 19) return undefined;
      const reasons = ['exited', 'killed', 'dumped'] as const;
      const reason = reasons[buf.readUInt8(18)] ?? 'killed';
      return {
        message: {
          id,
          notification: { kind: 'died', id: buf.readBigUInt64LE(9), status: buf.readUInt8(17), reason },
        },
        length: 19,
      };
    }
    default:
      throw vmError(VmErrorCode.Protocol, `unknown guest message type ${type}`);
  }
}

/** errno names for messages (the agent sends raw Linux errno values). */
const ERRNO: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  3: 'ESRCH',
  9: 'EBADF',
  12: 'ENOMEM',
  13: 'EACCES',
  20: 'ENOTDIR',
  22: 'EINVAL',
  24: 'EMFILE',
  38: 'ENOSYS',
};

export class GuestAgent {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private nextId = 1n;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting: { id: bigint; resolve: (r: GuestReply) => void; reject: (e: Error) => void } | undefined;
  private closedError: Error | undefined;
  onNotification: (n: GuestNotification) => void = () => {};

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      try {
        for (;;) {
          const parsed = parseGuestMessage(this.buffer);
          if (!parsed) break;
          this.buffer = this.buffer.subarray(parsed.length);
          this.dispatch(parsed.message);
        }
      } catch (error) {
        this.close(error as Error);
      }
    });
    socket.on('close', () => this.close(vmError(VmErrorCode.ChannelClosed, 'guest agent channel closed')));
    socket.on('error', (cause) =>
      this.close(vmError(VmErrorCode.ChannelClosed, 'guest agent channel failed', {}, cause)),
    );
  }

  private dispatch(m: Parsed): void {
    if (m.notification) {
      this.onNotification(m.notification);
      return;
    }
    const w = this.waiting;
    if (!w || w.id !== m.id) {
      this.close(vmError(VmErrorCode.Protocol, `guest answered id ${m.id}, expected ${w?.id ?? 'none'}`));
      return;
    }
    this.waiting = undefined;
    if (m.errno !== undefined) {
      const name = ERRNO[m.errno] ?? `errno ${m.errno}`;
      w.reject(vmError(VmErrorCode.Guest, `guest agent: ${name}`, { errno: m.errno, name }));
    } else w.resolve(m.reply!);
  }

  private close(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    this.waiting?.reject(error);
    this.waiting = undefined;
    this.socket.destroy();
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Sends one request when the previous one is answered; resolves with the reply. */
  request(type: number, build: (w: GuestMessageWriter) => void = () => {}): Promise<GuestReply> {
    const run = async () => {
      if (this.closedError) throw this.closedError;
      const id = this.nextId++;
      const writer = new GuestMessageWriter(id, type);
      build(writer);
      return new Promise<GuestReply>((resolve, reject) => {
        this.waiting = { id, resolve, reject };
        this.socket.write(writer.finish());
      });
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => {});
    return result;
  }

  destroy(): void {
    this.close(vmError(VmErrorCode.ChannelClosed, 'guest agent channel closed by the host'));
  }
}
