/**
 * A small user-space TCP client over a network's IPv4 packets: what yagna does with smoltcp for
 * `GET /net/{id}/tcp/{ip}/{port}` (the requestor's address connects to a port inside a VM). Active open only;
 * in-order delivery (out-of-order segments are dropped and re-acknowledged, the peer resends); retransmission with
 * a doubling timeout; the peer's window is respected; FIN both ways; RST aborts.
 */
import { randomInt } from 'node:crypto';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

/** VPN MTU 1220 (Golem's) − 20 IPv4 − 20 TCP. */
export const TCP_MSS = 1180;
const WINDOW = 65535;
const MAX_RETRIES = 8;

const seqLt = (a: number, b: number) => ((a - b) | 0) < 0;
const seqLe = (a: number, b: number) => ((a - b) | 0) <= 0;
const add = (a: number, n: number) => (a + n) >>> 0;

export interface TcpEndpoints {
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
}

function checksum(parts: Buffer[]): number {
  let sum = 0;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) + (bytes[i + 1] ?? 0);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const ipBytes = (ip: string) => Buffer.from(ip.split('.').map(Number));

export interface TcpSegment {
  sourcePort: number;
  destinationPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  payload: Buffer;
}

/** The TCP segment inside an IPv4 packet, or undefined. */
export function parseTcp(packet: Buffer): TcpSegment | undefined {
  if (packet.length < 40 || packet[0]! >> 4 !== 4 || packet[9] !== 6) return undefined;
  const ihl = (packet[0]! & 0x0f) * 4;
  const total = Math.min(packet.readUInt16BE(2), packet.length);
  const tcp = packet.subarray(ihl, total);
  if (tcp.length < 20) return undefined;
  const offset = (tcp[12]! >> 4) * 4;
  if (offset < 20 || offset > tcp.length) return undefined;
  let mss: number | undefined;
  for (let i = 20; i < offset; ) {
    const kind = tcp[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const length = tcp[i + 1] ?? 0;
    if (length < 2) break;
    if (kind === 2 && length === 4) mss = tcp.readUInt16BE(i + 2);
    i += length;
  }
  return {
    sourcePort: tcp.readUInt16BE(0),
    destinationPort: tcp.readUInt16BE(2),
    seq: tcp.readUInt32BE(4),
    ack: tcp.readUInt32BE(8),
    flags: tcp[13]!,
    window: tcp.readUInt16BE(14),
    mss,
    payload: Buffer.from(tcp.subarray(offset)),
  };
}

let nextIpId = randomInt(0, 0xffff);

export function buildTcpPacket(
  e: TcpEndpoints,
  s: Omit<TcpSegment, 'sourcePort' | 'destinationPort'>,
): Buffer {
  const options = s.mss === undefined ? Buffer.alloc(0) : Buffer.from([2, 4, s.mss >> 8, s.mss & 0xff]);
  const tcp = Buffer.alloc(20 + options.length + s.payload.length);
  tcp.writeUInt16BE(e.localPort, 0);
  tcp.writeUInt16BE(e.remotePort, 2);
  tcp.writeUInt32BE(s.seq, 4);
  tcp.writeUInt32BE(s.ack, 8);
  tcp[12] = ((20 + options.length) / 4) << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(s.window, 14);
  options.copy(tcp, 20);
  s.payload.copy(tcp, 20 + options.length);
  const source = ipBytes(e.localIp);
  const destination = ipBytes(e.remoteIp);
  const pseudo = Buffer.concat([
    source,
    destination,
    Buffer.from([0, 6, tcp.length >> 8, tcp.length & 0xff]),
  ]);
  tcp.writeUInt16BE(checksum([pseudo, tcp]), 16);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length, 2);
  nextIpId = (nextIpId + 1) & 0xffff;
  ip.writeUInt16BE(nextIpId, 4);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = 64;
  ip[9] = 6;
  source.copy(ip, 12);
  destination.copy(ip, 16);
  ip.writeUInt16BE(checksum([ip]), 10);
  return Buffer.concat([ip, tcp]);
}

