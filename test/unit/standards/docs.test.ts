import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { catalog, standardsMarkdown } from '../../../src/standards/index.ts';

describe('generated docs page', () => {
  it('the committed docs/standards.md is exactly the page the catalog generates', () => {
    const committed = readFileSync(new URL('../../../docs/standards.md', import.meta.url), 'utf8');
    assert.equal(committed, standardsMarkdown(), 'docs/standards.md is stale: run `npm run standards:docs`');
  });

  it('lists every catalog entry once, as a table row, with deprecations and their replacements', () => {
    const page = standardsMarkdown();
    for (const property of catalog) {
      const rows = page.split('\n').filter((line) => line.startsWith(`| \`${property.key}\` |`));
      assert.equal(rows.length, 1, property.key);
      assert.equal(rows[0]!.split(' | ').length, 7, `${property.key}: seven cells`);
      if (property.deprecated?.replacement !== undefined)
        assert.ok(rows[0]!.includes(`use \`${property.deprecated.replacement}\``), property.key);
    }
  });
});
