import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CommandContext } from '../../../src/cli/command.ts';
import { UsageError } from '../../../src/cli/command.ts';
import { commands } from '../../../src/cli/commands/standards.ts';
import { runCli } from '../../../src/cli/main.ts';
import type { NodeConfig } from '../../../src/core/config/index.ts';
import { GolemError } from '../../../src/core/errors/index.ts';
import { golemJsDemandJson, vmOfferJson } from './fixtures.ts';

/** A CommandContext that reads files from a map and records what the command prints. */
function fakeContext(
  args: string[],
  options: CommandContext['options'] = {},
  files: Record<string, string> = {},
): CommandContext & { output: () => string } {
  let out = '';
  const json = options.json === true;
  return {
    config: {} as NodeConfig,
    options,
    args,
    json,
    print: (text) => {
      out += text.endsWith('\n') ? text : `${text}\n`;
    },
    printJson: (value) => {
      out += `${JSON.stringify(value, null, 2)}\n`;
    },
    readArgument: async (value) => {
      if (!value.startsWith('@')) return value;
      const text = files[value.slice(1)];
      if (text === undefined) throw new GolemError('CLI_FILE', `cannot read ${value.slice(1)}`);
      return text;
    },
    control: () => Promise.reject(new Error('the standards verbs never need the daemon')),
    output: () => out,
  };
}

function command(name: string) {
  const found = commands.find((c) => c.name === name);
  assert.ok(found, name);
  return found;
}

describe('yagna standards list', () => {
  it('prints a table of key, type, kind, side and deprecation', async () => {
    const context = fakeContext([]);
    assert.equal(await command('standards list').run(context), 0);
    const lines = context.output().trimEnd().split('\n');
    assert.match(lines[0]!, /^key\s+type\s+kind\s+side\s+deprecated$/);
    const row = (key: string) => lines.find((line) => line.startsWith(`${key} `)) ?? '';
    assert.match(row('golem.inf.cpu.threads'), /integer >= 0\s+fact\s+offer$/);
    assert.match(row('golem.com.payment.debit-notes.accept-timeout?'), /negotiable\s+both$/);
    assert.match(
      row('golem.com.scheme.payu.interval_sec'),
      /→ golem\.com\.scheme\.payu\.debit-note\.interval-sec\?$/,
    );
    assert.match(row('golem.usage.cpu_sec'), /fact \(counter\)/);
  });

  it('filters by category, by usage, or by key prefix; --json gives the entries', async () => {
    const byCategory = fakeContext([], { namespace: '1-node', json: true });
    await command('standards list').run(byCategory);
    const nodeKeys = (JSON.parse(byCategory.output()) as { key: string }[]).map((p) => p.key);
    assert.ok(nodeKeys.length >= 4 && nodeKeys.every((key) => key.startsWith('golem.node.')));

    const counters = fakeContext([], { namespace: 'usage', json: true });
    await command('standards list').run(counters);
    const counterEntries = JSON.parse(counters.output()) as { key: string; counter: boolean }[];
    assert.ok(counterEntries.some((p) => p.key === 'http-auth.requests'));
    assert.ok(counterEntries.every((p) => p.counter));

    const byPrefix = fakeContext([], { namespace: 'golem.inf.cpu' });
    await command('standards list').run(byPrefix);
    const rows = byPrefix.output().trimEnd().split('\n').slice(2);
    assert.equal(rows.length, 7);
    assert.ok(rows.every((row) => row.startsWith('golem.inf.cpu.')));

    const none = fakeContext([], { namespace: 'golem.nothing' });
    await command('standards list').run(none);
    assert.equal(none.output(), 'no standard property under golem.nothing\n');
  });
});

describe('yagna standards show', () => {
  it('describes one property, patterns included; an unknown key fails with a suggestion', async () => {
    const context = fakeContext(['golem.com.payment.platform.erc20-polygon-glm.address']);
    assert.equal(await command('standards show').run(context), 0);
    assert.match(
      context.output(),
      /^golem\.com\.payment\.platform\.<platform>\.address\n {2}meaning: {4}Address/,
    );
    await assert.rejects(
      async () => command('standards show').run(fakeContext(['golem.inf.cpu.thread'])),
      (error: GolemError) =>
        error.code === 'STANDARDS_UNKNOWN_KEY' &&
        /did you mean golem\.inf\.cpu\.threads\?/.test(error.message),
    );
    await assert.rejects(async () => command('standards show').run(fakeContext([])), UsageError);
  });
});

