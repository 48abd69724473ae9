/** The runtime program's arguments (ya-runtime-vm's CLI; see main.ts). */
import { parseArgs } from 'node:util';
import { VmErrorCode, vmError } from './errors.ts';

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
  const hostname = values.hostname ?? process.env.YA_RUNTIME_HOSTNAME ?? 'golem';
  // It goes onto the kernel command line: nothing that could add a kernel parameter.
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(hostname)) {
    throw vmError(
      VmErrorCode.BadArguments,
      '--hostname must be a host name (letters, digits, dots, dashes)',
      { hostname },
    );
  }
  return {
    command,
    workdir: values.workdir ?? process.cwd(),
    taskPackages: values['task-package'] ?? [],
    cpuCores: positiveNumber('cpu-cores', values['cpu-cores'], 1),
    memGib: positiveNumber('mem-gib', values['mem-gib'], 0.25),
    storageGib: positiveNumber('storage-gib', values['storage-gib'], 0.25),
    hostname,
    volumeOverride,
    vpnEndpoint: values['vpn-endpoint'],
    testTimeoutSec: positiveNumber(
      'test-timeout',
      values['test-timeout'] ?? process.env.YA_RUNTIME_VM_TEST_TIMEOUT,
      60,
    ),
  };
}
