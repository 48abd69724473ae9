/** `npm run standards:docs`: writes docs/standards.md from the catalog. */
import { writeFileSync } from 'node:fs';
import { standardsMarkdown } from './markdown.ts';

const target = new URL('../../docs/standards.md', import.meta.url);
writeFileSync(target, standardsMarkdown());
console.log('wrote docs/standards.md');
