/**
 * `golemsp profile …` through the CLI entry on a temp data dir: each verb changes `hardware.json` as the user
 * would see it in `profile list`, bad input exits 2 with a line saying what was wrong and changes nothing, and the
 * active profile is the one offers are built from.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SettingsStore } from '../../../../src/agents/provider/settings.ts';
import { REPO_ROOT, tempDir } from '../../../support/daemon.ts';

const CLI = join(REPO_ROOT, 'src/agents/provider/cli.ts');

function golemsp(dir: string, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args, '--data-dir', dir], {
    encoding: 'utf8',
    env: { ...process.env, GOLEMSP_DATA_DIR: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface HardwareJson {
  active: string;
  profiles: Record<string, { cpu_threads: number; mem_gib: number; storage_gib: number }>;
}

function listed(dir: string): HardwareJson {
  const { code, stdout } = golemsp(dir, 'profile', 'list', '--json');
  assert.equal(code, 0);
  return JSON.parse(stdout) as HardwareJson;
}

function fails(dir: string, line: RegExp, ...args: string[]): void {
  const before = readFileSync(join(dir, 'hardware.json'), 'utf8');
  const { code, stderr } = golemsp(dir, ...args);
  assert.equal(code, 2, stderr);
  assert.match(stderr, line);
  assert.equal(readFileSync(join(dir, 'hardware.json'), 'utf8'), before, 'bad input changes nothing');
}

describe('golemsp profile', () => {
  it('list shows the default profile (table and --json); active names it', () => {
    const dir = tempDir('profile-');
    const table = golemsp(dir, 'profile', 'list');
    assert.equal(table.code, 0);
    assert.match(table.stdout, /^default\s+yes\s+\d+/m);
    const hardware = listed(dir);
    assert.equal(hardware.active, 'default');
    assert.deepEqual(Object.keys(hardware.profiles), ['default']);
    assert.equal(golemsp(dir, 'profile', 'active').stdout.trim(), 'default');
    const active = JSON.parse(golemsp(dir, 'profile', 'active', '--json').stdout) as { name: string };
    assert.equal(active.name, 'default');
  });

  it('create adds a profile with the sizes given (the rest from the machine); a taken name exits 2', () => {
    const dir = tempDir('profile-');
    assert.equal(golemsp(dir, 'profile', 'create', 'small', '--cores', '1', '--memory', '0.5').code, 0);
    const small = listed(dir).profiles.small!;
    assert.equal(small.cpu_threads, 1);
    assert.equal(small.mem_gib, 0.5);
    assert.ok(small.storage_gib > 0);
    assert.equal(listed(dir).active, 'default', 'creating does not activate');
    fails(dir, /profile small already exists/, 'profile', 'create', 'small');
    fails(dir, /--memory must be a number ≥ 0.1 \(got 0\)/, 'profile', 'create', 'tiny', '--memory', '0');
    fails(dir, /--cores must be a number ≥ 1 \(got 0\)/, 'profile', 'create', 'tiny', '--cores', '0');
    fails(dir, /profile create <name>/, 'profile', 'create');
  });

  it('update changes only the sizes given; an unknown name, no size or a non-positive size exits 2', () => {
    const dir = tempDir('profile-');
    const before = listed(dir).profiles.default!;
    assert.equal(golemsp(dir, 'profile', 'update', 'default', '--storage', '3').code, 0);
    assert.deepEqual(listed(dir).profiles.default, { ...before, storage_gib: 3 });
    fails(dir, /no profile named nope/, 'profile', 'update', 'nope', '--cores', '1');
    fails(dir, /needs --cores, --memory or --storage/, 'profile', 'update', 'default');
    fails(dir, /--storage must be a number ≥ 0.1 \(got -1\)/, 'profile', 'update', 'default', '--storage=-1');
  });

  it('activate switches the profile offers are built from; an unknown name exits 2', () => {
    const dir = tempDir('profile-');
    golemsp(dir, 'profile', 'create', 'small', '--cores', '1', '--memory', '0.5', '--storage', '2');
    assert.equal(golemsp(dir, 'profile', 'activate', 'small').code, 0);
    assert.equal(listed(dir).active, 'small');
    assert.deepEqual(new SettingsStore(dir).activeProfile(), {
      cpu_threads: 1,
      mem_gib: 0.5,
      storage_gib: 2,
    });
    fails(dir, /no profile named nope/, 'profile', 'activate', 'nope');
  });

  it('remove deletes an inactive profile; the active one or an unknown name exits 2', () => {
    const dir = tempDir('profile-');
    golemsp(dir, 'profile', 'create', 'small');
    fails(dir, /profile default is active/, 'profile', 'remove', 'default');
    fails(dir, /no profile named nope/, 'profile', 'remove', 'nope');
    assert.equal(golemsp(dir, 'profile', 'remove', 'small').code, 0);
    assert.deepEqual(Object.keys(listed(dir).profiles), ['default']);
    fails(dir, /unknown command: profile frobnicate/, 'profile', 'frobnicate');
  });
});
