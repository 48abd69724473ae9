import { Daemon } from '../../core/daemon/index.ts';
import type { Command } from '../command.ts';

export const commands: Command[] = [
  {
    name: 'service run',
    summary: 'Run the daemon (REST API, identity, net, market); stops cleanly on SIGINT/SIGTERM',
    options: [
      { name: 'api-allow-origin', type: 'list', description: 'CORS origin allowed for every app-key' },
      { name: 'net-listen', type: 'list', description: 'libp2p listen multiaddr' },
      { name: 'net-relay', type: 'list', description: 'relay/bootstrap multiaddr' },
      { name: 'net-disabled', type: 'boolean', description: 'run without network' },
      { name: 'net-neighbours', type: 'string', description: 'direct peers kept for gossip (default 8)' },
    ],
    run: async (context) => {
      const daemon = new Daemon(context.config);
      await daemon.start();
      await new Promise<void>((resolve) => {
        const onSignal = (signal: string) => {
          daemon.logger.child('daemon').info('stopping', { signal });
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
      await daemon.stop();
      return 0;
    },
  },
];
