/**
 * The language is a library: nothing in src/language reaches the daemon (src/core) or anything else outside its
 * folder, and no cache lives in a module variable; caches are objects their users own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../support/daemon.ts';
import { importSpecifiers, sourceFiles } from '../../support/source-files.ts';
import {
  createDemandMatcher,
  flattenProperties,
  LanguageError,
  OfferConstraintCache,
  prepareOffer,
} from './helpers.ts';

const LANGUAGE_DIR = join(REPO_ROOT, 'src', 'language');

describe('the language as a library', () => {
  it('finds the imports it checks (the scanner sees every form)', () => {
    const sample = [
      "import { a } from '../core/errors/index.ts';",
      "import type {\n  B,\n} from '../core/x.ts';",
      "export { c } from '../core/y.ts';",
      "import '../core/z.ts';",
      "const m = await import('../core/w.ts');",
      "declare module '../core/v.ts' {}",
    ].join('\n');
    assert.deepEqual(importSpecifiers(sample).sort(), [
      '../core/errors/index.ts',
      '../core/v.ts',
      '../core/w.ts',
      '../core/x.ts',
      '../core/y.ts',
      '../core/z.ts',
    ]);
  });

  it('imports nothing outside src/language but Node built-ins', () => {
    const files = sourceFiles(LANGUAGE_DIR);
    assert.ok(files.length > 5, 'the scan reads the language sources');
    const outside: string[] = [];
    for (const file of files) {
      for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('node:')) continue;
        const target = specifier.startsWith('.') ? resolve(file, '..', specifier) : specifier;
        if (!specifier.startsWith('.') || relative(LANGUAGE_DIR, target).startsWith('..'))
          outside.push(`${relative(REPO_ROOT, file)} imports ${specifier}`);
      }
    }
    assert.deepEqual(outside, []);
  });

  it('keeps no cache in a module variable (a Map, a Set filled later, a let, a compiler made at load)', () => {
    // WeakMaps keyed by a parsed constraint are allowed: they belong to that object like a private field.
    const moduleState =
      /^(?:export )?(?:let|var)\s|^(?:export )?const \w+(?:\s*:[^=]+)?\s*=\s*(?:new (?:Map|Set)\b(?!\(\[)|create\w*(?:Compiler|Cache|Matcher)\()/;
    const found: string[] = [];
    for (const file of sourceFiles(LANGUAGE_DIR)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, index) => {
          if (moduleState.test(line)) found.push(`${relative(REPO_ROOT, file)}:${index + 1}: ${line}`);
        });
    }
    assert.deepEqual(found, []);
  });

  it('throws its own LanguageError: a code and details, no HTTP status, the JSON shape of daemon errors', () => {
    const error = (() => {
      try {
        createDemandMatcher({ properties: {}, constraints: '(a=' });
      } catch (caught) {
        return caught;
      }
    })();
    assert.ok(error instanceof LanguageError);
    assert.equal('httpStatus' in error, false);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(error))), ['code', 'message', 'details']);
    assert.equal(error.code, 'LANGUAGE_PARSE_ERROR');
  });

  it('keeps compiled offer constraints in caches owned by their users, not in the module', () => {
    const demand = { properties: { 'golem.srv.comp.expiration': 10 }, constraints: '(golem.inf.mem.gib>=1)' };
    const offer = {
      properties: flattenProperties({ 'golem.inf.mem.gib': 2 }),
      constraints: '(golem.srv.comp.expiration>5)',
    };
    const shared = new OfferConstraintCache();
    const other = new OfferConstraintCache();
    assert.equal(createDemandMatcher(demand, shared)(offer), 'yes');
    assert.equal(createDemandMatcher(demand, shared)(offer), 'yes');
    assert.equal(shared.size, 1, 'two matchers on one cache compile the text once');
    assert.equal(createDemandMatcher(demand)(offer), 'yes');
    assert.equal(other.size, 0, 'a matcher without this cache does not fill it');
    // Offers prepared with one cache share the generated code of their shape.
    const a = prepareOffer({ properties: {}, constraints: '(x>1)' }, shared);
    const b = prepareOffer({ properties: {}, constraints: '(x>2)' }, shared);
    const c = prepareOffer({ properties: {}, constraints: '(x>3)' }, other);
    assert.equal(a.compiled.shape, b.compiled.shape);
    assert.notEqual(a.compiled.shape, c.compiled.shape);
  });

  it('a cache holds at most its limit of constraint texts', () => {
    const cache = new OfferConstraintCache(3);
    const match = createDemandMatcher({ properties: { n: 1 }, constraints: '()' }, cache);
    for (let i = 0; i < 10; i++) match({ properties: {}, constraints: `(n>${i})` });
    assert.ok(cache.size <= 3, `size ${cache.size}`);
  });
});
