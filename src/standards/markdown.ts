import { catalog } from './catalog/index.ts';
import { describeType } from './types.ts';

const TITLES: Record<string, string> = {
  '0-commons': '0-commons: infrastructure and runtime',
  '1-node': '1-node: the node',
  '2-service': '2-service: services and computation',
  '3-commercial': '3-commercial: payment and pricing',
  usage: 'Usage counters',
};

/** The catalog as a markdown page (docs/standards.md is this text; a test keeps it current). */
export function standardsMarkdown(): string {
  const lines = [
    '# Golem Standards catalog',
    '',
    'Generated from `src/standards/catalog` by `npm run standards:docs`; do not edit by hand.',
    'Negotiable properties end with `?` and bind only when both sides state the same value.',
    '`<platform>` stands for one name segment. "de facto": emitted by Golem agents, not written in the standard.',
  ];
  for (const namespace of Object.keys(TITLES)) {
    lines.push(
      '',
      `## ${TITLES[namespace]}`,
      '',
      '| key | type | kind | side | meaning |',
      '|---|---|---|---|---|',
    );
    for (const p of catalog.filter((entry) => entry.namespace === namespace)) {
      const kind = [p.negotiable ? 'negotiable' : 'fact', p.deFacto ? 'de facto' : '']
        .filter(Boolean)
        .join(', ');
      const deprecated =
        p.deprecated === undefined
          ? ''
          : ` **Deprecated**${p.deprecated.replacement ? `: use \`${p.deprecated.replacement}\`` : ''}${p.deprecated.note ? ` (${p.deprecated.note})` : ''}.`;
      const unit = p.unit === undefined ? '' : ` [${p.unit}]`;
      lines.push(
        `| \`${p.key}\` | ${describeType(p.type)}${unit} | ${kind} | ${p.side} | ${p.meaning}.${deprecated} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
