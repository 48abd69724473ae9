/**
 * The layers of docs/ARCHITECTURE (the shared copy): the daemon (src/core) does not depend on what runs on top of
 * it or beside it (execution, agents, devnet, CLI); agents reach the daemon through its REST API only, so from
 * src/core they import the shared libraries (errors, log) and the contracts (model), never a module. The language
 * library's own rule (nothing outside src/language) is test/unit/language/library.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../support/daemon.ts';
import { importSpecifiers, sourceFiles } from '../support/source-files.ts';

/** `file imports target` for every relative import of the files under `dir` (paths from the repo root). */
function importsUnder(dir: string): { file: string; target: string }[] {
  const root = join(REPO_ROOT, dir);
  if (!existsSync(root)) return [];
  return sourceFiles(root).flatMap((path) =>
    importSpecifiers(readFileSync(path, 'utf8'))
      .filter((specifier) => specifier.startsWith('.'))
      .map((specifier) => ({
        file: relative(REPO_ROOT, path),
        target: relative(REPO_ROOT, resolve(path, '..', specifier)),
      })),
  );
}

const under = (target: string, folders: string[]) =>
  folders.some((folder) => target === folder || target.startsWith(`${folder}/`));

/** What an agent may take from src/core: libraries every layer uses, and the contracts. */
const AGENT_MAY_USE = ['src/core/errors', 'src/core/log', 'src/core/model'];

describe('layers', () => {
  it('src/core imports nothing from execution, agents, devnet or the CLI', () => {
    const imports = importsUnder('src/core');
    assert.ok(imports.length > 100, 'the scan reads the daemon sources');
    const upward = imports
      .filter(({ target }) => under(target, ['src/execution', 'src/agents', 'src/devnet', 'src/cli']))
      .map(({ file, target }) => `${file} imports ${target}`);
    assert.deepEqual(upward, []);
  });

  it('agents take from src/core only errors, log and model (they reach the daemon through REST)', () => {
    const reaching = importsUnder('src/agents')
      .filter(({ target }) => under(target, ['src/core']) && !under(target, AGENT_MAY_USE))
      .map(({ file, target }) => `${file} imports ${target}`);
    assert.deepEqual(reaching, []);
  });

  it('agents import nothing from the execution layer', () => {
    const reaching = importsUnder('src/agents')
      .filter(({ target }) => under(target, ['src/execution']))
      .map(({ file, target }) => `${file} imports ${target}`);
    assert.deepEqual(reaching, []);
  });
});
