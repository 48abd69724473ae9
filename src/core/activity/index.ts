import type { ModuleFactory } from '../service/index.ts';
import { ActivityService } from './service.ts';

export {
  DEFAULT_EXE_UNIT_PATH,
  loadDescriptors,
  parseDescriptorFile,
  type RuntimeDescriptor,
} from '../model/exe-unit-descriptor.ts';
export { ActivityErrorCode } from './errors.ts';
export { activityMigrations } from './migrations.ts';
export {
  type ActivityLimits,
  ActivityService,
  type ActivityServiceOptions,
  DEFAULT_ACTIVITY_LIMITS,
} from './service.ts';

export const activityModule: ModuleFactory = {
  name: 'activity',
  create: (components) => new ActivityService(components, { exeUnitPath: components.config.exeUnitPath }),
};
