/**
 * The Ethernet side of a VM's VPN link, as Golem's supervisor handles it: the VM speaks Ethernet, the network carries
 * IPv4 packets. ARP requests for other addresses of the network are answered with the MAC Golem derives from the
 * address (`A0:13:<ipv4>`); IPv4 packets are unwrapped going out and wrapped coming in.
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
const ETHERNET_HEADER = 14;
const ARP_LENGTH = 28;

export function macOfIp(ip: Uint8Array): Buffer {
  return Buffer.from([0xa0, 0x13, ip[0]!, ip[1]!, ip[2]!, ip[3]!]);
}

export function ipBytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

export function ipText(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

export type FrameVerdict =
  | { kind: 'arp-reply'; frame: Buffer }
  | { kind: 'ipv4'; source: Buffer; destination: string; packet: Buffer; sourceMac: Buffer }
  | { kind: 'drop'; reason: string };

/** What to do with one frame from the VM. `owns(ip)` says whether an address is someone's in the network. */
export function classifyFrame(frame: Uint8Array, owns: (ip: string) => boolean): FrameVerdict {
  if (frame.length < ETHERNET_HEADER) return { kind: 'drop', reason: 'short frame' };
  const f = Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  const type = f.readUInt16BE(12);
  if (type === ETHERTYPE_ARP) {
    if (f.length < ETHERNET_HEADER + ARP_LENGTH) return { kind: 'drop', reason: 'short ARP' };
    const arp = f.subarray(ETHERNET_HEADER, ETHERNET_HEADER + ARP_LENGTH);
    // Ethernet/IPv4 request only
    if (arp.readUInt16BE(0) !== 1 || arp.readUInt16BE(2) !== ETHERTYPE_IPV4 || arp[4] !== 6 || arp[5] !== 4) {
      return { kind: 'drop', reason: 'not an Ethernet/IPv4 ARP' };
    }
    if (arp.readUInt16BE(6) !== 1) return { kind: 'drop', reason: 'not an ARP request' };
    const senderMac = arp.subarray(8, 14);
    const senderIp = arp.subarray(14, 18);
    const targetIp = arp.subarray(24, 28);
    if (!owns(ipText(targetIp)) || Buffer.compare(targetIp, senderIp) === 0) {
      return { kind: 'drop', reason: 'ARP for an address nobody holds' };
    }
    const targetMac = macOfIp(targetIp);
    const reply = Buffer.alloc(ETHERNET_HEADER + ARP_LENGTH);
    senderMac.copy(reply, 0);
    targetMac.copy(reply, 6);
    reply.writeUInt16BE(ETHERTYPE_ARP, 12);
    const r = reply.subarray(ETHERNET_HEADER);
    r.writeUInt16BE(1, 0);
    r.writeUInt16BE(ETHERTYPE_IPV4, 2);
    r[4] = 6;
    r[5] = 4;
    r.writeUInt16BE(2, 6); // reply
    targetMac.copy(r, 8);
    targetIp.copy(r, 14);
    senderMac.copy(r, 18);
    senderIp.copy(r, 24);
    return { kind: 'arp-reply', frame: reply };
  }
  if (type === ETHERTYPE_IPV4) {
    const packet = f.subarray(ETHERNET_HEADER);
    if (packet.length < 20 || packet[0]! >> 4 !== 4) return { kind: 'drop', reason: 'not an IPv4 packet' };
    const total = packet.readUInt16BE(2);
    if (total < 20 || total > packet.length) return { kind: 'drop', reason: 'bad IPv4 length' };
    return {
      kind: 'ipv4',
      source: Buffer.from(packet.subarray(12, 16)),
      destination: ipText(packet.subarray(16, 20)),
      packet: Buffer.from(packet.subarray(0, total)),
      sourceMac: Buffer.from(f.subarray(6, 12)),
    };
  }
  return { kind: 'drop', reason: `ethertype 0x${type.toString(16)}` };
}

/** An IPv4 packet from the network as a frame for the VM (from the sender's derived MAC). */
export function wrapPacket(packet: Uint8Array, vmMac: Uint8Array): Buffer {
  const frame = Buffer.alloc(ETHERNET_HEADER + packet.length);
  Buffer.from(vmMac).copy(frame, 0);
  macOfIp(packet.subarray(12, 16)).copy(frame, 6);
  frame.writeUInt16BE(ETHERTYPE_IPV4, 12);
  Buffer.from(packet).copy(frame, ETHERNET_HEADER);
  return frame;
}
