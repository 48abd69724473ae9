import type { Command } from '../command.ts';
import { commands as appKey } from './app-key.ts';
import { commands as devnet } from './devnet.ts';
import { commands as gftp } from './gftp.ts';
import { commands as id } from './id.ts';
import { commands as image } from './image.ts';
import { commands as market } from './market.ts';
import { commands as marketListings } from './market-listings.ts';
import { commands as net } from './net.ts';
import { commands as payment } from './payment.ts';
import { commands as service } from './service.ts';
import { commands as standards } from './standards.ts';
import { commands as version } from './version.ts';

/** Every command group of the CLI; a group is one file of `src/cli/commands`. */
export const commandGroups: Command[][] = [
  service,
  id,
  appKey,
  net,
  market,
  marketListings,
  payment,
  standards,
  version,
  gftp,
  image,
  devnet,
];
