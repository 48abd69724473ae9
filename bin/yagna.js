#!/usr/bin/env node
// `yagna`: the daemon and its command line (src/cli/main.ts), started by the shared launcher.
import { launch } from './launch.js';

await launch(import.meta.url, '../src/cli/main.ts');
