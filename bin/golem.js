#!/usr/bin/env node
// `golem`: the requestor agent's command line (src/agents/requestor/cli.ts), started by the shared launcher.
import { launch } from './launch.js';

await launch(import.meta.url, '../src/agents/requestor/cli.ts');
