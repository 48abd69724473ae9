// The one launcher of every command of this package (`yagna`, later `golemsp`, `golem`): each bin file names its
// TypeScript entry module, which exports `main(argv) -> exit code`. A Node that strips types (>= 22.18) imports
// and calls it; an older Node (the system Node 20 of many machines) re-executes the same bin file on the Node 24
// that the project installs from npm. Calling `main` (not relying on `import.meta.main`) is what makes an
// imported entry run at all.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REEXEC_MARK = 'GOLEM_TS_LAUNCHED_BY';

/** Whether this Node runs TypeScript by type stripping without flags. */
export function stripsTypes(version = process.versions.node) {
  const [major, minor] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 18);
}

/** `node_modules/.bin/node` of the package or of a project it is installed in (npm may hoist the `node` package). */
export function bundledNode(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '.bin', 'node');
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Runs `entry` (a path relative to the bin file `binUrl`) with this process's arguments and exits with its code.
 * @param {string} binUrl `import.meta.url` of the bin file
 * @param {string} entry e.g. `../src/cli/main.ts`
 */
export async function launch(binUrl, entry) {
  const args = process.argv.slice(2);
  if (stripsTypes()) {
    const module = await import(new URL(entry, binUrl).href);
    process.exitCode = await module.main(args);
    return;
  }
  const binPath = fileURLToPath(binUrl);
  const node = bundledNode(join(dirname(binPath), '..'));
  // A second old Node here would mean node_modules/.bin/node is not the one npm installs: stop instead of looping.
  if (node === undefined || process.env[REEXEC_MARK] !== undefined) {
    console.error(
      `${entryName(binPath)} needs Node.js >= 22.18 (found ${process.versions.node}); run \`npm install\` in the package first.`,
    );
    process.exit(1);
  }
  const child = spawn(node, [binPath, ...args], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_MARK]: process.versions.node },
  });
  // Ctrl-C reaches the child through the process group already; SIGTERM/SIGHUP sent to this pid are passed on,
  // so a supervisor stopping the launcher stops the command cleanly.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('error', (error) => {
    console.error(`cannot start ${node}: ${error.message}`);
    process.exit(1);
  });
  // Killed by a signal: the shell's convention, 128 + its number.
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
}

function entryName(binPath) {
  return binPath.split(/[\\/]/).pop().replace(/\.js$/, '');
}
