/**
 * Runs the test suites with node:test. Suites are kept apart (after Lodestar): unit (one module, fakes allowed),
 * spec (vectors), e2e (real processes, sockets, databases). `node scripts/test.ts [unit|spec|e2e ...]`.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const suites: Record<string, string[]> = {
  unit: ['test/unit/**/*.test.ts'],
  spec: ['test/spec/**/*.test.ts'],
  e2e: ['test/e2e/**/*.test.ts'],
};

const requested = process.argv.slice(2);
const names = requested.length > 0 ? requested : Object.keys(suites);
const unknown = names.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}

const args = [
  '--test',
  `--test-concurrency=${Math.max(2, availableParallelism())}`,
  '--test-timeout=300000',
  // A test file that leaks a handle (a socket left open after a failure) ends with its tests instead of hanging the run.
  '--test-force-exit',
  '--test-reporter=spec',
  ...names.flatMap((name) => suites[name] ?? []),
];
const result = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'test' },
});
process.exit(result.status ?? 1);
