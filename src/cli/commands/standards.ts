import { GolemError } from '../../core/errors/index.ts';
import { type FlatProperties, flattenProperties } from '../../language/index.ts';
import {
  catalog,
  demandSchema,
  describeType,
  lookupProperty,
  offerSchema,
  type StandardProperty,
  StandardsErrorCode,
  suggestKey,
  validateProperties,
} from '../../standards/index.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

const CATEGORIES = ['0-commons', '1-node', '2-service', '3-commercial'];

/** `--namespace`: a category (`1-node`), `usage` for the usage counters, or a key prefix (`golem.inf`). */
function selectNamespace(filter: string | undefined): (p: StandardProperty) => boolean {
  if (filter === undefined) return () => true;
  if (CATEGORIES.includes(filter)) return (p) => p.category === filter;
  if (filter === 'usage') return (p) => p.counter === true;
  const prefix = filter.endsWith('.') ? filter : `${filter}.`;
  return (p) => p.key === filter || p.key.startsWith(prefix);
}

function sideOption(context: CommandContext, required: boolean): 'offer' | 'demand' | undefined {
  const side = context.options.side;
  if (side === undefined && !required) return undefined;
  if (side !== 'offer' && side !== 'demand') throw new UsageError('--side is offer or demand');
  return side;
}

/** The properties of a file: `{"properties": …}` (an offer or demand as the REST API carries it) or bare. */
async function readProperties(context: CommandContext, file: string): Promise<FlatProperties> {
  const text = await context.readArgument(file.startsWith('@') ? file : `@${file}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new GolemError(
      StandardsErrorCode.BadInput,
      `${file.replace(/^@/, '')} is not JSON: ${(cause as Error).message}`,
    );
  }
  const isObject = (value: unknown): value is Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value);
  const properties = isObject(json) && Object.hasOwn(json, 'properties') ? json.properties : json;
  if (!isObject(properties))
    throw new GolemError(StandardsErrorCode.BadInput, 'expected {"properties": {…}} or a property object');
  return flattenProperties(properties);
}

function describe(property: StandardProperty): string[] {
  const lines = [
    property.key,
    `  meaning:    ${property.meaning}`,
    `  type:       ${describeType(property.type)}${property.unit === undefined ? '' : ` [${property.unit}]`}`,
    `  kind:       ${property.negotiable ? 'negotiable' : 'fact'}${property.counter ? ' (usage counter)' : ''}`,
    `  side:       ${property.side}`,
    `  category:   ${property.category} (${property.status})`,
    `  source:     ${property.source}`,
  ];
  if (property.deprecated !== undefined)
    lines.push(
      `  deprecated: ${property.deprecated.replacement === undefined ? 'yes' : `use ${property.deprecated.replacement}`}${property.deprecated.note === undefined ? '' : ` (${property.deprecated.note})`}`,
    );
  if (property.knownValues !== undefined) lines.push(`  values:     ${property.knownValues.join(', ')}`);
  if (property.note !== undefined) lines.push(`  note:       ${property.note}`);
  if (property.example !== undefined) lines.push(`  example:    ${JSON.stringify(property.example)}`);
  return lines;
}

export const commands: Command[] = [
  {
    name: 'standards list',
    summary: 'List the properties and usage counters of the Golem Standards',
    options: [
      {
        name: 'namespace',
        type: 'string',
        description: '0-commons, 1-node, 2-service, 3-commercial, usage (the counters), or a key prefix',
      },
    ],
    run: (context) => {
      const filter = context.options.namespace as string | undefined;
      const rows = catalog.filter(selectNamespace(filter));
      if (context.json) {
        context.printJson(rows);
        return 0;
      }
      if (rows.length === 0) {
        context.print(`no standard property under ${filter}`);
        return 0;
      }
      context.print(
        formatTable(
          ['key', 'type', 'kind', 'side', 'deprecated'],
          rows.map((p) => [
            p.key,
            describeType(p.type),
            `${p.negotiable ? 'negotiable' : 'fact'}${p.counter ? ' (counter)' : ''}`,
            p.side,
            p.deprecated === undefined ? '' : `→ ${p.deprecated.replacement ?? '(no replacement)'}`,
          ]),
        ),
      );
      return 0;
    },
  },
  {
    name: 'standards show',
    summary: 'Show one property of the Golem Standards; exit 1 when the standards do not define it',
    positionals: ['<key>'],
    run: (context) => {
      const key = context.args[0];
      if (key === undefined) throw new UsageError('give the property key, e.g. golem.inf.cpu.threads');
      const property = lookupProperty(key);
      if (property === undefined) {
        const suggestion = suggestKey(key);
        throw new GolemError(
          StandardsErrorCode.UnknownKey,
          `${key} is not in the Golem Standards${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`,
        );
      }
      if (context.json) context.printJson(property);
      else context.print(describe(property).join('\n'));
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
        description: 'offer or demand: also warn about properties that belong to the other side',
      },
    ],
    run: async (context) => {
      const file = context.args[0];
      if (file === undefined) throw new UsageError('give the file to check (@path, or @- for stdin)');
      const side = sideOption(context, false);
      const properties = await readProperties(context, file);
      const issues = validateProperties(properties, side === undefined ? {} : { side });
      const errors = issues.filter((issue) => issue.severity === 'error').length;
      const warnings = issues.length - errors;
      if (context.json) {
        context.printJson({ valid: errors === 0, errors, warnings, issues });
      } else if (issues.length === 0) {
        context.print(`ok: no issues in ${Object.keys(properties).length} properties`);
      } else {
        for (const issue of issues)
          context.print(`${issue.severity.padEnd(7)} ${issue.code.padEnd(30)} ${issue.message}`);
        context.print(
          `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`,
        );
      }
      return errors > 0 ? 1 : 0;
    },
  },
  {
    name: 'standards schema',
    summary: 'Print the JSON Schema (draft 2020-12) of offer or demand properties',
    options: [{ name: 'side', type: 'string', required: true, description: 'offer or demand' }],
    run: (context) => {
      const side = sideOption(context, true);
      context.printJson(side === 'offer' ? offerSchema() : demandSchema());
      return 0;
    },
  },
];
