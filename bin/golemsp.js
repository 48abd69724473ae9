#!/usr/bin/env node
// `golemsp`: the provider (daemon + provider agent) and its command line (src/agents/provider/cli.ts), started by the shared launcher.
import { launch } from './launch.js';

await launch(import.meta.url, '../src/agents/provider/cli.ts');
