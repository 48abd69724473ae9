import type { ModuleFactory } from '../service/index.ts';
import { GftpService } from './service.ts';

export {
  DEFAULT_GFTP_LIMITS,
  type GftpLimits,
  GftpService,
  type GftpServiceOptions,
  hashFile,
} from './service.ts';

export const gftpModule: ModuleFactory = {
  name: 'gftp',
  create: (components) => new GftpService(components),
};
