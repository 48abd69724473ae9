/**
 * A service-mode runtime for tests (Golem's contract, provider.md §2.6–2.7): `deploy` answers
 * `startMode: "blocking"`, `start` serves the Runtime API on stdin/stdout through the project's codec; each
 * RunProcess runs its `bin` as a real host process in the workdir, its output and exit code sent back as
 * ProcessStatus events, and every run counts up the custom counter `golem.usage.custom.runs`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { serveRuntime } from '../../../src/execution/runtime-api/index.ts';

const argv = process.argv.slice(2);
let workdir = process.cwd();
const rest: string[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--workdir') workdir = argv[++i]!;
  else if (['--task-package', '--cpu-cores', '--mem-gib', '--storage-gib'].includes(argv[i]!)) i++;
  else rest.push(argv[i]!);
}

if (rest[0] === 'deploy') {
  mkdirSync(join(workdir, 'vol-data'), { recursive: true });
  process.stdout.write(
    `${JSON.stringify({ valid: { Ok: '' }, vols: [{ name: 'vol-data', path: '/data' }], startMode: 'blocking' })}\n`,
  );
} else if (rest[0] === 'start') {
  const children = new Map<number, ChildProcess>();
  let runs = 0;
  const empty = new Uint8Array();
  const server = serveRuntime(
    {
      hello: async () => '0.1.0',
      runProcess: async (run) => {
        const child = spawn(run.bin, run.args.slice(1), {
          cwd: join(workdir, 'vol-data'),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const pid = child.pid ?? -1;
        children.set(pid, child);
        runs++;
        void server.emitRuntimeStatus({ kind: 'counter', name: 'golem.usage.custom.runs', value: runs });
        const send = (stdout: Uint8Array, stderr: Uint8Array, running: boolean, returnCode: number) =>
          server.emitProcessStatus({ pid, running, returnCode, stdout, stderr });
        child.stdout?.on('data', (chunk: Buffer) => void send(chunk, empty, true, 0));
        child.stderr?.on('data', (chunk: Buffer) => void send(empty, chunk, true, 0));
        child.once('close', (code) => {
          children.delete(pid);
          void send(empty, empty, false, code ?? -1);
        });
        return pid;
      },
      killProcess: async ({ pid }) => {
        children.get(pid)?.kill('SIGKILL');
      },
      createNetwork: async () => undefined,
      shutdown: async () => {
        for (const child of children.values()) child.kill('SIGKILL');
        setImmediate(() => process.exit(0));
      },
    },
    process.stdin,
    process.stdout,
  );
  void server.done.then(() => process.exit(0));
} else if (rest[0] === 'offer-template') {
  process.stdout.write('{"properties":{},"constraints":""}\n');
} else if (rest[0] !== 'test') {
  process.stderr.write(`unknown command ${rest[0]}\n`);
  process.exit(2);
}
