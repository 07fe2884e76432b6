// Gathers the metric values of many runs into one series per metric. Runs
// come from the guest, so a benchmark that changes a unit between runs, or
// leaves a metric out of some, is reported rather than silently averaged.
import { type MetricSeries, type MetricValue, metricKey, metricLabel } from './metric.js';

/** Most distinct metrics across all runs of one arm. */
export const MAX_SERIES = 1000;

export interface CollectedSeries {
  series: MetricSeries[];
  warnings: string[];
}

/** `runs[i]` holds the metric values of measured run i (warm-up runs already left out). */
export function collectSeries(runs: readonly (readonly MetricValue[])[], armName = 'head'): CollectedSeries {
  const byKey = new Map<string, MetricSeries & { runs: number[] }>();
  runs.forEach((values, run) => {
    for (const v of values) {
      if (!Number.isFinite(v.value)) {
        throw new Error(`${armName} run ${run + 1}: metric ${JSON.stringify(metricLabel(v))} is ${v.value}, not a finite number`);
      }
      const key = metricKey(v);
      let s = byKey.get(key);
      if (!s) {
        if (byKey.size >= MAX_SERIES) {
          throw new Error(`${armName} runs produced more than ${MAX_SERIES} distinct metrics: check that benchmark names do not include run-specific text such as timestamps`);
        }
        s = { name: v.name, measure: v.measure, unit: v.unit, direction: v.direction, values: [], runs: [] };
        byKey.set(key, s);
      } else if (s.unit !== v.unit) {
        throw new Error(
          `${armName} run ${run + 1}: metric ${JSON.stringify(metricLabel(v))} is in ${JSON.stringify(v.unit)}, ` +
            `but earlier runs used ${JSON.stringify(s.unit)}: the benchmark must report each metric in one unit`,
        );
      }
      s.values.push(v.value);
      s.runs.push(run);
    }
  });
  const warnings: string[] = [];
  const series = [...byKey.values()].map(({ runs: present, ...s }) => {
    if (present.length < runs.length) {
      const missing = runs.map((_, i) => i).filter((i) => !present.includes(i));
      warnings.push(
        `${armName}: metric ${JSON.stringify(metricLabel(s))} is missing from run${missing.length > 1 ? 's' : ''} ${missing
          .slice(0, 10)
          .map((i) => i + 1)
          .join(', ')}${missing.length > 10 ? ', ...' : ''} (its statistics use the ${present.length} runs that have it)`,
      );
    }
    return s;
  });
  return { series, warnings };
}
