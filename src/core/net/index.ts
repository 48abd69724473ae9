import type { ModuleFactory } from '../service/index.ts';
import { NetService } from './service.ts';

export { BUS_PROTOCOL } from './bus-protocol.ts';
export { encodeFrame, FrameDecoder, MAX_FRAME_BYTES } from './codec.ts';
export { addressInUse, NetErrorCode } from './errors.ts';
export { createHost, DEFAULT_RELAY_LIMITS, type Host, type RelayLimits } from './host.ts';
export { nodeIdOfPeer } from './ids.ts';
export { netMigrations } from './migrations.ts';
export { DEFAULT_PEER_LIMITS, type GuardCounters, PeerGuard, type PeerLimits } from './peer-guard.ts';
export { DEFAULT_RELAY_LISTEN, type RelayGossipCheck, type RelayOptions, RelayServer } from './relay.ts';
export { GOSSIP_PREFIX, NetService, type NetServiceOptions } from './service.ts';

export const netModule: ModuleFactory = {
  name: 'net',
  create: (components) => new NetService(components),
};
