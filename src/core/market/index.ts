import type { ModuleFactory } from '../service/index.ts';
import { MarketService } from './service.ts';

export type { MarketGate, MarketGatePoint } from './agreement-protocol.ts';
export { AGREEMENT_TRANSITIONS } from './agreements.ts';
export {
  DEFAULT_DISCOVERY_OPTIONS,
  type DiscoveryOptions,
  OfferDiscovery,
  offerSigningMessage,
  unsubscribeSigningMessage,
} from './discovery.ts';
export { MarketErrorCode } from './errors.ts';
export { marketMigrations } from './migrations.ts';
export { marketRelayChecks, offerGossipVerdict, tombstoneGossipVerdict } from './offer-check.ts';
export { MarketService, type MarketServiceOptions, SUBSCRIPTION_TTL_MS } from './service.ts';

export const marketModule: ModuleFactory = {
  name: 'market',
  create: (components) => new MarketService(components),
};
