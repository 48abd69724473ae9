import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiServer } from '../api/index.ts';
import { LocalBus } from '../bus/index.ts';
import { databasePath, type NodeConfig } from '../config/index.ts';
import { ControlServer, controlSocketPath } from '../control/index.ts';
import { type Database, openDatabase } from '../db/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import type { CoreComponents, ModuleFactory, Service } from '../service/index.ts';
import { coreModules } from './modules.ts';

export { coreModules } from './modules.ts';

export const DAEMON_INFO_FILE = 'daemon.json';

/** What a running daemon writes to its data dir, for the CLI and for tests. */
export interface DaemonInfo {
  pid: number;
  apiUrl: string;
  nodeId: string;
  controlSocket: string;
  startedAt: string;
}

export interface DaemonOptions {
  logger?: Logger;
  modules?: ModuleFactory[];
}

/**
 * One node: the database, the bus, the core modules in order, the REST server and the control socket.
 * `stop()` undoes `start()` in reverse; in-flight REST requests finish first.
 */
export class Daemon {
  readonly config: NodeConfig;
  readonly logger: Logger;
  readonly bus: LocalBus;
  #modules: ModuleFactory[];
  #db: Database | undefined;
  #api: ApiServer | undefined;
  #control: ControlServer | undefined;
  #services: Service[] = [];
  #info: DaemonInfo | undefined;

  constructor(config: NodeConfig, options: DaemonOptions = {}) {
    this.config = config;
    this.logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
    this.bus = new LocalBus({ logger: this.logger });
    this.#modules = options.modules ?? coreModules;
  }

  get info(): DaemonInfo | undefined {
    return this.#info;
  }

  async start(): Promise<DaemonInfo> {
    const log = this.logger.child('daemon');
    try {
      this.#control = new ControlServer({
        path: controlSocketPath(this.config.dataDir),
        bus: this.bus,
        logger: this.logger,
      });
      this.#db = openDatabase(databasePath(this.config));
      await this.#control.start();
      this.#api = new ApiServer({ bus: this.bus, logger: this.logger, config: this.config });
      // A taken REST port fails the start here, before any module (net above all) goes to work.
      await this.#api.checkAddress();
      const components: CoreComponents = {
        logger: this.logger,
        bus: this.bus,
        db: this.#db,
        config: this.config,
        rest: this.#api,
      };
      for (const factory of this.#modules) {
        const service = factory.create(components);
        await service.start();
        this.#services.push(service);
        log.debug('module started', { module: factory.name });
      }
      const url = await this.#api.listen();
      this.#info = {
        pid: process.pid,
        apiUrl: url.origin,
        nodeId: this.bus.nodeId ?? '',
        controlSocket: controlSocketPath(this.config.dataDir),
        startedAt: new Date().toISOString(),
      };
      writeFileSync(join(this.config.dataDir, DAEMON_INFO_FILE), `${JSON.stringify(this.#info, null, 2)}\n`, {
        mode: 0o600,
      });
      log.info('daemon ready', {
        nodeId: this.#info.nodeId,
        api: this.#info.apiUrl,
        dataDir: this.config.dataDir,
      });
      return this.#info;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    const log = this.logger.child('daemon');
    if (this.#info !== undefined) rmSync(join(this.config.dataDir, DAEMON_INFO_FILE), { force: true });
    this.#info = undefined;
    await this.#api?.close().catch((error) => log.warn('REST server did not close cleanly', { error }));
    for (const service of this.#services.splice(0).reverse()) {
      await service
        .stop()
        .catch((error) => log.warn('module did not stop cleanly', { module: service.name, error }));
    }
    await this.#control?.stop();
    this.#db?.close();
    this.#api = undefined;
    this.#control = undefined;
    this.#db = undefined;
    log.info('daemon stopped');
  }
}
