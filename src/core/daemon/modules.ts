import { activityModule } from '../activity/index.ts';
import { gftpModule } from '../gftp/index.ts';
import { gsbApiModule } from '../gsb-api/index.ts';
import { identityModule } from '../identity/index.ts';
import { marketModule } from '../market/index.ts';
import { netModule } from '../net/index.ts';
import { paymentModule } from '../payment/index.ts';
import type { ModuleFactory } from '../service/index.ts';
import { vpnModule } from '../vpn/index.ts';

/** Core modules in start order (stopped in reverse): identity first, every other module needs a node id. */
export const coreModules: ModuleFactory[] = [
  identityModule,
  netModule,
  marketModule,
  paymentModule,
  activityModule,
  gftpModule,
  gsbApiModule,
  vpnModule,
];
