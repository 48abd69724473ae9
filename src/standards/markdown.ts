import { catalog, EXPERIMENTAL_PREFIX, OPEN_PREFIXES } from './catalog/index.ts';
import { describeType, type StandardProperty } from './types.ts';

const SECTIONS: { title: string; select: (p: StandardProperty) => boolean }[] = [
  { title: '0-commons: activity, infrastructure, runtime', select: (p) => p.category === '0-commons' },
  { title: '1-node: the node', select: (p) => p.category === '1-node' },
  { title: '2-service: service capabilities and computation', select: (p) => p.category === '2-service' },
  {
    title: '3-commercial: payment, scheme, pricing',
    select: (p) => p.category === '3-commercial' && !p.counter,
  },
  { title: 'Usage counters (names in `golem.com.usage.vector`)', select: (p) => p.counter === true },
];

/** Pipes would end a table cell. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function kindOf(p: StandardProperty): string {
  const parts = [p.negotiable ? 'negotiable' : 'fact'];
  if (p.status !== 'standard') parts.push(p.status);
  return parts.join(', ');
}

function meaningOf(p: StandardProperty): string {
  let text = `${p.meaning}.`;
  if (p.deprecated !== undefined) {
    text += ' **Deprecated**';
    if (p.deprecated.replacement !== undefined) text += `: use \`${p.deprecated.replacement}\``;
    if (p.deprecated.note !== undefined) text += ` (${p.deprecated.note})`;
    text += '.';
  }
  if (p.knownValues !== undefined)
    text += ` Known values: ${p.knownValues.map((v) => `\`${v}\``).join(', ')}.`;
  if (p.deprecatedValues !== undefined)
    text += ` Deprecated values: ${p.deprecatedValues.map((v) => `\`${v}\``).join(', ')}.`;
  if (p.note !== undefined) text += ` Note: ${p.note}.`;
  return text;
}

/** The catalog as a markdown page; docs/standards.md is exactly this text (a test keeps it current). */
export function standardsMarkdown(): string {
  const lines = [
    '# Golem Standards catalog',
    '',
    '<!-- Generated from src/standards/catalog by `npm run standards:docs`; do not edit by hand. -->',
    '',
    "Every property of the Golem Standards 0.7.1 (golem-architecture `standards/`), plus the properties Golem's",
    'own agents and runtimes use without the standard naming them ("de-facto"). `yagna standards validate`',
    'checks offers and demands against this list; `src/standards/schema.ts` exports it as JSON Schema.',
    '',
    '- **fact / negotiable**: a negotiable property ends with `?` and binds only when both sides state the same',
    '  value in their last proposals; a fact is stated by one side.',
    '- **side**: the document the property belongs in (`both`: either).',
    '- A segment written `<platform>` stands for one name segment.',
    `- Keys under a standard namespace that are not listed here are errors, except under ${OPEN_PREFIXES.map((p) => `\`${p}\``).join(', ')}`,
    `  (names defined by a runtime) and \`${EXPERIMENTAL_PREFIX}\` (experimental by convention).`,
    `- ${catalog.length} entries.`,
  ];
  for (const section of SECTIONS) {
    lines.push(
      '',
      `## ${section.title}`,
      '',
      '| key | type | unit | kind | side | meaning | source |',
      '|---|---|---|---|---|---|---|',
    );
    for (const p of catalog.filter(section.select)) {
      lines.push(
        `| \`${cell(p.key)}\` | ${cell(describeType(p.type))} | ${cell(p.unit ?? '')} | ${kindOf(p)} | ${p.side} | ${cell(meaningOf(p))} | ${cell(p.source)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
