/**
 * `yagna` — the command line of this node. Usage errors exit with code 2, failures with 1.
 */
import { parseArgs } from 'node:util';
import { ConfigErrorCode, type Flags, resolveConfig } from '../core/config/index.ts';
import { addressInUseLine, GolemError } from '../core/errors/index.ts';
import { LanguageError } from '../language/index.ts';
import { type Command, type OptionSpec, UsageError } from './command.ts';
import { commandGroups } from './commands/index.ts';
import { createContext } from './context.ts';

export const GLOBAL_OPTIONS: OptionSpec[] = [
  {
    name: 'datadir',
    type: 'string',
    description: 'data dir (default $YAGNA_DATADIR or ~/.local/share/yagna)',
  },
  {
    name: 'api-url',
    type: 'string',
    description: 'REST API URL (default $YAGNA_API_URL or http://127.0.0.1:7465)',
  },
  { name: 'log-level', type: 'string', description: 'trace, debug, info, warn, error or silent' },
  { name: 'log-format', type: 'string', description: 'text or json' },
  { name: 'json', type: 'boolean', description: 'machine-readable output' },
  { name: 'help', type: 'boolean', short: 'h', description: 'show help' },
];

const GLOBAL_NAMES = new Set(GLOBAL_OPTIONS.map((option) => option.name));

export function allCommands(): Command[] {
  return commandGroups.flat();
}

function findCommand(commands: Command[], words: string[]): { command: Command; rest: string[] } | undefined {
  let best: { command: Command; rest: string[] } | undefined;
  for (const command of commands) {
    const name = command.name.split(' ');
    if (name.length <= words.length && name.every((word, i) => words[i] === word)) {
      if (best === undefined || name.length > best.command.name.split(' ').length) {
        best = { command, rest: words.slice(name.length) };
      }
    }
  }
  return best;
}

/**
 * The words of argv that may name the command: options and the values of value-taking options are skipped, so
 * global options work before the verb (`yagna --datadir d id list`).
 */
function commandWords(argv: string[], commands: Command[]): string[] {
  const takesValue = new Set(
    [...GLOBAL_OPTIONS, ...commands.flatMap((c) => c.options ?? [])]
      .filter((o) => o.type !== 'boolean')
      .map((o) => `--${o.name}`),
  );
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (takesValue.has(arg)) i++;
      continue;
    }
    words.push(arg);
  }
  return words;
}

function optionUsage(option: OptionSpec): string {
  const value = option.type === 'boolean' ? '' : option.type === 'list' ? ' <value>…' : ' <value>';
  return `--${option.name}${value}`;
}

export function commandHelp(command: Command): string {
  const options = command.options ?? [];
  const usage = [
    `yagna ${command.name}`,
    ...options.map((o) => (o.required ? optionUsage(o) : `[${optionUsage(o)}]`)),
    ...(command.positionals ?? []),
  ];
  const lines = [`Usage: ${usage.join(' ')}`, '', command.summary];
  if (options.length > 0) {
    lines.push('', 'Options:');
    for (const option of options) lines.push(`  ${optionUsage(option).padEnd(28)} ${option.description}`);
  }
  lines.push('', 'Global options:');
  for (const option of GLOBAL_OPTIONS)
    lines.push(`  ${optionUsage(option).padEnd(28)} ${option.description}`);
  return lines.join('\n');
}

export function generalHelp(commands: Command[], prefix: string[] = []): string {
  const shown = commands.filter((c) => prefix.every((word, i) => c.name.split(' ')[i] === word));
  const width = Math.max(...shown.map((c) => c.name.length));
  return [
    'Usage: yagna <command> [options]',
    '',
    'Commands:',
    ...shown.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `yagna <command> --help` for the options of a command.',
  ].join('\n');
}

export interface RunResult {
  code: number;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function runCli(
  argv: string[],
  io: { stdout?: (text: string) => void; stderr?: (text: string) => void } = {},
): Promise<number> {
  const stderr = io.stderr ?? ((text: string) => process.stderr.write(text));
  const stdout = io.stdout ?? ((text: string) => process.stdout.write(text));
  const commands = allCommands();
  const words = commandWords(argv, commands);
  const found = findCommand(commands, words);
  if (found === undefined) {
    const helpWanted = argv.length === 0 || argv.includes('--help') || argv.includes('-h');
    const known = commands.some((c) => words.length > 0 && c.name.split(' ')[0] === words[0]);
    if (helpWanted || known) {
      (helpWanted ? stdout : stderr)(`${generalHelp(commands, known ? [words[0]!] : [])}\n`);
      return helpWanted ? 0 : 2;
    }
    stderr(`yagna: unknown command '${words.join(' ')}'\n\n${generalHelp(commands)}\n`);
    return 2;
  }
  const { command } = found;
  const specs = [...GLOBAL_OPTIONS, ...(command.options ?? []).filter((o) => !GLOBAL_NAMES.has(o.name))];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        specs.map((o) => [
          o.name,
          {
            type: o.type === 'boolean' ? ('boolean' as const) : ('string' as const),
            multiple: o.type === 'list',
            ...(o.short === undefined ? {} : { short: o.short }),
          },
        ]),
      ),
    });
  } catch (error) {
    stderr(`yagna ${command.name}: ${(error as Error).message}\n\n${commandHelp(command)}\n`);
    return 2;
  }
  const options = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (options.help === true) {
    stdout(`${commandHelp(command)}\n`);
    return 0;
  }
  const missing = (command.options ?? []).filter((o) => o.required && options[o.name] === undefined);
  if (missing.length > 0) {
    stderr(
      `yagna ${command.name}: missing ${missing.map((o) => `--${o.name}`).join(', ')}\n\n${commandHelp(command)}\n`,
    );
    return 2;
  }
  const args = parsed.positionals.slice(command.name.split(' ').length);
  try {
    const config = resolveConfig(options as Flags);
    const context = createContext({ config, options, args, json: options.json === true, stdout });
    return (await command.run(context)) ?? 0;
  } catch (error) {
    // A bad setting (flag or env var) is a usage error, whichever module read it; so is a text of the language
    // that does not parse.
    if (
      error instanceof UsageError ||
      error instanceof LanguageError ||
      (error instanceof GolemError && error.code === ConfigErrorCode.Invalid)
    ) {
      stderr(`yagna ${command.name}: ${error.message}\n\n${commandHelp(command)}\n`);
      return 2;
    }
    // A taken port is the user's to fix: one line with the address and the setting that moves it, no stack.
    const inUse = addressInUseLine(error);
    if (inUse !== undefined) {
      stderr(`yagna ${command.name}: ${inUse}\n`);
      return 1;
    }
    if (error instanceof GolemError) {
      stderr(`Error: ${error.message} [${error.code}]\n`);
      return 1;
    }
    stderr(`Error: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

/** Entry point of `bin/yagna.js` (through bin/launch.js) and of `node src/cli/main.ts`. */
export function main(argv: string[]): Promise<number> {
  return runCli(argv);
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
