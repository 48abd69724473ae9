/**
 * The ExeUnit supervisor's command line, after Golem's `exe-unit`:
 *
 *   exeunit -b <runtime> [-r <runtime-arg>]… [--cap-handoff] [--runtime-managed-image] <command>
 *     service-bus <activityId> <report_url> -a <agreement.json> -w <workdir> -c <cachedir>
 *     offer-template | test
 *
 * In `service-bus` mode it reaches the daemon through the control socket named by `GSB_URL` (`unix:<path>`),
 * binds `/local/exeunit/<activityId>/…` there, reports state and usage to `report_url` (`/local/activity`), and
 * exits after a shutdown, a termination signal, or when the daemon goes away.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ControlConnection } from '../../core/control/index.ts';
import { errorMessage } from '../../core/errors/index.ts';
import { createLogger, parseLogLevel } from '../../core/log/index.ts';
import { ExeUnitMessage, type ExeUnitMessageName, exeUnitAddress } from '../../core/model/activity.ts';
import { VpnLink } from '../runtime-api/index.ts';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';
import { commandLine } from './runtime.ts';
import { type AgreementFile, ExeUnit } from './supervisor.ts';

export interface ExeUnitArgs {
  binary: string;
  capHandoff: boolean;
  runtimeArgs: string[];
  command: 'service-bus' | 'offer-template' | 'test';
  activityId?: string;
  reportUrl?: string;
  agreementPath?: string;
  workdir?: string;
  cacheDir?: string;
}

const FLAGS_WITHOUT_VALUE = new Set([
  '--cap-handoff',
  '--runtime-managed-hardware',
  '--runtime-managed-image',
]);

export function parseExeUnitArgs(argv: string[]): ExeUnitArgs {
  const positional: string[] = [];
  const values: Record<string, string> = {};
  const runtimeArgs: string[] = [];
  let capHandoff = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (FLAGS_WITHOUT_VALUE.has(arg)) {
      if (arg === '--cap-handoff' || arg === '--runtime-managed-hardware') capHandoff = true;
      continue;
    }
    if (arg.startsWith('-')) {
      const value = argv[++i];
      if (value === undefined) throw exeUnitError(ExeUnitErrorCode.BadArguments, `${arg} needs a value`);
      if (arg === '-r' || arg === '--runtime-arg') runtimeArgs.push(value);
      else values[arg] = value;
      continue;
    }
    positional.push(arg);
  }
  const binary = values['-b'] ?? values['--binary'];
  if (binary === undefined) throw exeUnitError(ExeUnitErrorCode.BadArguments, 'missing -b <runtime>');
  const command = positional[0];
  if (command !== 'service-bus' && command !== 'offer-template' && command !== 'test')
    throw exeUnitError(ExeUnitErrorCode.BadArguments, 'command is one of service-bus, offer-template, test');
  const args: ExeUnitArgs = { binary, capHandoff, runtimeArgs, command };
  if (command === 'service-bus') {
    args.activityId = positional[1];
    args.reportUrl = positional[2];
    args.agreementPath = values['-a'] ?? values['--agreement'];
    args.workdir = values['-w'] ?? values['--work-dir'];
    args.cacheDir = values['-c'] ?? values['--cache-dir'];
    for (const [name, value] of Object.entries({
      activityId: args.activityId,
      report_url: args.reportUrl,
      '-a': args.agreementPath,
      '-w': args.workdir,
      '-c': args.cacheDir,
    }))
      if (value === undefined) throw exeUnitError(ExeUnitErrorCode.BadArguments, `service-bus needs ${name}`);
  }
  return args;
}

function numberFromEnv(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw exeUnitError(ExeUnitErrorCode.BadArguments, `${name} must be a number`);
  return parsed;
}

async function serviceBus(args: ExeUnitArgs): Promise<void> {
  const log = createLogger({
    level: parseLogLevel(process.env.EXE_UNIT_LOG_LEVEL),
    namespace: 'exeunit',
  });
  const gsbUrl = process.env.GSB_URL ?? '';
  if (!gsbUrl.startsWith('unix:'))
    throw exeUnitError(ExeUnitErrorCode.BadArguments, 'GSB_URL must be unix:<control socket>');
  const connection = await ControlConnection.connect(gsbUrl.slice('unix:'.length));
  const agreement = JSON.parse(readFileSync(args.agreementPath!, 'utf8')) as AgreementFile;
  const killSeconds = numberFromEnv('PROCESS_KILL_TIMEOUT_SECONDS');
  const exeUnit = new ExeUnit({
    activityId: args.activityId!,
    runtimePath: args.binary,
    runtimeArgs: args.runtimeArgs,
    capHandoff: args.capHandoff,
    openVpnLink: () => VpnLink.open(connection, args.activityId!),
    workdir: args.workdir!,
    cacheDir: args.cacheDir!,
    agreement,
    call: (address, message, options) => connection.call(address, message, { timeoutMs: options?.timeoutMs }),
    logger: log,
    killTimeoutMs: killSeconds === undefined ? undefined : Math.max(1, killSeconds) * 1000,
    limits: {
      maxCaptureBytes: numberFromEnv('EXE_UNIT_MAX_CAPTURE_BYTES'),
      maxTransferBytes: numberFromEnv('EXE_UNIT_MAX_TRANSFER_BYTES'),
    },
  });
  let exiting = false;
  const exit = async (reason: string, code: number) => {
    if (exiting) return;
    exiting = true;
    await exeUnit
      .shutdown(reason)
      .catch((error) => log.warn('shutdown failed', { error: errorMessage(error) }));
    await connection.close();
    process.exit(code);
  };
  for (const [name, handler] of Object.entries(exeUnit.bindings())) {
    const address = exeUnitAddress(exeUnit.activityId, name as ExeUnitMessageName);
    if (name === ExeUnitMessage.Shutdown) {
      await connection.bind(address, async (message) => {
        await handler(message as never);
        // Answer first, then leave.
        setImmediate(() => void exit('Shutdown requested', 0));
        return null;
      });
    } else await connection.bind(address, (message) => handler(message as never));
  }
  await connection.bindStream(
    exeUnitAddress(exeUnit.activityId, ExeUnitMessage.StreamExecBatchResults),
    (message, context) => exeUnit.stream(message as never, context.signal),
  );
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const)
    process.once(signal, () => void exit(`Interrupted by ${signal}`, 0));
  void connection.closed.then(() => exit('The daemon went away', 1));
  await exeUnit.start();
  log.info('ExeUnit ready', { activityId: exeUnit.activityId, runtime: args.binary });
}

/** `offer-template` / `test`: the runtime's own answer, printed as it came. */
function passThrough(args: ExeUnitArgs): number {
  const [command, argv] = commandLine(args.binary, [...args.runtimeArgs, args.command]);
  const result = spawnSync(command, argv, { stdio: 'inherit' });
  return result.status ?? 1;
}

async function main(): Promise<void> {
  let args: ExeUnitArgs;
  try {
    args = parseExeUnitArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`exeunit: ${errorMessage(error)}\n`);
    process.exit(2);
  }
  if (args.command !== 'service-bus') process.exit(passThrough(args));
  try {
    await serviceBus(args);
  } catch (error) {
    process.stderr.write(`exeunit: ${errorMessage(error)}\n`);
    process.exit(1);
  }
}

if (import.meta.main) void main();
