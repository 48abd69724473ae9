import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../../src/cli/main.ts';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Outcome> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}

describe('yagna CLI: parsing, help and exit codes', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'yagna-cli-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('prints general help listing every verb group on --help and with no arguments', async () => {
    for (const args of [['--help'], []]) {
      const result = await cli(args);
      assert.equal(result.code, 0);
      assert.equal(result.stderr, '');
      for (const verb of [
        'service run',
        'id create',
        'id export',
        'app-key create',
        'app-key drop',
        'version',
      ]) {
        assert.match(result.stdout, new RegExp(`^  ${verb} `, 'm'), `${verb} in help`);
      }
    }
  });

  it('prints the verbs of one group on `yagna <group> --help`', async () => {
    const result = await cli(['app-key', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /app-key list/);
    assert.doesNotMatch(result.stdout, /id create/);
  });

  it('prints the options of a verb on `yagna <verb> --help`', async () => {
    const result = await cli(['id', 'create', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: yagna id create/);
    for (const option of [
      '--alias',
      '--password',
      '--from-private-key',
      '--from-keystore',
      '--set-default',
      '--json',
    ]) {
      assert.ok(result.stdout.includes(option), option);
    }
  });

  it('exits 2 with a usage message on stderr for bad arguments', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['id'], /Usage: yagna <command>/],
      [['id', 'create', '--bogus', '--datadir', dataDir], /Unknown option '--bogus'/],
      [['id', 'lock', '0x01', '--datadir', dataDir], /missing --password/],
      [['app-key', 'create', '--datadir', dataDir], /give the app-key name/],
      [['app-key', 'create', 'a', 'b', '--datadir', dataDir], /unexpected argument b/],
      [['id', 'update', 'x', '--datadir', dataDir], /nothing to update/],
      // Bad settings, whether the verb or the config reads them, are usage errors too.
      [
        ['relay', 'run', '--max-reservations', '0', '--datadir', dataDir],
        /--max-reservations \(YA_RELAY_MAX_RESERVATIONS\) must be a whole number of at least 1, got 0/,
      ],
      [
        ['service', 'run', '--net-neighbours', 'many', '--datadir', dataDir],
        /YA_NET_NEIGHBOURS must be a whole number/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      assert.equal(result.code, 2, `exit code of yagna ${args.join(' ')}`);
      assert.match(result.stderr, message, `stderr of yagna ${args.join(' ')}`);
      assert.equal(result.stdout, '');
    }
  });

  it('takes global options before the verb as well as after it', async () => {
    const before = await cli(['--datadir', dataDir, '--json', 'id', 'list']);
    const afterVerb = await cli(['id', 'list', '--datadir', dataDir, '--json']);
    assert.equal(before.code, 0, before.stderr);
    assert.deepEqual(JSON.parse(before.stdout), JSON.parse(afterVerb.stdout));
  });

  it('prints the version as JSON with a yagna version golem-js accepts', async () => {
    const result = await cli(['version', '--json']);
    assert.equal(result.code, 0);
    const info = JSON.parse(result.stdout) as { current: { version: string; seen: boolean }; pending: null };
    const [major, minor] = info.current.version.split('.').map(Number);
    assert.ok(major! > 0 || minor! >= 15, info.current.version);
    assert.equal(info.pending, null);
  });

  it('works on the data dir in-process when no daemon runs, and exits 1 with the code on failures', async () => {
    const created = await cli(['id', 'create', '--alias', 'alice', '--datadir', dataDir, '--json']);
    assert.equal(created.code, 0, created.stderr);
    const identity = JSON.parse(created.stdout) as { nodeId: string; alias?: string };
    assert.match(identity.nodeId, /^0x[0-9a-f]{40}$/);

    const listed = await cli(['id', 'list', '--datadir', dataDir, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const ids = (JSON.parse(listed.stdout) as { nodeId: string }[]).map((i) => i.nodeId);
    assert.ok(ids.includes(identity.nodeId));

    const key = await cli(['app-key', 'create', 'tool', '--id', 'alice', '--datadir', dataDir]);
    assert.equal(key.code, 0, key.stderr);
    assert.ok(key.stdout.trim().length > 0);
    const keys = await cli(['app-key', 'list', '--datadir', dataDir]);
    assert.equal(keys.code, 0, keys.stderr);
    assert.match(keys.stdout, /^name\s+key\s+id/m);
    assert.ok(keys.stdout.includes(key.stdout.trim()));

    const missing = await cli([
      'id',
      'show',
      '0x00000000000000000000000000000000000000ff',
      '--datadir',
      dataDir,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error: .*\[[A-Z_]+\]$/m);
  });
});
