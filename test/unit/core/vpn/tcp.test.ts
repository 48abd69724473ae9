/** The user-space TCP client against a scripted peer (a unit test of one module): what it sends, and when. */
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { buildTcpPacket, parseTcp, TcpClient, type TcpSegment } from '../../../../src/core/vpn/tcp.ts';

const ends = { localIp: '10.0.0.1', localPort: 50000, remoteIp: '10.0.0.2', remotePort: 80 };
const peerEnds = { localIp: '10.0.0.2', localPort: 80, remoteIp: '10.0.0.1', remotePort: 50000 };
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

function peer(segment: Omit<TcpSegment, 'sourcePort' | 'destinationPort'>): TcpSegment {
  return parseTcp(buildTcpPacket(peerEnds, segment))!;
}

function harness() {
  const sent: TcpSegment[] = [];
  const client = new TcpClient(ends, (packet) => sent.push(parseTcp(packet)!));
  const data: Buffer[] = [];
  let ended = false;
  let closed: Error | undefined | null = null;
  client.setHandlers({
    onData: (d) => data.push(d),
    onEnd: () => {
      ended = true;
    },
    onClose: (e) => {
      closed = e;
    },
  });
  return { client, sent, data, ended: () => ended, closed: () => closed };
}

async function established(window = 65535, mss = 1000) {
  const h = harness();
  const connected = h.client.connect(5000);
  const syn = h.sent[0]!;
  assert.equal(syn.flags, SYN);
  assert.equal(syn.mss, 1180);
  h.client.receive(
    peer({ seq: 1000, ack: (syn.seq + 1) >>> 0, flags: SYN | ACK, window, mss, payload: Buffer.alloc(0) }),
  );
  await connected;
  assert.equal(h.sent[1]!.flags, ACK);
  assert.equal(h.sent[1]!.ack, 1001);
  return { ...h, iss: syn.seq };
}

describe('user-space TCP client', () => {
  it('handshakes: SYN with an MSS option, then ACK of the peer SYN (Linux accepting the checksums is seen in the VM e2e)', async () => {
    const { sent, iss } = await established();
    assert.equal(sent.length, 2);
    assert.equal(sent[1]!.seq, (iss + 1) >>> 0);
  });

  it("splits writes at the peer's MSS and keeps within its window until acknowledged", async () => {
    const { client, sent, iss } = await established(2000, 1000);
    client.write(Buffer.alloc(5000, 7));
    const data = () => sent.filter((s) => s.payload.length > 0);
    assert.deepEqual(
      data().map((s) => s.payload.length),
      [1000, 1000],
    );
    client.receive(
      peer({ seq: 1001, ack: (iss + 1 + 2000) >>> 0, flags: ACK, window: 2000, payload: Buffer.alloc(0) }),
    );
    assert.deepEqual(
      data().map((s) => s.payload.length),
      [1000, 1000, 1000, 1000],
    );
  });

  it('delivers in order only, acknowledging; FIN from the peer ends the stream', async () => {
    const h = await established();
    const before = h.sent.length;
    h.client.receive(peer({ seq: 1006, ack: 0, flags: ACK, window: 65535, payload: Buffer.from('world') }));
    assert.deepEqual(h.data, []); // out of order: dropped
    assert.equal(h.sent.at(-1)!.ack, 1001); // and re-acknowledged
    h.client.receive(peer({ seq: 1001, ack: 0, flags: ACK, window: 65535, payload: Buffer.from('hello') }));
    h.client.receive(
      peer({ seq: 1006, ack: 0, flags: ACK | FIN, window: 65535, payload: Buffer.from('world') }),
    );
    assert.equal(Buffer.concat(h.data).toString(), 'helloworld');
    assert.equal(h.sent.at(-1)!.ack, 1012); // data and FIN
    assert.ok(h.ended());
    assert.ok(h.sent.length > before);
  });

  it('resends an unacknowledged segment when its timer fires, and gives up after the retries', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const h = await established();
      h.client.write(Buffer.from('ping'));
      const count = () => h.sent.filter((s) => s.payload.toString() === 'ping').length;
      assert.equal(count(), 1);
      mock.timers.tick(500);
      assert.equal(count(), 2);
      for (let i = 0; i < 10; i++) mock.timers.tick(8000);
      assert.ok(h.closed() instanceof Error);
      assert.match(String(h.closed()), /stopped answering/);
    } finally {
      mock.timers.reset();
    }
  });

  it('a reset answer to SYN refuses the connection', async () => {
    const h = harness();
    const connected = h.client.connect(5000);
    h.client.receive(
      peer({
        seq: 0,
        ack: (h.sent[0]!.seq + 1) >>> 0,
        flags: RST | ACK,
        window: 0,
        payload: Buffer.alloc(0),
      }),
    );
    await assert.rejects(connected, /connection refused/);
    assert.ok(h.client.closed);
  });
});
