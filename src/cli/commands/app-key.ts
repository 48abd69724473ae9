import { AppKeyAddress, type AppKeyInfo } from '../../core/model/identity.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

function idOption(context: CommandContext): string | undefined {
  const value = context.options.id;
  return typeof value === 'string' ? value : undefined;
}

function nameArg(context: CommandContext): string {
  const name = context.args[0];
  if (name === undefined) throw new UsageError('give the app-key name');
  if (context.args.length > 1) throw new UsageError(`unexpected argument ${context.args[1]}`);
  return name;
}

export const commands: Command[] = [
  {
    name: 'app-key create',
    summary: 'Create an app-key for the REST API and print it',
    positionals: ['<name>'],
    options: [
      {
        name: 'id',
        type: 'string',
        description: 'identity (node id or alias; default identity when absent)',
      },
      { name: 'allow-origin', type: 'list', description: 'CORS origin allowed for this key' },
    ],
    run: async (context) => {
      const name = nameArg(context);
      const control = await context.control();
      try {
        const key = await control.call<AppKeyInfo>(AppKeyAddress.Create, {
          name,
          nodeId: idOption(context),
          allowOrigins: (context.options['allow-origin'] as string[] | undefined) ?? [],
        });
        if (context.json) context.printJson(key);
        else context.print(key.key);
      } finally {
        await control.close();
      }
      return 0;
    },
  },
  {
    name: 'app-key list',
    summary: 'List app-keys',
    options: [{ name: 'id', type: 'string', description: 'only the keys of this identity' }],
    run: async (context) => {
      if (context.args.length > 0) throw new UsageError(`unexpected argument ${context.args[0]}`);
      const control = await context.control();
      try {
        const keys = await control.call<AppKeyInfo[]>(AppKeyAddress.List, { nodeId: idOption(context) });
        if (context.json) context.printJson(keys);
        else {
          context.print(
            formatTable(
              ['name', 'key', 'id', 'role', 'created'],
              keys.map((k) => [k.name, k.key, k.nodeId, k.role, k.createdAt]),
            ),
          );
        }
      } finally {
        await control.close();
      }
      return 0;
    },
  },
  {
    name: 'app-key drop',
    summary: 'Drop an app-key',
    positionals: ['<name>'],
    options: [{ name: 'id', type: 'string', description: 'identity the key belongs to' }],
    run: async (context) => {
      const name = nameArg(context);
      const control = await context.control();
      try {
        await control.call(AppKeyAddress.Drop, { name, nodeId: idOption(context) });
        if (context.json) context.printJson({ dropped: name });
        else context.print(`dropped ${name}`);
      } finally {
        await control.close();
      }
      return 0;
    },
  },
];
