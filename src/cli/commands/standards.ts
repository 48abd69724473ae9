import { flattenProperties, LanguageError } from '../../language/index.ts';
import { catalog, describeType, validateProperties } from '../../standards/index.ts';
import { type Command, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

export const commands: Command[] = [
  {
    name: 'standards list',
    summary: 'List the properties of the Golem Standards',
    options: [
      {
        name: 'namespace',
        type: 'string',
        description: '0-commons, 1-node, 2-service, 3-commercial, usage, or a key prefix',
      },
    ],
    run: (context) => {
      const filter = context.options.namespace as string | undefined;
      const rows = catalog.filter(
        (p) => filter === undefined || p.namespace === filter || p.key.startsWith(filter),
      );
      if (context.json) context.printJson(rows);
      else {
        context.print(
          formatTable(
            ['key', 'type', 'kind', 'side', 'deprecated'],
            rows.map((p) => [
              p.key,
              describeType(p.type),
              p.negotiable ? 'negotiable' : 'fact',
              p.side,
              p.deprecated === undefined ? '' : `→ ${p.deprecated.replacement ?? '(none)'}`,
            ]),
          ),
        );
      }
      return 0;
    },
  },
  {
    name: 'standards validate',
    summary:
      'Check an offer or demand ({"properties":…} or a bare property object) against the standards; exit 1 on errors',
    positionals: ['<@file>'],
    options: [
      {
        name: 'side',
        type: 'string',
        description: 'offer or demand (checks which side a property belongs to)',
      },
    ],
    run: async (context) => {
      const file = context.args[0];
      if (file === undefined) throw new UsageError('give the file to check (@path, or @- for stdin)');
      const side = context.options.side;
      if (side !== undefined && side !== 'offer' && side !== 'demand')
        throw new UsageError('--side is offer or demand');
      let json: unknown;
      try {
        json = JSON.parse(await context.readArgument(file.startsWith('@') ? file : `@${file}`));
      } catch (cause) {
        if (cause instanceof LanguageError) throw cause;
        throw new UsageError(`not valid JSON: ${(cause as Error).message}`);
      }
      const record = json as Record<string, unknown> | null;
      const properties =
        record !== null && typeof record === 'object' && 'properties' in record ? record.properties : json;
      const issues = validateProperties(flattenProperties(properties), side === undefined ? {} : { side });
      if (context.json) context.printJson(issues);
      else if (issues.length === 0) context.print('ok: no issues');
      else
        for (const issue of issues)
          context.print(`${issue.severity.padEnd(7)} ${issue.code.padEnd(28)} ${issue.message}`);
      return issues.some((issue) => issue.severity === 'error') ? 1 : 0;
    },
  },
];
