import {
  compileConstraints,
  type FlatProperties,
  flattenProperties,
  formatExplanation,
  LanguageError,
  matchDemandOffer,
  parseFlatProperties,
  type Side,
} from '../../language/index.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new UsageError(`${what} is not valid JSON: ${(cause as Error).message}`);
  }
}

/** Parse errors of the language are usage errors of these commands (exit code 2, with the position). */
function asUsage<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof LanguageError) throw new UsageError(error.message);
    // flattenProperties refuses JSON that is not an object: bad input, not a failure of the command.
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
}

/** JSON and other punctuation never appear in a property name: such a "name" is input in the wrong syntax. */
const NOT_IN_PROPERTY_NAME = /[\s"'{}[\],:]/;

function parseFlatInput(text: string): FlatProperties {
  const props = asUsage(() => parseFlatProperties(text));
  const bad = Object.keys(props).find((name) => NOT_IN_PROPERTY_NAME.test(name));
  if (bad !== undefined)
    throw new UsageError(
      `--flat-properties: ${JSON.stringify(bad)} is not a property name (the flat syntax is name=literal per line; JSON goes to --properties)`,
    );
  return props;
}

async function readSide(context: CommandContext, option: string): Promise<Side> {
  const value = context.options[option];
  if (typeof value !== 'string') throw new UsageError(`missing --${option}`);
  const parsed = parseJson(await context.readArgument(value), `--${option}`) as Partial<Side> | null;
  if (parsed === null || typeof parsed !== 'object' || typeof parsed.constraints !== 'string') {
    throw new UsageError(`--${option} must hold {"properties": {...}, "constraints": "..."}`);
  }
  return { properties: parsed.properties ?? {}, constraints: parsed.constraints };
}

/** `market check` and `market match`: the language from the command line (their output is read by tools). */
export const languageCommands: Command[] = [
  {
    name: 'market check',
    summary: 'Evaluate constraints over a property set; prints true, false or undefined',
    options: [
      { name: 'properties', type: 'string', description: 'properties as JSON, inline or @file' },
      {
        name: 'flat-properties',
        type: 'string',
        description: 'properties in the flat syntax (name=literal per line), @file',
      },
      {
        name: 'constraints',
        type: 'string',
        description: 'constraint expression, inline or @file',
        required: true,
      },
    ],
    run: async (context) => {
      const json = context.options.properties;
      const flat = context.options['flat-properties'];
      if ((json === undefined) === (flat === undefined))
        throw new UsageError('give either --properties or --flat-properties');
      const text = await context.readArgument((flat ?? json) as string);
      const props: FlatProperties =
        typeof flat === 'string'
          ? parseFlatInput(text)
          : asUsage(() => flattenProperties(parseJson(text, '--properties')));
      const constraints = await context.readArgument(context.options.constraints as string);
      const compiled = asUsage(() => compileConstraints(constraints));
      context.print(compiled.evaluate(props));
      return 0;
    },
  },
  {
    name: 'market match',
    summary: 'Match a demand and an offer both ways; prints yes, no or undefined, then why',
    options: [
      {
        name: 'demand',
        type: 'string',
        description: '{"properties","constraints"} of the demand, @file',
        required: true,
      },
      {
        name: 'offer',
        type: 'string',
        description: '{"properties","constraints"} of the offer, @file',
        required: true,
      },
    ],
    run: async (context) => {
      const demand = await readSide(context, 'demand');
      const offer = await readSide(context, 'offer');
      const result = asUsage(() => matchDemandOffer(demand, offer));
      if (context.json) context.printJson(result);
      else context.print(`${result.result}\n${formatExplanation(result)}`);
      return 0;
    },
  },
];

export const commands: Command[] = [...languageCommands];
