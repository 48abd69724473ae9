/**
 * Benchmarks report every figure beside a baseline measured in the same run, so the ratio means something on any
 * machine. A bench file exports `benchmarks: Benchmark[]`.
 */

export interface BenchResult {
  name: string;
  unit: string;
  value: number;
  baseline: number;
  baselineName: string;
  /** value / baseline. */
  ratio: number;
  /** Whether a smaller value is better (times) or a larger one (rates). */
  better: 'lower' | 'higher';
  /** Goal on the ratio, as text (for example `<= 2`), when the issue sets one. */
  goal?: string;
  goalMet?: boolean;
}

export interface Measurement {
  value: number;
  baseline: number;
  baselineName: string;
}

export interface Benchmark {
  name: string;
  unit: string;
  better: 'lower' | 'higher';
  goal?: { op: '<=' | '>=' | '<'; ratio: number } | { op: '<=' | '>=' | '<'; value: number };
  run(): Promise<Measurement | Measurement[]> | Measurement;
}

/** Times `work` `iterations` times after a warm-up; returns the median in milliseconds. */
export async function medianMs(work: () => unknown, iterations = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await work();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  }
  return percentile(samples, 50);
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function toResult(bench: Benchmark, m: Measurement, suffix = ''): BenchResult {
  const ratio = m.baseline === 0 ? Number.POSITIVE_INFINITY : m.value / m.baseline;
  const result: BenchResult = {
    name: bench.name + suffix,
    unit: bench.unit,
    value: m.value,
    baseline: m.baseline,
    baselineName: m.baselineName,
    ratio,
    better: bench.better,
  };
  if (bench.goal !== undefined) {
    const target = 'ratio' in bench.goal ? bench.goal.ratio : bench.goal.value;
    const seen = 'ratio' in bench.goal ? ratio : m.value;
    result.goal = `${'ratio' in bench.goal ? 'ratio' : 'value'} ${bench.goal.op} ${target}`;
    result.goalMet =
      bench.goal.op === '<=' ? seen <= target : bench.goal.op === '<' ? seen < target : seen >= target;
  }
  return result;
}
