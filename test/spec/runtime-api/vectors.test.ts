/**
 * Byte vectors of Golem's Runtime API, derived by hand from `runtime.proto` (ya-runtime-api): field numbers and
 * wire types as the .proto declares them, proto3 defaults left out, oneof members written even when empty, int32
 * negatives as 10-byte varints, maps as repeated {key = 1, value = 2} entries.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeRequest,
  decodeResponse,
  ErrorCode,
  encodeRequest,
  encodeResponse,
  FrameReader,
  frame,
  NetworkInterface,
  type Request,
  type Response,
} from '../../../src/execution/runtime-api/index.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string) => Buffer.from(s, 'ascii').toString('hex');
const bytes = (s: string) => new Uint8Array(Buffer.from(s));

const requests: Array<[string, Request, string]> = [
  ['Hello', { id: 1, command: { kind: 'hello', version: '0.1.0' } }, `08 01 12 07 0a 05 ${ascii('0.1.0')}`],
  [
    'RunProcess with outputs (at_end 0 still written: oneof)',
    {
      id: 2,
      command: {
        kind: 'run',
        bin: '/bin/sh',
        args: ['sh', '-c', 'echo hi'],
        workDir: '',
        stdout: { atEnd: 4096 },
        stderr: { atEnd: 0 },
      },
    },
    `08 02 52 23 0a 07 ${ascii('/bin/sh')} 12 02 ${ascii('sh')} 12 02 ${ascii('-c')} 12 07 ${ascii('echo hi')}
     22 03 10 80 20 2a 02 10 00`,
  ],
  [
    'KillProcess with a negative signal',
    { id: 3, command: { kind: 'kill', pid: 7, signal: -9 } },
    '08 03 5a 0d 08 07 10 f7 ff ff ff ff ff ff ff ff 01',
  ],
  ['Shutdown', { id: 4, command: { kind: 'shutdown' } }, '08 04 62 00'],
  [
    'CreateNetwork (field 30: two-byte tag)',
    {
      id: 5,
      command: {
        kind: 'network',
        networks: [{ addr: '10.0.0.0', gateway: '10.0.0.1', mask: '255.255.255.0', ifAddr: '10.0.0.2' }],
        hosts: { '10.0.0.1': 'gw' },
        interface: NetworkInterface.Inet,
      },
    },
    `08 05 f2 01 41 0a 2d 0a 08 ${ascii('10.0.0.0')} 12 08 ${ascii('10.0.0.1')} 1a 0d ${ascii('255.255.255.0')}
     22 08 ${ascii('10.0.0.2')} 12 0e 0a 08 ${ascii('10.0.0.1')} 12 02 ${ascii('gw')} 18 01`,
  ],
];

const responses: Array<[string, Response, string]> = [
  [
    'Hello',
    { event: false, id: 1, command: { kind: 'hello', version: '0.1.0' } },
    `10 01 22 07 0a 05 ${ascii('0.1.0')}`,
  ],
  ['RunProcess', { event: false, id: 2, command: { kind: 'run', pid: 1 } }, '10 02 52 02 08 01'],
  [
    'ProcessStatus event with output',
    {
      event: true,
      id: 0,
      command: {
        kind: 'status',
        pid: 1,
        running: true,
        returnCode: 0,
        stdout: bytes('hi\n'),
        stderr: new Uint8Array(0),
      },
    },
    '08 01 a2 01 09 08 01 10 01 22 03 68 69 0a',
  ],
  [
    'ProcessStatus event: exit code -1',
    {
      event: true,
      id: 0,
      command: {
        kind: 'status',
        pid: 1,
        running: false,
        returnCode: -1,
        stdout: new Uint8Array(0),
        stderr: new Uint8Array(0),
      },
    },
    '08 01 a2 01 0d 08 01 18 ff ff ff ff ff ff ff ff ff 01',
  ],
  [
    'Error with context',
    {
      event: false,
      id: 9,
      command: { kind: 'error', code: ErrorCode.NotFound, message: 'no such pid', context: { pid: '7' } },
    },
    `10 09 1a 19 08 01 12 0b ${ascii('no such pid')} 1a 08 0a 03 ${ascii('pid')} 12 01 ${ascii('7')}`,
  ],
  [
    'RuntimeStatus counter (double, fixed64)',
    {
      event: true,
      id: 0,
      command: {
        kind: 'rtStatus',
        status: { kind: 'counter', name: 'golem.usage.network.in-mib', value: 1.5 },
      },
    },
    `08 01 aa 01 27 12 25 0a 1a ${ascii('golem.usage.network.in-mib')} 11 00 00 00 00 00 00 f8 3f`,
  ],
  [
    'CreateNetwork endpoint',
    {
      event: false,
      id: 5,
      command: { kind: 'network', endpoint: { kind: 'udpDatagram', address: '127.0.0.1:5000' } },
    },
    `10 05 f2 01 10 1a 0e ${ascii('127.0.0.1:5000')}`,
  ],
  ['Shutdown', { event: false, id: 4, command: { kind: 'shutdown' } }, '10 04 62 00'],
];

describe('Runtime API byte vectors (runtime.proto)', () => {
  for (const [name, message, wire] of requests) {
    it(`Request ${name}`, () => {
      assert.equal(
        Buffer.from(encodeRequest(message)).toString('hex'),
        Buffer.from(hex(wire)).toString('hex'),
      );
      assert.deepEqual(decodeRequest(hex(wire)), message);
    });
  }
  for (const [name, message, wire] of responses) {
    it(`Response ${name}`, () => {
      assert.equal(
        Buffer.from(encodeResponse(message)).toString('hex'),
        Buffer.from(hex(wire)).toString('hex'),
      );
      assert.deepEqual(decodeResponse(hex(wire)), message);
    });
  }

  it('frames carry a varint length prefix (300 bytes → ac 02)', () => {
    const body = new Uint8Array(300).fill(7);
    const framed = frame(body);
    assert.deepEqual([...framed.subarray(0, 2)], [0xac, 0x02]);
    const reader = new FrameReader();
    // byte by byte: a frame is handed out only when whole
    const out: Uint8Array[] = [];
    for (const b of framed) out.push(...reader.push(Uint8Array.of(b)));
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], body);
  });

  it('unknown fields are skipped; an unknown command decodes to none (the server answers "unknown command")', () => {
    // id 6, unknown field 99 (varint 1), unknown oneof member 40 (empty message)
    assert.deepEqual(decodeRequest(hex('08 06 98 06 01 c2 02 00')), { id: 6 });
  });

  it('refuses malformed bytes with a coded error', () => {
    assert.throws(() => decodeRequest(hex('08')), { code: 'RUNTIME_API_MALFORMED' });
    assert.throws(() => decodeRequest(hex('08 01 12 05 0a')), { code: 'RUNTIME_API_MALFORMED' });
    assert.throws(() => decodeRequest(hex('08 01 10 01')), { code: 'RUNTIME_API_MALFORMED' }); // hello as a varint
    assert.throws(() => decodeResponse(hex('10 02 52 02 0a 00')), { code: 'RUNTIME_API_MALFORMED' }); // pid as bytes
    assert.throws(() => new FrameReader(10).push(hex('0b')), { code: 'RUNTIME_API_FRAME_TOO_LARGE' });
  });
});
