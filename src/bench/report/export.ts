// Results written in the formats other tools read, so users can feed
// Bencher (`bencher run --adapter json --file ...`) or github-action-benchmark
// (`tool: customSmallerIsBetter` / `customBiggerIsBetter`) from a vmstep run.
// Each metric is reported at its median, the centre vmstep's verdicts use.
import { type MetricSeries, metricLabel, secondsPerUnit } from '../metric.js';
import { summarize } from '../stats/describe.js';

export interface BmfMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}
export type BmfResults = Record<string, Record<string, BmfMetric>>;

export interface GithubActionBenchmarkEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

/** Sets a key as an own data property, even "__proto__", which plain assignment would not. */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Bencher Metric Format: value = median, lower/upper = the median's
 * order-statistic 95 % interval, or min and max when there are too few runs
 * for one. Bencher's built-in latency measure is in nanoseconds, so latency
 * metrics in a time unit are converted; other measures keep their unit.
 */
export function toBencherMetricFormat(series: readonly MetricSeries[]): BmfResults {
  const out: BmfResults = {};
  for (const s of series) {
    if (s.values.length === 0) continue;
    const sum = summarize(s.values);
    const perUnit = secondsPerUnit(s.unit);
    const factor = s.measure === 'latency' && perUnit !== undefined ? perUnit * 1e9 : 1;
    const lower = sum.medianInterval?.lower ?? sum.min;
    const upper = sum.medianInterval?.upper ?? sum.max;
    if (!Object.hasOwn(out, s.name)) setOwn(out, s.name, {});
    setOwn(out[s.name]!, s.measure, { value: sum.median * factor, lower_value: lower * factor, upper_value: upper * factor });
  }
  return out;
}

const num = (n: number): string => String(Number(n.toPrecision(6)));

/**
 * github-action-benchmark reads one direction per file, so the metrics are
 * split: write `smallerIsBetter` for tool customSmallerIsBetter and
 * `biggerIsBetter` for customBiggerIsBetter.
 */
export function toGithubActionBenchmark(series: readonly MetricSeries[]): {
  smallerIsBetter: GithubActionBenchmarkEntry[];
  biggerIsBetter: GithubActionBenchmarkEntry[];
} {
  const smallerIsBetter: GithubActionBenchmarkEntry[] = [];
  const biggerIsBetter: GithubActionBenchmarkEntry[] = [];
  for (const s of series) {
    if (s.values.length === 0) continue;
    const sum = summarize(s.values);
    const entry: GithubActionBenchmarkEntry = {
      name: metricLabel(s),
      unit: s.unit,
      value: sum.median,
      range: `± ${num(sum.stddev)}`,
      extra: `median of ${sum.n} runs\nmean ${num(sum.mean)}\nmin ${num(sum.min)}, max ${num(sum.max)}`,
    };
    (s.direction === 'bigger' ? biggerIsBetter : smallerIsBetter).push(entry);
  }
  return { smallerIsBetter, biggerIsBetter };
}
