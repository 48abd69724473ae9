import type { ModuleFactory } from '../service/index.ts';
import { IdentityService } from './service.ts';

export { IdentityErrorCode } from './errors.ts';
export {
  decryptKeystore,
  encryptKeystore,
  type KdfChoice,
  type KeystoreV3,
  parseKeystore,
} from './keystore.ts';
export { identityMigrations } from './migrations.ts';
export { AUTOCONF_APPKEY_NAME, IdentityService } from './service.ts';

export const identityModule: ModuleFactory = {
  name: 'identity',
  create: (components) => new IdentityService(components),
};
