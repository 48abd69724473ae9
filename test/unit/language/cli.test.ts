import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../../../src/cli/main.ts';
import { tempDir } from '../../support/daemon.ts';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

describe('yagna market check / match', () => {
  it('prints exactly one line: true, false or undefined', async () => {
    for (const [constraints, expected] of [
      ['(golem.inf.mem.gib>=2)', 'true'],
      ['(golem.inf.mem.gib>=8)', 'false'],
      ['(golem.inf.cpu.threads>=1)', 'undefined'],
    ]) {
      const result = await cli([
        'market',
        'check',
        '--properties',
        '{"golem":{"inf":{"mem":{"gib":4}}}}',
        '--constraints',
        constraints!,
      ]);
      assert.equal(result.code, 0);
      assert.equal(result.out, `${expected}\n`);
    }
  });

  it('reads the flat syntax and files with @', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'props.txt'), 'golem.runtime.name="vm"\ngolem.runtime.version=v"0.4.2"\n');
    writeFileSync(join(dir, 'c.txt'), '(&(golem.runtime.name=vm)\n  (golem.runtime.version>=0.4.0))');
    const result = await cli([
      'market',
      'check',
      '--flat-properties',
      `@${join(dir, 'props.txt')}`,
      '--constraints',
      `@${join(dir, 'c.txt')}`,
    ]);
    assert.equal(result.out, 'true\n');
  });

  it('exits 2 with the position when the constraint does not parse', async () => {
    const result = await cli(['market', 'check', '--properties', '{}', '--constraints', '(&(a=1)(b>)']);
    assert.equal(result.code, 2);
    assert.equal(result.out, '');
    assert.match(result.err, /line 1, column 11/);
  });

  it('match prints yes/no/undefined first, then the explanation', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'd.json'),
      JSON.stringify({
        properties: { 'golem.srv.comp.expiration': 5 },
        constraints: '(golem.inf.mem.gib>=4)',
      }),
    );
    writeFileSync(
      join(dir, 'o.json'),
      JSON.stringify({
        properties: { 'golem.inf.mem.gib': 2 },
        constraints: '(golem.srv.comp.expiration>0)',
      }),
    );
    const result = await cli([
      'market',
      'match',
      '--demand',
      `@${join(dir, 'd.json')}`,
      '--offer',
      `@${join(dir, 'o.json')}`,
    ]);
    const [first, ...rest] = result.out.trim().split('\n');
    assert.equal(first, 'no');
    assert.match(rest.join('\n'), /\(golem\.inf\.mem\.gib>=4\): golem\.inf\.mem\.gib is 2/);
  });
});
