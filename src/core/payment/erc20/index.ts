/**
 * The erc20 payment driver (GLM on EVM chains). The payment module creates it with the node's database, a logger
 * and a digest signer backed by the identity service, and talks to it through `PaymentDriver` only.
 */
import type { PaymentDriver } from '../driver.ts';
import { Erc20Driver, type Erc20DriverOptions } from './driver.ts';

export type { DevContracts } from './deploy.ts';
export { deployDevContracts } from './deploy.ts';
export { Erc20Driver, type Erc20DriverOptions } from './driver.ts';
export { Erc20ErrorCode } from './errors.ts';
export type { FaultHook, FaultPoint } from './manager.ts';
export { erc20Migrations } from './migrations.ts';
export {
  ANVIL_DEV_ADDRESS,
  ANVIL_DEV_PRIVATE_KEY,
  DEV_CONTRACTS,
  NETWORK_NAMES,
  type NetworkConfig,
  networkOfPlatform,
  platformName,
  resolveNetwork,
} from './networks.ts';
export { type DigestSigner, remoteAccount } from './signer.ts';

export function createErc20Driver(options: Erc20DriverOptions): PaymentDriver & Erc20Driver {
  return new Erc20Driver(options);
}
