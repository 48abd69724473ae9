/**
 * The payment drivers the daemon runs, one factory each. The `erc20` driver (src/core/payment/erc20, built
 * beside this module) is listed here when it joins; tests hand drivers to `PaymentService` directly.
 */
import type { CoreComponents } from '../service/index.ts';
import type { PaymentDriver } from './driver.ts';

export type DriverFactory = (components: CoreComponents) => PaymentDriver;

export const driverFactories: DriverFactory[] = [];
