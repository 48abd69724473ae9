#!/usr/bin/env node
// Entry shim: runs the TypeScript CLI on a Node that strips types (>= 22.18). When started by an older
// system Node, it re-executes itself on the Node 24 that the project installs from npm.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
const supported = major > 22 || (major === 22 && minor >= 18);

if (supported) {
  await import(main);
} else {
  const bundled = join(root, 'node_modules', '.bin', 'node');
  if (!existsSync(bundled)) {
    console.error(
      `yagna needs Node.js >= 22.18 (found ${process.versions.node}); run \`npm install\` first.`,
    );
    process.exit(1);
  }
  const child = spawn(bundled, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the process group already; SIGTERM/SIGHUP sent to this pid are passed on,
  // so a supervisor stopping the shim stops the daemon cleanly.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
}
