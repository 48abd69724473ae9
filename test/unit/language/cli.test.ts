import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CommandContext } from '../../../src/cli/command.ts';
import { languageCommands } from '../../../src/cli/commands/market.ts';
import { runCli } from '../../../src/cli/main.ts';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'language-cli-'));
  dirs.push(dir);
  return dir;
}

/** Runs one of the language commands directly, with a context that records what it prints. */
async function runCommand(
  name: string,
  options: Record<string, string>,
  json = false,
): Promise<{ code: number | undefined; printed: string[]; json: unknown[] }> {
  const command = languageCommands.find((c) => c.name === name);
  assert.ok(command, name);
  const printed: string[] = [];
  const printedJson: unknown[] = [];
  const context = {
    options,
    args: [],
    json,
    print: (text: string) => printed.push(text),
    printJson: (value: unknown) => printedJson.push(value),
    readArgument: async (value: string) => (value.startsWith('@') ? readFile(value.slice(1), 'utf8') : value),
    control: () => Promise.reject(new Error('the language commands need no daemon')),
  } as unknown as CommandContext;
  const code = await command.run(context);
  return { code: code ?? 0, printed, json: printedJson };
}

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

  it('exits 2 when --flat-properties is given JSON instead of name=literal lines', async () => {
    const result = await cli(['market', 'check', '--flat-properties', '{"a":', '--constraints', '(a=1)']);
    assert.equal(result.code, 2);
    assert.equal(result.out, '');
    assert.match(result.err, /is not a property name/);
  });

  it('exits 2 with the position when the constraint does not parse', async () => {
    const result = await cli(['market', 'check', '--properties', '{}', '--constraints', '(&(a=1)(b>1)']);
    assert.equal(result.code, 2);
    assert.equal(result.out, '');
    assert.match(result.err, /line 1, column 13/);
    assert.match(result.err, /expected "\)"/);
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

  it('run with a context: check gives one word, bad input is a usage error', async () => {
    const props = '{"golem.runtime.name":"vm","golem.inf.mem.gib":4}';
    const ok = await runCommand('market check', {
      properties: props,
      constraints: '(&(golem.runtime.name=vm)(golem.inf.mem.gib>=2))',
    });
    assert.deepEqual([ok.code, ok.printed], [0, ['true']]);
    await assert.rejects(
      runCommand('market check', { properties: props, constraints: '(golem.runtime.name=vm' }),
      (e: Error) => e.name === 'UsageError' && /column 23/.test(e.message),
    );
    await assert.rejects(
      runCommand('market check', { properties: '{', constraints: '()' }),
      (e: Error) => e.name === 'UsageError' && /--properties is not valid JSON/.test(e.message),
    );
    await assert.rejects(
      runCommand('market check', { properties: '[1,2]', constraints: '()' }),
      (e: Error) => e.name === 'UsageError' && /properties must be a JSON object/.test(e.message),
    );
    await assert.rejects(
      runCommand('market check', { constraints: '()' }),
      (e: Error) => e.name === 'UsageError' && /either --properties or --flat-properties/.test(e.message),
    );
  });

  it('run with a context: match --json gives the whole result with sides', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'd.json'),
      JSON.stringify({ properties: {}, constraints: '(golem.runtime.name=vm)' }),
    );
    writeFileSync(
      join(dir, 'o.json'),
      JSON.stringify({ properties: { 'golem.runtime.name': 'wasmtime' }, constraints: '()' }),
    );
    const result = await runCommand(
      'market match',
      { demand: `@${join(dir, 'd.json')}`, offer: `@${join(dir, 'o.json')}` },
      true,
    );
    const match = result.json[0] as {
      result: string;
      explanation: { demandSide: unknown[] };
    };
    assert.equal(match.result, 'no');
    assert.deepEqual(match.explanation.demandSide, [
      {
        clause: '(golem.runtime.name=vm)',
        side: 'demand',
        property: 'golem.runtime.name',
        result: 'false',
        seen: 'wasmtime',
        present: true,
      },
    ]);
  });
});
