/**
 * The payment drivers the daemon runs, one factory each: `erc20` (src/core/payment/erc20), which signs through
 * the identity service so that no key leaves it. Tests hand drivers to `PaymentService` directly.
 */
import { IdentityAddress } from '../model/identity.ts';
import type { CoreComponents } from '../service/index.ts';
import type { PaymentDriver } from './driver.ts';
import { createErc20Driver } from './erc20/index.ts';

export type DriverFactory = (components: CoreComponents) => PaymentDriver;

export const driverFactories: DriverFactory[] = [
  ({ db, logger, bus }) =>
    createErc20Driver({
      db,
      logger: logger.child('erc20'),
      sign: (address, digest) =>
        bus.call<string>(IdentityAddress.Sign, { nodeId: address.toLowerCase(), digest }),
    }),
];
