import { versionInfo } from '../../core/api/index.ts';
import type { Command } from '../command.ts';

export const commands: Command[] = [
  {
    name: 'version',
    summary: 'Show the version of this node',
    run: (context) => {
      const info = versionInfo();
      if (context.json) context.printJson(info);
      else context.print(`${info.current.name} (serves the yagna ${info.current.version} REST API)`);
      return 0;
    },
  },
];
