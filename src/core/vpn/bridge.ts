/**
 * One VM's link to a virtual network, on the provider (the job of Golem's supervisor): a UDP socket whose address is
 * the runtime's `--vpn-endpoint`; Ethernet frames from the VM become IPv4 packets handed to `onPacket` (the caller
 * carries them to the node owning the destination), packets from the network become frames for the VM. Frames only
 * go to the endpoint the runtime named in its CreateNetwork answer, and only that endpoint is listened to.
 */
import { createSocket, type Socket } from 'node:dgram';
import { classifyFrame, wrapPacket } from './frames.ts';

export interface VpnBridgeOptions {
  /** Addresses held in the network (by the requestor and the other nodes): ARP is answered for them. */
  owns(ip: string): boolean;
  /** An IPv4 packet from the VM to `destination`. */
  onPacket(destination: string, packet: Buffer): void;
}

/** MAC of the VM until its first frame tells (ya-runtime-vm gives every VM this one). */
const DEFAULT_VM_MAC = Buffer.from([0x90, 0x13, 0, 0, 0, 1]);

export class VpnBridge {
  readonly #socket: Socket = createSocket('udp4');
  #runtime: { address: string; port: number } | undefined;
  #vmMac: Buffer = DEFAULT_VM_MAC;
  dropped = 0;

  constructor(options: VpnBridgeOptions) {
    this.#socket.on('message', (frame, from) => {
      const r = this.#runtime;
      if (!r || from.address !== r.address || from.port !== r.port) {
        this.dropped++;
        return;
      }
      const verdict = classifyFrame(frame, options.owns);
      if (verdict.kind === 'arp-reply') this.#send(verdict.frame);
      else if (verdict.kind === 'ipv4') {
        this.#vmMac = verdict.sourceMac;
        options.onPacket(verdict.destination, verdict.packet);
      } else this.dropped++;
    });
  }

  /** Binds on loopback; returns `udp://127.0.0.1:<port>` for the runtime's `--vpn-endpoint`. */
  async bind(): Promise<string> {
    await new Promise<void>((resolve) => this.#socket.bind(0, '127.0.0.1', resolve));
    return `udp://127.0.0.1:${this.#socket.address().port}`;
  }

  /** The runtime's `udp_datagram` endpoint from its CreateNetwork answer (`127.0.0.1:<port>`). */
  connectRuntime(endpoint: string): void {
    const match = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(endpoint);
    if (!match) throw new RangeError(`not a UDP endpoint: ${endpoint}`);
    this.#runtime = { address: match[1]!, port: Number(match[2]) };
  }

  /** An IPv4 packet from the network, for the VM. */
  deliver(packet: Uint8Array): void {
    if (packet.length < 20) {
      this.dropped++;
      return;
    }
    this.#send(wrapPacket(packet, this.#vmMac));
  }

  #send(frame: Buffer): void {
    const r = this.#runtime;
    if (r) this.#socket.send(frame, r.port, r.address);
  }

  close(): void {
    this.#socket.close();
  }
}