interface Inflight {
  seq: number;
  flags: number;
  payload: Buffer;
}

export interface TcpHandlers {
  onData(data: Buffer): void;
  /** The peer finished sending (FIN). */
  onEnd(): void;
  /** The connection is gone: both sides finished, or it failed (reset, timeout). */
  onClose(error?: Error): void;
}

type State = 'syn-sent' | 'established' | 'closed';

export class TcpClient {
  readonly endpoints: TcpEndpoints;
  readonly #send: (packet: Buffer) => void;
  #handlers: TcpHandlers | undefined;
  #early: Array<(h: TcpHandlers) => void> = [];
  #state: State = 'syn-sent';
  #sndUna: number;
  #sndNxt: number;
  #sndWnd = TCP_MSS;
  #mss = TCP_MSS;
  #rcvNxt = 0;
  #pending: Buffer[] = [];
  #inflight: Inflight[] = [];
  #finWanted = false;
  #finSent = false;
  #peerFinished = false;
  #rto = 500;
  #tries = 0;
  #timer: NodeJS.Timeout | undefined;
  #connected: { resolve: () => void; reject: (e: Error) => void } | undefined;

  readonly #onClosed: () => void;

  /** `onClosed`: for the owner's bookkeeping (the consumer's handlers hear it through `onClose`). */
  constructor(endpoints: TcpEndpoints, send: (packet: Buffer) => void, onClosed: () => void = () => {}) {
    this.endpoints = endpoints;
    this.#send = send;
    this.#onClosed = onClosed;
    this.#sndUna = randomInt(0, 0xffffffff);
    this.#sndNxt = this.#sndUna;
  }

