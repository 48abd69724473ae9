import type { Bus } from '../bus/index.ts';
import type { Logger } from '../log/index.ts';
import type { CoreComponents, ModuleFactory, Service } from '../service/index.ts';
import { type GsbApiLimits, GsbBindings } from './bindings.ts';
import { GSB_API_PREFIX, gsbApiRoutes } from './rest.ts';

export { DEFAULT_GSB_API_LIMITS, type GsbApiLimits, GsbBindings, servicesIdOf } from './bindings.ts';
export { decodeFrame, encodeFrame } from './codec.ts';
export { GsbApiErrorCode } from './errors.ts';
export { GSB_API_PREFIX } from './rest.ts';

/** `/gsb-api/v1`: REST clients (golem-js's storage provider) serve bus addresses over a WebSocket. */
export class GsbApiService implements Service {
  readonly name = 'gsb-api';
  readonly bindings: GsbBindings;

  constructor(
    components: Pick<CoreComponents, 'bus' | 'logger' | 'rest'> & { limits?: Partial<GsbApiLimits> },
  ) {
    const { bus, logger }: { bus: Bus; logger: Logger } = components;
    this.bindings = new GsbBindings({ bus, logger, limits: components.limits });
    components.rest.register(GSB_API_PREFIX, gsbApiRoutes(this.bindings));
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.bindings.close();
  }
}

export const gsbApiModule: ModuleFactory = {
  name: 'gsb-api',
  create: (components) => new GsbApiService(components),
};
