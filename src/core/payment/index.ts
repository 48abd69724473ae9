import type { ModuleFactory } from '../service/index.ts';
import { driverFactories } from './drivers.ts';
import { PaymentService } from './service.ts';

export { formatAmount, parseAmount, TOKEN_DECIMALS } from './amount.ts';
export type * from './driver.ts';
export { type DriverFactory, driverFactories } from './drivers.ts';
export { PaymentErrorCode } from './errors.ts';
export { DEFAULT_PEER_LIMITS, type PeerLimits } from './limits.ts';
export { paymentMigrations } from './migrations.ts';
export { PaymentService, type PaymentServiceOptions } from './service.ts';

export const paymentModule: ModuleFactory = {
  name: 'payment',
  create: (components) =>
    new PaymentService(components, { drivers: driverFactories.map((factory) => factory(components)) }),
};
