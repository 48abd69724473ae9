import type { ModuleFactory } from '../service/index.ts';
import { VpnService } from './service.ts';

export { VpnBridge, type VpnBridgeOptions } from './bridge.ts';
export { VpnErrorCode } from './errors.ts';
export { classifyFrame, type FrameVerdict, macOfIp, wrapPacket } from './frames.ts';
export { NetworkRegistry, VPN_LIMITS } from './networks.ts';
export { VpnService } from './service.ts';

export const vpnModule: ModuleFactory = {
  name: 'vpn',
  create: (components) => new VpnService(components),
};
