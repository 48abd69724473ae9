/** `start`: boots the deployed VM and serves the Runtime API on stdin/stdout until Shutdown (or stdin ends). */

import { createSocket } from 'node:dgram';
import { isGolemError } from '../../../core/errors/index.ts';
import { ErrorCode, NetworkInterface, RuntimeServiceError, serveRuntime } from '../../runtime-api/index.ts';
import type { RuntimeArgs } from './args.ts';
import { readDeployment } from './deploy.ts';
import { chooseAccelerator, findEnvironment } from './environment.ts';
import { VmErrorCode, vmError } from './errors.ts';
import { VirtualMachine, type VpnLink } from './vm.ts';

/** `udp://127.0.0.1:P` (the supervisor's socket) and a free local port for QEMU's end. */
async function vpnLink(endpoint: string): Promise<VpnLink> {
  const match = /^udp:\/\/([^/]+):(\d+)$/.exec(endpoint);
  if (!match)
    throw vmError(VmErrorCode.BadArguments, `--vpn-endpoint must be udp://host:port (got ${endpoint})`);
  const socket = createSocket('udp4');
  const port = await new Promise<number>((resolve) =>
    socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)),
  );
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return { remote: `${match[1]}:${match[2]}`, local: `127.0.0.1:${port}` };
}

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
  const vpn = args.vpnEndpoint ? await vpnLink(args.vpnEndpoint) : undefined;
  let server: ReturnType<typeof serveRuntime> | undefined;
  const early: Parameters<ReturnType<typeof serveRuntime>['emitProcessStatus']>[0][] = [];
  const vm = await VirtualMachine.start({
    env,
    accel,
    deployment,
    workdir: args.workdir,
    bootTimeoutMs: BOOT_TIMEOUT_MS,
    vpn,
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
      createNetwork: async (network) => {
        if (network.interface !== NetworkInterface.Vpn) {
          throw new RuntimeServiceError(ErrorCode.BadRequest, 'only VPN networks are supported (no INET)');
        }
        if (!vpn)
          throw new RuntimeServiceError(
            ErrorCode.BadRequest,
            'the runtime was started without --vpn-endpoint',
          );
        await vm.createNetwork(network).catch((e) => Promise.reject(asServiceError(e)));
        return { kind: 'udpDatagram', address: vpn.local };
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
