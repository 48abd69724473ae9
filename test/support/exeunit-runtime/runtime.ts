/**
 * A small runtime for tests that follows Golem's supervisor → runtime CLI contract in process mode
 * (`--workdir <wd> [--task-package <p>] deploy|start|run --entrypoint <e> -- <args>|offer-template|test`).
 * `deploy` prints three volumes (`/golem/input`, `/golem/output`, `/golem/work`) and keeps the deploy flags it got; `run` runs the entry point
 * as a real host process in the work volume, with `GOLEM_VOL_<NAME>` pointing at each volume's directory.
 * It is a real process, not a mock of the supervisor; the WASI and VM runtimes follow the same contract.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VOLUMES = [
  { name: 'vol-input', path: '/golem/input' },
  { name: 'vol-output', path: '/golem/output' },
  { name: 'vol-work', path: '/golem/work' },
];

const argv = process.argv.slice(2);
let workdir = process.cwd();
let taskPackage: string | undefined;
const rest: string[] = [];
/** Golem's deploy flags as received, written to `<workdir>/deploy-args.json` for tests to read. */
const deployArgs: Record<string, string> = {};
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i]!;
  if (arg === '--workdir') workdir = argv[++i]!;
  else if (arg === '--task-package') taskPackage = argv[++i];
  else if (arg === '--volume-override' || arg === '--hostname') deployArgs[arg.slice(2)] = argv[++i]!;
  else if (['--cpu-cores', '--mem-gib', '--storage-gib'].includes(arg)) i++;
  else rest.push(arg);
}
const [command, ...args] = rest;
const separator = args.indexOf('--');
const after = separator < 0 ? [] : args.slice(separator + 1);

switch (command) {
  case 'offer-template':
    process.stdout.write(
      `${JSON.stringify({ properties: { 'golem.runtime.name': 'test-runtime' }, constraints: '' })}\n`,
    );
    break;
  case 'test':
    break;
  case 'deploy': {
    for (const vol of VOLUMES) mkdirSync(join(workdir, vol.name), { recursive: true });
    writeFileSync(join(workdir, 'deploy-args.json'), JSON.stringify(deployArgs));
    const note =
      taskPackage === undefined ? 'no package' : `package ${readFileSync(taskPackage).length} bytes`;
    process.stdout.write(
      `deploying\n${JSON.stringify({ valid: { Ok: note }, vols: VOLUMES, startMode: 'empty' })}\n`,
    );
    break;
  }
  case 'start':
    process.stdout.write(`started ${after.join(' ')}\n`);
    break;
  case 'run': {
    const entry = args[args.indexOf('--entrypoint') + 1];
    if (entry === undefined) {
      process.stderr.write('run needs --entrypoint\n');
      process.exit(2);
    }
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    for (const vol of VOLUMES) env[`GOLEM_VOL_${vol.name.slice(4).toUpperCase()}`] = join(workdir, vol.name);
    const child = spawn(entry, after, { cwd: join(workdir, 'vol-work'), stdio: 'inherit', env });
    child.once('error', (error) => {
      process.stderr.write(`${error.message}\n`);
      process.exit(127);
    });
    child.once('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
    for (const name of ['SIGTERM', 'SIGINT'] as const) process.on(name, () => child.kill(name));
    break;
  }
  default:
    process.stderr.write(`unknown command ${command}\n`);
    process.exit(2);
}
