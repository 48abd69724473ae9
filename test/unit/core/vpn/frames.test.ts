import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyFrame, wrapPacket } from '../../../../src/core/vpn/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const vmMac = '901300000001';
const owns = (ip: string) => ip === '192.168.9.3';

/** ARP request from 192.168.9.2 (the VM) for `target`. */
const arpRequest = (target: string) =>
  hex(
    `ffffffffffff ${vmMac} 0806 0001 0800 06 04 0001 ${vmMac} c0a80902 000000000000 ${Buffer.from(target.split('.').map(Number)).toString('hex')}`,
  );

describe('VPN frames', () => {
  it('answers ARP for an address held in the network with A0:13:<ip>', () => {
    const verdict = classifyFrame(arpRequest('192.168.9.3'), owns);
    assert.equal(verdict.kind, 'arp-reply');
    assert.equal(
      (verdict as { frame: Buffer }).frame.toString('hex'),
      `${vmMac} a013c0a80903 0806 0001 0800 06 04 0002 a013c0a80903 c0a80903 ${vmMac} c0a80902`.replace(
        /\s+/g,
        '',
      ),
    );
    assert.equal(classifyFrame(arpRequest('192.168.9.77'), owns).kind, 'drop');
  });

  it('unwraps IPv4 to its destination (trimmed to its total length), wraps packets from the network', () => {
    const ip = hex('45000014 0000 4000 4001 0000 c0a80902 c0a80903');
    const frame = Buffer.concat([hex(`a013c0a80903 ${vmMac} 0800`), ip, Buffer.alloc(6)]); // Ethernet padding
    const verdict = classifyFrame(frame, owns);
    assert.equal(verdict.kind, 'ipv4');
    assert.equal((verdict as { destination: string }).destination, '192.168.9.3');
    assert.deepEqual((verdict as { packet: Buffer }).packet, ip);
    assert.equal(
      wrapPacket(ip, hex(vmMac)).toString('hex'),
      `${vmMac}a013c0a80902 0800${ip.toString('hex')}`.replace(/\s+/g, ''),
    );
  });

  it('drops what it does not route: short frames, IPv6, a lying IPv4 length, ARP replies', () => {
    assert.equal(classifyFrame(hex('0102'), owns).kind, 'drop');
    assert.equal(classifyFrame(hex(`a013c0a80903 ${vmMac} 86dd 6000`), owns).kind, 'drop');
    assert.equal(
      classifyFrame(hex(`a013c0a80903 ${vmMac} 0800 4500ffff 0000 4000 4001 0000 c0a80902 c0a80903`), owns)
        .kind,
      'drop',
    );
    const reply = arpRequest('192.168.9.3');
    reply.writeUInt16BE(2, 20);
    assert.equal(classifyFrame(reply, owns).kind, 'drop');
  });
});
