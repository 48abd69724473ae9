/** `start`: boots the deployed VM and serves the Runtime API on stdin/stdout until Shutdown (or stdin ends). */
import { isGolemError } from '../../../core/errors/index.ts';
import { ErrorCode, RuntimeServiceError, serveRuntime } from '../../runtime-api/index.ts';
import { readDeployment } from './deploy.ts';
import { chooseAccelerator, findEnvironment } from './environment.ts';
import { VmErrorCode } from './errors.ts';
import type { RuntimeArgs } from './main.ts';
import { VirtualMachine } from './vm.ts';

const BOOT_TIMEOUT_MS = Number(process.env.GOLEM_VM_BOOT_TIMEOUT_MS ?? 120_000);

/** Guest errors the requestor caused (no such process, no such binary) are BAD_REQUEST/NOT_FOUND, not INTERNAL. */
function asServiceError(error: unknown): unknown {
  if (!isGolemError(error, VmErrorCode.Guest)) return error;
  const name = String(error.details?.name);
  const code = name === 'ESRCH' ? ErrorCode.NotFound : ErrorCode.BadRequest;
  return new RuntimeServiceError(code, error.message, { errno: name });
}

export async function startService(args: RuntimeArgs): Promise<number> {
  const deployment = await readDeployment(args.workdir);
  const env = findEnvironment();
  const accel = await chooseAccelerator(env);
  let server: ReturnType<typeof serveRuntime> | undefined;
  const early: Parameters<ReturnType<typeof serveRuntime>['emitProcessStatus']>[0][] = [];
  const vm = await VirtualMachine.start({
    env,
    accel,
    deployment,
    workdir: args.workdir,
    bootTimeoutMs: BOOT_TIMEOUT_MS,
    onStatus: (status) => {
      if (server) void server.emitProcessStatus(status);
      else early.push(status);
    },
  });
  process.stderr.write(`vm runtime: VM up (${accel})\n`);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= vm.stop();
    return stopping;
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      vm.kill9();
      process.exit(1);
    });
  }
  server = serveRuntime(
    {
      hello: async () => '0.1.0',
      runProcess: (run) => vm.run(run).catch((e) => Promise.reject(asServiceError(e))),
      killProcess: ({ pid }) => vm.kill(pid).catch((e) => Promise.reject(asServiceError(e))),
      createNetwork: async () => {
        throw new RuntimeServiceError(
          ErrorCode.BadRequest,
          'networks are not supported by this VM runtime yet',
        );
      },
      shutdown: async () => {
        await stop();
        setImmediate(() => process.exit(0));
      },
    },
    process.stdin,
    process.stdout,
  );
  for (const status of early.splice(0)) void server.emitProcessStatus(status);
  // The VM ending on its own (crash, poweroff) ends the runtime: the supervisor sees the exit.
  void vm.exited.then((code) => {
    if (!stopping) {
      process.stderr.write(`vm runtime: QEMU exited (${code})\n`);
      process.exit(1);
    }
  });
  await server.done;
  await stop();
  return 0;
}
