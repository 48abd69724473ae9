import { parseCount, splitList } from '../../core/config/index.ts';
import { createLogger } from '../../core/log/index.ts';
import { DEFAULT_DISCOVERY_OPTIONS, marketRelayChecks } from '../../core/market/index.ts';
import {
  type FindResult,
  NetAddress,
  type NetStatus,
  type PeerInfo,
  type PingResult,
} from '../../core/model/net.ts';
import {
  DEFAULT_RELAY_LIMITS,
  DEFAULT_RELAY_LISTEN,
  type RelayLimits,
  RelayServer,
} from '../../core/net/index.ts';
import { type Command, type CommandContext, UsageError } from '../command.ts';
import { formatTable } from '../output.ts';

async function ask<T>(context: CommandContext, address: string, message?: unknown): Promise<T> {
  const control = await context.control();
  try {
    return await control.call<T>(address, message, { timeoutMs: 30_000 });
  } finally {
    await control.close();
  }
}

function nodeArg(context: CommandContext): string {
  const nodeId = context.args[0];
  if (nodeId === undefined || !/^0x[0-9a-fA-F]{40}$/.test(nodeId))
    throw new UsageError('give a node id (0x followed by 40 hex digits)');
  return nodeId.toLowerCase();
}

export const commands: Command[] = [
  {
    name: 'net status',
    summary: 'Show this node on the network: ids, addresses, relays, peers',
    run: async (context) => {
      const status = await ask<NetStatus>(context, NetAddress.Status);
      if (context.json) context.printJson(status);
      else {
        context.print(
          formatTable(
            ['field', 'value'],
            [
              ['nodeId', status.nodeId],
              ['peerId', status.peerId],
              ['reachability', status.reachability],
              ['peers', status.connectedPeers],
              ...status.publicAddrs.map((a) => ['address', a]),
              ...status.observedAddrs.map((a) => ['seen as', a]),
              ...status.relays.map((r) => ['relay', r]),
              ...guardRows(status.guard),
            ],
          ),
        );
      }
      return 0;
    },
  },
  {
    name: 'net sessions',
    summary: 'List the nodes this node is connected to',
    run: async (context) => {
      const peers = await ask<PeerInfo[]>(context, NetAddress.Peers);
      if (context.json) context.printJson(peers);
      else
        context.print(
          formatTable(
            ['nodeId', 'connection', 'rtt ms', 'address'],
            peers.map((p) => [p.nodeId, p.connection, p.latencyMs, p.addrs[0]]),
          ),
        );
      return 0;
    },
  },
  {
    name: 'net find',
    summary: 'Find a node by id and connect to it (direct, else relayed)',
    positionals: ['<nodeId>'],
    run: async (context) => {
      const found = await ask<FindResult>(context, NetAddress.Find, { nodeId: nodeArg(context) });
      if (context.json) context.printJson(found);
      else context.print(`${found.nodeId} ${found.connection} ${found.addrs.join(' ')}`);
      return 0;
    },
  },
  {
    name: 'net ping',
    summary: 'Ping a node by id',
    positionals: ['<nodeId>'],
    run: async (context) => {
      const result = await ask<PingResult>(context, NetAddress.Ping, { nodeId: nodeArg(context) });
      if (context.json) context.printJson(result);
      else context.print(`${result.nodeId}: ${result.latencyMs} ms (${result.connection})`);
      return 0;
    },
  },
  {
    name: 'relay run',
    summary: 'Run a relay/bootstrap node (circuit relay v2, node lookup, gossip hub)',
    options: [
      {
        name: 'listen',
        type: 'list',
        description: `listen multiaddr (default ${DEFAULT_RELAY_LISTEN.join(', ')})`,
      },
      {
        name: 'max-reservations',
        type: 'string',
        description: `nodes the relay holds reservations for (env YA_RELAY_MAX_RESERVATIONS, default ${DEFAULT_RELAY_LIMITS.maxReservations})`,
      },
      {
        name: 'data-limit-mib',
        type: 'string',
        description: `MiB one relayed connection may carry each way (env YA_RELAY_DATA_LIMIT_MIB, default ${DEFAULT_RELAY_LIMITS.dataLimitBytes / 1024n / 1024n})`,
      },
      {
        name: 'duration-limit-s',
        type: 'string',
        description: `seconds one relayed connection may last (env YA_RELAY_DURATION_LIMIT_S, default ${DEFAULT_RELAY_LIMITS.durationLimitMs / 1000})`,
      },
    ],
    run: async (context) => {
      const listen =
        (context.options.listen as string[] | undefined)?.flatMap((l) => splitList(l)) ??
        DEFAULT_RELAY_LISTEN;
      const logger = createLogger({ level: context.config.logLevel, format: context.config.logFormat });
      const limit = (option: string, env: string): number | undefined =>
        parseCount(
          (context.options[option] as string | undefined) ?? process.env[env],
          `--${option} (${env})`,
          1,
        );
      const maxReservations = limit('max-reservations', 'YA_RELAY_MAX_RESERVATIONS');
      const dataMib = limit('data-limit-mib', 'YA_RELAY_DATA_LIMIT_MIB');
      const durationS = limit('duration-limit-s', 'YA_RELAY_DURATION_LIMIT_S');
      const limits: Partial<RelayLimits> = {
        ...(maxReservations === undefined ? {} : { maxReservations }),
        ...(dataMib === undefined ? {} : { dataLimitBytes: BigInt(dataMib) * 1024n * 1024n }),
        ...(durationS === undefined ? {} : { durationLimitMs: durationS * 1000 }),
      };
      const relay = new RelayServer({
        dataDir: context.config.dataDir,
        listen,
        logger,
        limits,
        // Offers and tombstones are judged as nodes judge them, so the relay forwards no invalid ones.
        validators: marketRelayChecks(DEFAULT_DISCOVERY_OPTIONS),
      });
      await relay.start();
      context.print(JSON.stringify({ nodeId: relay.nodeId, addresses: relay.addresses() }));
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await relay.stop();
      return 0;
    },
  },
];

/** The abuse counters as table rows: peers cut off, refusals, and each kind of offence seen. */
function guardRows(guard: NetStatus['guard']): [string, string | number][] {
  if (guard === undefined) return [];
  return [
    ['peers cut off (now / since start)', `${guard.banned} / ${guard.bans}`],
    ['streams refused', guard.streamsRefused],
    ['calls refused busy', guard.callsRefusedBusy],
    ['gossip throttled', guard.gossipThrottled],
    ['unfinished frame bytes', guard.bufferedBytes],
    ...Object.entries(guard.offences).map(([offence, n]): [string, number] => [`offence ${offence}`, n]),
  ];
}
