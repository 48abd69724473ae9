export { DEFAULT_CALL_TIMEOUT_MS, isLocalTopic, LocalBus, type LocalBusOptions } from './bus.ts';
export { BusErrorCode } from './errors.ts';
export { MemoryNetwork } from './memory-network.ts';
export * from './types.ts';
