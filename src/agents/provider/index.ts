/** The provider agent (`golemsp`): a library over the daemon's REST API, and its command line. */
export { type AgentOptions, type AgentStatus, BreakReason, ProviderAgent } from './agent.ts';
export { apiStatus, DaemonApi } from './api.ts';
export { applySettings, dataDirOf, main } from './cli.ts';
export { ProviderErrorCode } from './errors.ts';
export { formatUnits, linearCost, toUnits } from './money.ts';
export { flat, type NegotiationInput, negotiate, type Verdict } from './negotiator.ts';
export { type BuiltOffer, buildOffer } from './offer.ts';
export { discoverRuntimes, type RuntimeInfo } from './runtimes.ts';
export { DEFAULT_NEGOTIATION, paymentPlatforms, SettingsStore } from './settings.ts';
export { type StatusReport, statusReport } from './status.ts';
