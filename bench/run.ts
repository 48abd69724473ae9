/**
 * `npm run bench [filter]`: runs every `bench/*.bench.ts`, prints a table (figure, baseline, ratio, goal) and writes
 * the machine-readable results to `bench/results/latest.json`.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Benchmark, type BenchResult, toResult } from './harness.ts';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .sort();

const results: BenchResult[] = [];
const failures: { name: string; error: string }[] = [];
for (const file of files) {
  const module = (await import(pathToFileURL(join(here, file)).href)) as { benchmarks?: Benchmark[] };
  for (const bench of module.benchmarks ?? []) {
    if (filter !== undefined && !bench.name.includes(filter)) continue;
    process.stderr.write(`bench: ${bench.name} …\n`);
    try {
      const measured = await bench.run();
      const list = Array.isArray(measured) ? measured : [measured];
      for (const [i, m] of list.entries())
        results.push(toResult(bench, m, list.length > 1 ? ` #${i + 1}` : ''));
    } catch (error) {
      failures.push({ name: bench.name, error: error instanceof Error ? error.message : String(error) });
    }
  }
}

const fmt = (n: number) =>
  Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
const rows = results.map((r) => [
  r.name,
  `${fmt(r.value)} ${r.unit}`,
  `${fmt(r.baseline)} ${r.unit} (${r.baselineName})`,
  r.ratio.toFixed(2),
  r.goal === undefined ? '' : `${r.goal} ${r.goalMet ? 'met' : 'NOT met'}`,
]);
const header = ['benchmark', 'value', 'baseline', 'ratio', 'goal'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
if (results.length === 0) console.log('(no benchmarks ran)');
for (const failure of failures) console.log(`FAILED ${failure.name}: ${failure.error}`);

const out = join(here, 'results', 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, results, failures }, null, 2)}\n`,
);
console.log(`\nresults: ${join('bench', 'results', 'latest.json')}`);
process.exit(failures.length > 0 ? 1 : 0);
