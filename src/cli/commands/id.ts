import { writeFile } from 'node:fs/promises';
import { type ExportedIdentity, IdentityAddress, type IdentityInfo } from '../../core/model/identity.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

async function withControl<T>(
  context: CommandContext,
  work: (call: CommandContext['control'] extends () => Promise<infer C> ? C : never) => Promise<T>,
): Promise<T> {
  const control = await context.control();
  try {
    return await work(control);
  } finally {
    await control.close();
  }
}

function identityArg(context: CommandContext, required: boolean): string | undefined {
  const id = context.args[0];
  if (required && id === undefined) throw new UsageError('give the identity (node id or alias)');
  if (context.args.length > 1) throw new UsageError(`unexpected argument ${context.args[1]}`);
  return id;
}

function printIdentities(context: CommandContext, list: IdentityInfo[]): void {
  if (context.json) {
    context.printJson(list);
    return;
  }
  context.print(
    formatTable(
      ['default', 'locked', 'alias', 'address'],
      list.map((i) => [i.isDefault ? 'X' : '', i.isLocked ? 'X' : '', i.alias ?? '', i.nodeId]),
    ),
  );
}

function printIdentity(context: CommandContext, info: IdentityInfo): void {
  if (context.json) context.printJson(info);
  else {
    context.print(
      formatTable(
        ['field', 'value'],
        [
          ['nodeId', info.nodeId],
          ['alias', info.alias ?? ''],
          ['default', info.isDefault],
          ['locked', info.isLocked],
          ['created', info.createdAt],
        ],
      ),
    );
  }
}

function stringOption(context: CommandContext, name: string): string | undefined {
  const value = context.options[name];
  return typeof value === 'string' ? value : undefined;
}

export const commands: Command[] = [
  {
    name: 'id list',
    summary: 'List identities',
    run: (context) =>
      withControl(context, async (control) => {
        printIdentities(context, await control.call<IdentityInfo[]>(IdentityAddress.List));
        return 0;
      }),
  },
  {
    name: 'id show',
    summary: 'Show one identity (default when none given)',
    positionals: ['[nodeId|alias]'],
    run: (context) =>
      withControl(context, async (control) => {
        const id = identityArg(context, false);
        printIdentity(
          context,
          await control.call<IdentityInfo>(IdentityAddress.Get, id === undefined ? {} : { nodeId: id }),
        );
        return 0;
      }),
  },
  {
    name: 'id create',
    summary: 'Create an identity: a new key, or one imported from a private key or a V3 key file',
    options: [
      { name: 'alias', type: 'string', description: 'name for the identity' },
      { name: 'password', type: 'string', description: 'encrypt the key file with this password (locks it)' },
      { name: 'from-private-key', type: 'string', description: 'import this hex private key' },
      { name: 'from-keystore', type: 'string', description: 'import this V3 key file (@path)' },
      { name: 'keystore-password', type: 'string', description: 'password of the imported key file' },
      { name: 'set-default', type: 'boolean', description: 'make it the default identity' },
    ],
    run: (context) =>
      withControl(context, async (control) => {
        identityArg(context, false);
        const keystoreArg = stringOption(context, 'from-keystore');
        const info = await control.call<IdentityInfo>(IdentityAddress.Create, {
          alias: stringOption(context, 'alias'),
          password: stringOption(context, 'password'),
          fromPrivateKey: stringOption(context, 'from-private-key'),
          fromKeystore:
            keystoreArg === undefined
              ? undefined
              : await context.readArgument(keystoreArg.startsWith('@') ? keystoreArg : `@${keystoreArg}`),
          keystorePassword: stringOption(context, 'keystore-password'),
          setDefault: context.options['set-default'] === true,
        });
        printIdentity(context, info);
        return 0;
      }),
  },
  {
    name: 'id update',
    summary: 'Change the alias of an identity or make it the default',
    positionals: ['<nodeId|alias>'],
    options: [
      { name: 'alias', type: 'string', description: 'new alias' },
      {
        name: 'set-default',
        type: 'boolean',
        description: 'make it the default identity (takes effect at restart)',
      },
    ],
    run: (context) =>
      withControl(context, async (control) => {
        const nodeId = identityArg(context, true)!;
        const alias = stringOption(context, 'alias');
        if (alias === undefined && context.options['set-default'] !== true)
          throw new UsageError('nothing to update: give --alias or --set-default');
        printIdentity(
          context,
          await control.call<IdentityInfo>(IdentityAddress.Update, {
            nodeId,
            alias,
            setDefault: context.options['set-default'] === true,
          }),
        );
        return 0;
      }),
  },
  {
    name: 'id lock',
    summary: 'Encrypt the key file of an identity with a password',
    positionals: ['<nodeId|alias>'],
    options: [{ name: 'password', type: 'string', description: 'the new password', required: true }],
    run: (context) =>
      withControl(context, async (control) => {
        const nodeId = identityArg(context, true)!;
        printIdentity(
          context,
          await control.call<IdentityInfo>(IdentityAddress.Lock, {
            nodeId,
            password: stringOption(context, 'password'),
          }),
        );
        return 0;
      }),
  },
  {
    name: 'id unlock',
    summary: 'Unlock an identity for signing (until the daemon stops)',
    positionals: ['<nodeId|alias>'],
    options: [{ name: 'password', type: 'string', description: 'its password', required: true }],
    run: (context) =>
      withControl(context, async (control) => {
        const nodeId = identityArg(context, true)!;
        printIdentity(
          context,
          await control.call<IdentityInfo>(IdentityAddress.Unlock, {
            nodeId,
            password: stringOption(context, 'password'),
          }),
        );
        return 0;
      }),
  },
  {
    name: 'id export',
    summary: 'Export the key file (or with --plain the private key) of an identity',
    positionals: ['[nodeId|alias]'],
    options: [
      { name: 'plain', type: 'boolean', description: 'print the raw private key' },
      { name: 'password', type: 'string', description: 'encrypt the exported file with this password' },
      { name: 'file-path', type: 'string', description: 'write to this file instead of stdout' },
    ],
    run: (context) =>
      withControl(context, async (control) => {
        const id =
          identityArg(context, false) ?? (await control.call<IdentityInfo>(IdentityAddress.Get, {})).nodeId;
        const exported = await control.call<ExportedIdentity>(IdentityAddress.Export, {
          nodeId: id,
          plain: context.options.plain === true,
          password: stringOption(context, 'password'),
        });
        const text =
          'privateKey' in exported ? exported.privateKey : JSON.stringify(exported.keystore, null, 2);
        const file = stringOption(context, 'file-path');
        if (file !== undefined) await writeFile(file, `${text}\n`, { mode: 0o600 });
        else context.print(text);
        return 0;
      }),
  },
];
