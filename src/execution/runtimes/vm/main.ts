/**
 * The VM runtime program, following Golem's runtime contract (ya-runtime-vm's CLI):
 *   main.ts [--workdir D] [--task-package F]… [--cpu-cores N --mem-gib G --storage-gib S] [--volume-override JSON]
 *           [--hostname H] [--vpn-endpoint U] [--inet-endpoint U] [--test-timeout SEC]
 *           deploy | start | offer-template | test
 * `deploy` prints `{"valid":{"Ok":""},"vols":[…],"startMode":"blocking"}`; `start` serves the Runtime API on
 * stdin/stdout until Shutdown; `offer-template` prints the offer properties; `test` boots a VM and runs a command.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { errorMessage, GolemError } from '../../../core/errors/index.ts';
import { deploy } from './deploy.ts';
import { VmErrorCode, vmError } from './errors.ts';
import { offerTemplate, selfTest } from './self-test.ts';
import { startService } from './service.ts';

export interface RuntimeArgs {
  command: string;
  workdir: string;
  taskPackages: string[];
  cpuCores: number;
  memGib: number;
  storageGib: number;
  hostname: string;
  volumeOverride?: Record<string, unknown>;
  vpnEndpoint?: string;
  testTimeoutSec: number;
}

function positiveNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw vmError(VmErrorCode.BadArguments, `--${name} must be a positive number`, { value });
  return n;
}

export function parseRuntimeArgs(argv: string[]): RuntimeArgs {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      workdir: { type: 'string', short: 'w' },
      'task-package': { type: 'string', short: 't', multiple: true },
      'cpu-cores': { type: 'string' },
      'mem-gib': { type: 'string' },
      'storage-gib': { type: 'string' },
      'volume-override': { type: 'string' },
      hostname: { type: 'string' },
      'vpn-endpoint': { type: 'string' },
      'inet-endpoint': { type: 'string' },
      'test-timeout': { type: 'string' },
      'cap-handoff': { type: 'boolean' },
    },
  });
  const command = positionals[0];
  if (!command || !['deploy', 'start', 'offer-template', 'test', 'run'].includes(command)) {
    throw vmError(
      VmErrorCode.BadArguments,
      `command must be deploy, start, offer-template or test (got ${command})`,
    );
  }
  let volumeOverride: Record<string, unknown> | undefined;
  const override = values['volume-override'] ?? process.env.YA_RUNTIME_VOLUME_OVERRIDE;
  if (override) {
    try {
      volumeOverride = JSON.parse(override) as Record<string, unknown>;
    } catch {
      throw vmError(VmErrorCode.BadArguments, '--volume-override is not JSON', { override });
    }
  }
  return {
    command,
    workdir: values.workdir ?? process.cwd(),
    taskPackages: values['task-package'] ?? [],
    cpuCores: positiveNumber('cpu-cores', values['cpu-cores'], 1),
    memGib: positiveNumber('mem-gib', values['mem-gib'], 0.25),
    storageGib: positiveNumber('storage-gib', values['storage-gib'], 0.25),
    hostname: values.hostname ?? process.env.YA_RUNTIME_HOSTNAME ?? 'golem',
    volumeOverride,
    vpnEndpoint: values['vpn-endpoint'],
    testTimeoutSec: positiveNumber(
      'test-timeout',
      values['test-timeout'] ?? process.env.YA_RUNTIME_VM_TEST_TIMEOUT,
      60,
    ),
  };
}

async function main(argv: string[]): Promise<number> {
  const args = parseRuntimeArgs(argv);
  switch (args.command) {
    case 'deploy': {
      const deployment = await deploy({ ...args, cpuCores: Math.min(args.cpuCores, cpus().length) });
      process.stdout.write(
        `${JSON.stringify({ valid: { Ok: '' }, vols: deployment.volumes, startMode: 'blocking' })}\n`,
      );
      return 0;
    }
    case 'start':
      return startService(args);
    case 'offer-template':
      process.stdout.write(`${JSON.stringify(await offerTemplate(args))}\n`);
      return 0;
    case 'test':
      process.stdout.write(`${JSON.stringify(await selfTest(args))}\n`);
      return 0;
    default:
      throw vmError(
        VmErrorCode.BadArguments,
        'run is not supported: the VM runtime serves commands in start mode',
      );
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const body = error instanceof GolemError ? error.toJSON() : { message: errorMessage(error) };
    process.stderr.write(`vm runtime: ${errorMessage(error)}\n${JSON.stringify(body)}\n`);
    process.exitCode = 1;
  },
);
