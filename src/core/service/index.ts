/**
 * The shape every long-lived part of the daemon has (after js-libp2p's services): it receives its
 * dependencies explicitly, and the daemon starts the parts in order and stops them in reverse.
 */
import type { FastifyInstance } from 'fastify';
import type { Bus } from '../bus/index.ts';
import type { NodeConfig } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import type { Logger } from '../log/index.ts';

export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A module's REST routes, mounted under `prefix` (for example `/market-api/v1`) behind app-key auth. */
export type RestPlugin = (app: FastifyInstance) => void | Promise<void>;

export interface RestRegistry {
  register(prefix: string, plugin: RestPlugin): void;
}

/** What the daemon hands every core module. */
export interface CoreComponents {
  logger: Logger;
  bus: Bus;
  db: Database;
  config: NodeConfig;
  rest: RestRegistry;
}

/** The caller of a REST request, resolved from its app-key (`GET /me` answers with it). */
export interface ApiIdentity {
  identity: string;
  name: string;
  role: string;
}

/**
 * How a core module joins the daemon: `src/core/daemon/modules.ts` lists the factories in start order
 * (identity before net before market …); the daemon creates each with the shared components.
 */
export interface ModuleFactory {
  readonly name: string;
  create(components: CoreComponents): Service;
}