  /** Handlers get what arrived before they were set. */
  setHandlers(handlers: TcpHandlers): void {
    this.#handlers = handlers;
    for (const event of this.#early.splice(0)) event(handlers);
  }

  #emit(event: (h: TcpHandlers) => void): void {
    if (this.#handlers) event(this.#handlers);
    else this.#early.push(event);
  }

  connect(timeoutMs: number): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      this.#connected = { resolve, reject };
    });
    this.#transmit({ seq: this.#sndNxt, flags: SYN, payload: Buffer.alloc(0) });
    this.#sndNxt = add(this.#sndNxt, 1);
    const timer = setTimeout(
      () => this.#fail(new Error(`TCP connect timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    return done.finally(() => clearTimeout(timer));
  }

  write(data: Buffer): void {
    if (this.#state === 'closed' || this.#finWanted) return;
    this.#pending.push(data);
    this.#flush();
  }

  /** FIN once everything written is sent. */
  end(): void {
    this.#finWanted = true;
    this.#flush();
  }

  destroy(): void {
    if (this.#state !== 'closed') this.#segment(RST | ACK, this.#sndNxt, Buffer.alloc(0));
    this.#close();
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  #segment(flags: number, seq: number, payload: Buffer, mss?: number): void {
    this.#send(
      buildTcpPacket(this.endpoints, {
        seq,
        ack: flags & ACK ? this.#rcvNxt : 0,
        flags,
        window: WINDOW,
        payload,
        ...(mss === undefined ? {} : { mss }),
      }),
    );
  }

  #transmit(segment: Inflight): void {
    this.#inflight.push(segment);
    this.#segment(segment.flags, segment.seq, segment.payload, segment.flags & SYN ? TCP_MSS : undefined);
    this.#arm();
  }

  #arm(): void {
    if (this.#timer || this.#inflight.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#inflight.length === 0 || this.#state === 'closed') return;
      if (++this.#tries > MAX_RETRIES) {
        this.#fail(new Error('TCP peer stopped answering'));
        return;
      }
      this.#rto = Math.min(this.#rto * 2, 8000);
      const first = this.#inflight[0]!;
      this.#segment(first.flags, first.seq, first.payload, first.flags & SYN ? TCP_MSS : undefined);
      this.#arm();
    }, this.#rto);
    this.#timer.unref();
  }

  #flush(): void {
    if (this.#state !== 'established') return;
    while (this.#pending.length > 0) {
      const inFlight = (this.#sndNxt - this.#sndUna) >>> 0;
      const room = Math.min(this.#sndWnd, WINDOW) - inFlight;
      if (room <= 0) break;
      const head = this.#pending[0]!;
      const size = Math.min(head.length, this.#mss, room);
      const chunk = head.subarray(0, size);
      if (size === head.length) this.#pending.shift();
      else this.#pending[0] = head.subarray(size);
      this.#transmit({ seq: this.#sndNxt, flags: ACK | PSH, payload: Buffer.from(chunk) });
      this.#sndNxt = add(this.#sndNxt, size);
    }
    if (this.#finWanted && !this.#finSent && this.#pending.length === 0) {
      this.#finSent = true;
      this.#transmit({ seq: this.#sndNxt, flags: FIN | ACK, payload: Buffer.alloc(0) });
      this.#sndNxt = add(this.#sndNxt, 1);
    }
  }

  /** A packet from the remote end of this connection. */
  receive(segment: TcpSegment): void {
    if (this.#state === 'closed') return;
    if (segment.flags & RST) {
      this.#fail(new Error(this.#state === 'syn-sent' ? 'connection refused' : 'connection reset'));
      return;
    }
    if (this.#state === 'syn-sent') {
      if ((segment.flags & (SYN | ACK)) !== (SYN | ACK) || segment.ack !== this.#sndNxt) return;
      this.#rcvNxt = add(segment.seq, 1);
      this.#mss = Math.min(segment.mss ?? 536, TCP_MSS);
      this.#state = 'established';
      this.#acknowledge(segment);
      this.#segment(ACK, this.#sndNxt, Buffer.alloc(0));
      this.#connected?.resolve();
      this.#flush();
      return;
    }
    if (segment.flags & ACK) this.#acknowledge(segment);
    let needAck = false;
    if (segment.payload.length > 0) {
      needAck = true;
      if (segment.seq === this.#rcvNxt) {
        this.#rcvNxt = add(this.#rcvNxt, segment.payload.length);
        const data = segment.payload;
        this.#emit((h) => h.onData(data));
      }
    }
    if (
      segment.flags & FIN &&
      !this.#peerFinished &&
      add(segment.seq, segment.payload.length) === this.#rcvNxt
    ) {
      this.#rcvNxt = add(this.#rcvNxt, 1);
      this.#peerFinished = true;
      needAck = true;
      this.#emit((h) => h.onEnd());
    }
    if (needAck) this.#segment(ACK, this.#sndNxt, Buffer.alloc(0));
    this.#flush();
    if (this.#peerFinished && this.#finSent && this.#inflight.length === 0) this.#close();
  }

  #acknowledge(segment: TcpSegment): void {
    this.#sndWnd = segment.window;
    if (!seqLt(this.#sndUna, segment.ack) || !seqLe(segment.ack, this.#sndNxt)) return;
    this.#sndUna = segment.ack;
    this.#inflight = this.#inflight.filter((s) => {
      const end = add(s.seq, s.payload.length + (s.flags & (SYN | FIN) ? 1 : 0));
      return seqLt(this.#sndUna, end);
    });
    this.#tries = 0;
    this.#rto = 500;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#arm();
  }

  #fail(error: Error): void {
    if (this.#state === 'closed') return;
    this.#connected?.reject(error);
    this.#close(error);
  }

  #close(error?: Error): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#timer);
    this.#connected?.reject(error ?? new Error('closed'));
    this.#onClosed();
    this.#emit((h) => h.onClose(error));
  }
}