describe('yagna standards validate', () => {
  const files = {
    'offer.json': JSON.stringify({ properties: vmOfferJson, constraints: '(golem.srv.comp.expiration>0)' }),
    'demand.json': JSON.stringify(golemJsDemandJson),
    'bad.json': JSON.stringify({ 'golem.inf.cpu.threads': 'many', 'golem.com.payment.version': 2 }),
    'broken.json': '{"golem.inf',
    'list.json': '[1, 2]',
    'wrapped-string.json': '{"properties": "golem.inf.cpu.threads=4"}',
  };

  it('a clean offer: exit 0 and "ok"', async () => {
    const context = fakeContext(['@offer.json'], { side: 'offer' }, files);
    assert.equal(await command('standards validate').run(context), 0);
    assert.match(context.output(), /^ok: no issues in \d+ properties\n$/);
  });

  it('warnings only: exit 0, each issue on a line, then the count', async () => {
    const context = fakeContext(['demand.json'], { side: 'demand' }, files);
    assert.equal(await command('standards validate').run(context), 0);
    assert.match(
      context.output(),
      /^warning STANDARDS_LOOSE_TYPE\s+golem\.com\.payment\.protocol\.version is the string "3"/,
    );
    assert.match(context.output(), /\n0 errors, 1 warning\n$/);
  });

  it('errors: exit 1; --json gives valid, counts and the issues', async () => {
    const text = fakeContext(['@bad.json'], {}, files);
    assert.equal(await command('standards validate').run(text), 1);
    assert.match(text.output(), /^error {3}STANDARDS_WRONG_TYPE\s+golem\.inf\.cpu\.threads must be integer/m);
    assert.match(
      text.output(),
      /^warning STANDARDS_DEPRECATED\s+.*use golem\.com\.payment\.protocol\.version/m,
    );
    assert.match(text.output(), /1 error, 1 warning\n$/);

    const json = fakeContext(['@bad.json'], { json: true }, files);
    assert.equal(await command('standards validate').run(json), 1);
    const report = JSON.parse(json.output()) as {
      valid: boolean;
      errors: number;
      warnings: number;
      issues: unknown[];
    };
    assert.equal(report.valid, false);
    assert.equal(report.errors, 1);
    assert.equal(report.warnings, 1);
    assert.equal(report.issues.length, 2);
  });

  it('bad input: coded errors for a file that is not JSON or not an object, usage errors for bad arguments', async () => {
    for (const file of ['@broken.json', '@list.json', '@wrapped-string.json']) {
      await assert.rejects(
        async () => command('standards validate').run(fakeContext([file], {}, files)),
        (error: GolemError) => error.code === 'STANDARDS_BAD_INPUT',
      );
    }
    await assert.rejects(
      async () => command('standards validate').run(fakeContext(['@missing.json'], {}, files)),
      (error: GolemError) => error.code === 'CLI_FILE',
    );
    await assert.rejects(async () => command('standards validate').run(fakeContext([])), UsageError);
    await assert.rejects(
      async () => command('standards validate').run(fakeContext(['@offer.json'], { side: 'both' }, files)),
      UsageError,
    );
  });
});

describe('yagna standards schema', () => {
  it('prints the schema of the side asked for', async () => {
    const context = fakeContext([], { side: 'demand' });
    assert.equal(await command('standards schema').run(context), 0);
    const schema = JSON.parse(context.output()) as { title: string; properties: Record<string, unknown> };
    assert.match(schema.title, /demand properties/);
    assert.ok(schema.properties['golem.srv.comp.expiration']);
    await assert.rejects(
      async () => command('standards schema').run(fakeContext([], { side: 'x' })),
      UsageError,
    );
  });
});

describe('the verbs through the real CLI entry point', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'standards-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('validate exits 1 on errors and 0 on a clean offer; a missing file exits 1 with its code', async () => {
    await writeFile(join(dir, 'offer.json'), JSON.stringify({ properties: vmOfferJson }));
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ 'golem.inf.cpu.threads': 'many' }));
    let out = '';
    let err = '';
    const io = {
      stdout: (text: string) => {
        out += text;
      },
      stderr: (text: string) => {
        err += text;
      },
    };
    const base = ['--datadir', dir];
    assert.equal(
      await runCli([...base, 'standards', 'validate', `@${join(dir, 'offer.json')}`, '--side', 'offer'], io),
      0,
    );
    assert.match(out, /^ok: no issues/);
    assert.equal(await runCli([...base, 'standards', 'validate', `@${join(dir, 'bad.json')}`], io), 1);
    assert.match(out, /STANDARDS_WRONG_TYPE/);
    assert.equal(await runCli([...base, 'standards', 'validate', `@${join(dir, 'none.json')}`], io), 1);
    assert.match(err, /\[CLI_FILE\]/);
    assert.equal(await runCli([...base, 'standards', 'validate'], io), 2);
  });
});
