/** ExeScript parsing: Golem's JSON (externally tagged, snake_case inside), unknown fields ignored, bad input refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import {
  ExeScriptErrorCode,
  parseExeScript,
  parseExeScriptText,
} from '../../../../src/core/model/exescript.ts';

const refused = (script: unknown, pattern: RegExp) =>
  assert.throws(
    () => parseExeScript(script),
    (e: unknown) =>
      isGolemError(e, ExeScriptErrorCode.Invalid) && e.httpStatus === 400 && pattern.test(e.message),
  );

describe('ExeScript', () => {
  it('reads what golem-js sends', () => {
    const commands = parseExeScript([
      {
        deploy: {
          net: [],
          volumes: { '/data': { storage: { size: '1g' } } },
          env: { A: 'b' },
          hostname: 'h',
        },
      },
      { start: {} },
      {
        run: {
          entry_point: '/bin/sh',
          args: ['-c', 'echo hi'],
          env: { IGNORED: 'yes' },
          capture: {
            stdout: { atEnd: { format: 'string', headTail: 10 } },
            stderr: { stream: { limit: 5, format: 'binary' } },
          },
        },
      },
      { transfer: { from: 'gftp://0xabc/x', to: 'container:/golem/input/x', format: 'zip' } },
      { terminate: {} },
      { sign: {} },
    ]);
    assert.deepEqual(commands, [
      {
        name: 'deploy',
        volumes: ['/data'],
        volumeOverride: { '/data': { storage: { size: '1g' } } },
        env: { A: 'b' },
        hostname: 'h',
        net: [],
        hosts: {},
      },
      { name: 'start', args: [] },
      {
        name: 'run',
        entryPoint: '/bin/sh',
        args: ['-c', 'echo hi'],
        capture: {
          stdout: { kind: 'atEnd', part: { headTail: 10 }, format: 'str' },
          stderr: { kind: 'stream', limit: 5, format: 'bin' },
        },
      },
      { name: 'transfer', from: 'gftp://0xabc/x', to: 'container:/golem/input/x', format: 'zip' },
      { name: 'terminate' },
      { name: 'sign' },
    ]);
  });

  it('reads deploy.net as golem-js sends it and refuses a hostile one', () => {
    const net = {
      id: 'a1b2',
      ip: '192.168.7.0',
      mask: '255.255.255.0',
      nodes: { '192.168.7.1': '0xreq', '192.168.7.2': '0xprov' },
      nodeIp: '192.168.7.2',
    };
    const [deploy] = parseExeScript([{ deploy: { net: [net] } }]);
    assert.deepEqual(deploy, { ...(deploy as object), net: [net] });
    const [withGateway] = parseExeScript([{ deploy: { net: [{ ...net, gateway: '192.168.7.254' }] } }]);
    assert.equal((withGateway as { net: Array<{ gateway?: string }> }).net[0]?.gateway, '192.168.7.254');
    refused([{ deploy: { net: {} } }], /deploy.net must be a list/);
    refused(
      [{ deploy: { net: [{ ...net, nodeIp: '192.168.7.999' }] } }],
      /deploy.net\[0\].nodeIp must be an IPv4/,
    );
    refused([{ deploy: { net: [{ ...net, id: '../x' }] } }], /deploy.net\[0\].id must be a network id/);
    refused([{ deploy: { net: [{ ...net, nodes: { 'x y': '0x' } }] } }], /nodes key must be an IPv4/);
    refused([{ deploy: { net: [{ ...net, nodes: { '10.0.0.1': 5 } }] } }], /nodes must be a map of strings/);
    const many = Object.fromEntries(
      Array.from({ length: 1025 }, (_, i) => [`10.0.${i >> 8}.${i & 255}`, '0x']),
    );
    refused([{ deploy: { net: [{ ...net, nodes: many }] } }], /at most 1024 addresses/);
    refused([{ deploy: { net: Array.from({ length: 9 }, () => net) } }], /at most 8 networks/);
  });

  it('refuses unknown commands, wrong shapes and oversized scripts', () => {
    refused([{ frobnicate: {} }], /unknown variant `frobnicate`, expected one of `deploy`/);
    refused([{ run: {} }], /missing field `entry_point`/);
    refused([{ run: { entry_point: 'x', args: [1] } }], /run.args must be a list of strings/);
    refused(
      [{ run: { entry_point: 'x', capture: { stdout: { atEnd: { format: 'hex' } } } } }],
      /unknown capture format/,
    );
    refused(
      [{ run: { entry_point: 'x', capture: { stdout: { atEnd: { head: -1 } } } } }],
      /head must be a whole number/,
    );
    refused([{ transfer: { from: 'a' } }], /missing field `to`/);
    refused([{ deploy: {}, start: {} }], /exactly one key/);
    refused(['deploy'], /not an object/);
    refused({ deploy: {} }, /JSON list of commands/);
    refused([], /at least one command/);
    refused(Array(101).fill({ sign: {} }), /at most 100 commands/);
    assert.throws(() => parseExeScriptText('[{"run":'), /not JSON/);
    assert.throws(() => parseExeScriptText(42), /exec body/);
    assert.throws(() => parseExeScriptText(`["${'x'.repeat(1024 * 1024)}"]`), /at most 1048576 bytes/);
  });
});
