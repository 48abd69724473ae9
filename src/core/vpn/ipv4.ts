/** The few IPv4/ICMP pieces the VPN router needs: addresses of a packet, and an answer to ping. */

export function ipv4Addresses(packet: Uint8Array): { source: string; destination: string } | undefined {
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return undefined;
  const text = (o: number) => `${packet[o]}.${packet[o + 1]}.${packet[o + 2]}.${packet[o + 3]}`;
  return { source: text(12), destination: text(16) };
}

function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) + (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** The echo reply to an ICMP echo request (what a node answers for its own address), else undefined. */
export function echoReply(packet: Uint8Array): Buffer | undefined {
  const p = Buffer.from(packet);
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) return undefined;
  const headerLength = (p[0]! & 0x0f) * 4;
  const total = p.readUInt16BE(2);
  if (headerLength < 20 || total > p.length || total < headerLength + 8 || p[headerLength] !== 8)
    return undefined;
  const reply = Buffer.from(p.subarray(0, total));
  p.copy(reply, 12, 16, 20); // source ← destination
  p.copy(reply, 16, 12, 16); // destination ← source
  reply[8] = 64; // TTL
  reply.writeUInt16BE(0, 10);
  reply.writeUInt16BE(checksum(reply.subarray(0, headerLength)), 10);
  const icmp = reply.subarray(headerLength);
  icmp[0] = 0; // echo reply
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(checksum(icmp), 2);
  return reply;
}
