/** The supervisor's command line, as the daemon (and Golem's ya-provider) builds it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExeUnitArgs } from '../../../../src/execution/exeunit/main.ts';
import { parseDeployOutput } from '../../../../src/execution/exeunit/runtime.ts';
import { hardwareArgs } from '../../../../src/execution/exeunit/supervisor.ts';

describe('ExeUnit arguments', () => {
  it("reads Golem's service-bus form", () => {
    const args = parseExeUnitArgs([
      '-b',
      '/rt/main.ts',
      '--cap-handoff',
      '-r',
      '--x',
      'service-bus',
      'a1',
      '/local/activity',
      '-a',
      '/w/agreement.json',
      '-w',
      '/w/a1',
      '-c',
      '/cache',
    ]);
    assert.deepEqual(args, {
      binary: '/rt/main.ts',
      capHandoff: true,
      runtimeArgs: ['--x'],
      command: 'service-bus',
      activityId: 'a1',
      reportUrl: '/local/activity',
      agreementPath: '/w/agreement.json',
      workdir: '/w/a1',
      cacheDir: '/cache',
    });
    assert.throws(() => parseExeUnitArgs(['service-bus', 'a1']), /missing -b/);
    assert.throws(() => parseExeUnitArgs(['-b', 'x', 'service-bus', 'a1', '/local/activity']), /needs -a/);
    assert.throws(() => parseExeUnitArgs(['-b', 'x', 'dance']), /command is one of/);
  });

  it('hands the offer hardware to the runtime and reads deploy answers', () => {
    assert.deepEqual(
      hardwareArgs({ 'golem.inf.cpu.threads': 2.7, 'golem.inf.mem.gib': 0.5, 'golem.inf.storage.gib': 'x' }),
      ['--cpu-cores', '2', '--mem-gib', '0.5'],
    );
    assert.deepEqual(parseDeployOutput(''), { vols: [], startMode: 'empty' });
    assert.deepEqual(
      parseDeployOutput(
        'log line\n{"valid":{"Ok":""},"vols":[{"name":"v","path":"/p"},{"bad":1}],"startMode":"blocking"}',
      ),
      { vols: [{ name: 'v', path: '/p' }], startMode: 'blocking' },
    );
    assert.throws(() => parseDeployOutput('{"valid":{"Err":"no image"}}'), /deploy failed: no image/);
    assert.throws(() => parseDeployOutput('{not json'), /unreadable deploy result/);
  });
});
