/**
 * The VM runtime program, following Golem's runtime contract (ya-runtime-vm's CLI):
 *   main.ts [--workdir D] [--task-package F]… [--cpu-cores N --mem-gib G --storage-gib S] [--volume-override JSON]
 *           [--hostname H] [--vpn-endpoint U] [--inet-endpoint U] [--test-timeout SEC]
 *           deploy | start | offer-template | test
 * `deploy` prints `{"valid":{"Ok":""},"vols":[…],"startMode":"blocking"}`; `start` serves the Runtime API on
 * stdin/stdout until Shutdown; `offer-template` prints the offer properties; `test` boots a VM and runs a command.
 */
import { cpus } from 'node:os';
import { errorMessage, GolemError } from '../../../core/errors/index.ts';
import { parseRuntimeArgs } from './args.ts';
import { deploy } from './deploy.ts';
import { VmErrorCode, vmError } from './errors.ts';
import { offerTemplate, selfTest } from './self-test.ts';
import { startService } from './service.ts';

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
