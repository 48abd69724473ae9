/**
 * In-process nodes on real libp2p (loopback TCP): each has its own bus, an identity service over an in-memory
 * database and a NetService. Used where a test must reach into a node (streams, broadcasts, raw protocol).
 */
import { LocalBus } from '../../src/core/bus/index.ts';
import { resolveConfig } from '../../src/core/config/index.ts';
import { openDatabase } from '../../src/core/db/index.ts';
import { IdentityService } from '../../src/core/identity/index.ts';
import { silentLogger } from '../../src/core/log/index.ts';
import { NetService, type NetServiceOptions, RelayServer } from '../../src/core/net/index.ts';
import { tempDir } from './daemon.ts';

export interface TestNode {
  bus: LocalBus;
  net: NetService;
  nodeId: string;
  stop(): Promise<void>;
}

export async function startRelay(): Promise<{ relay: RelayServer; address: string }> {
  const relay = new RelayServer({
    dataDir: tempDir('relay-'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    logger: silentLogger,
  });
  await relay.start();
  return { relay, address: relay.addresses()[0]! };
}

/**
 * `listen` defaults to a loopback TCP port; an empty list makes a node reachable only through its relay. `env`
 * adds settings (`YA_NET_*`).
 */
export async function startNode(
  relayAddress?: string,
  listen: string[] = ['/ip4/127.0.0.1/tcp/0'],
  env: Record<string, string> = {},
  options: NetServiceOptions = {},
): Promise<TestNode> {
  const db = openDatabase(':memory:');
  const bus = new LocalBus();
  const config = resolveConfig(
    {},
    { YA_NET_LISTEN: listen.join(','), ...(relayAddress ? { YA_NET_RELAY: relayAddress } : {}), ...env },
  );
  const identity = new IdentityService({ db, bus, logger: silentLogger, config });
  await identity.start();
  const net = new NetService({ db, bus, logger: silentLogger, config }, options);
  await net.start();
  return {
    bus,
    net,
    nodeId: bus.nodeId!,
    stop: async () => {
      await net.stop();
      await identity.stop();
      db.close();
    },
  };
}

/** Waits until `check` holds (polling), or fails with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
