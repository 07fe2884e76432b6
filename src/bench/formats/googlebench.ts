// Google Benchmark's JSON (--benchmark_format=json or --benchmark_out):
// { "context": {...}, "benchmarks": [ { "name", "run_name", "run_type":
// "iteration" | "aggregate", "aggregate_name"?, "iterations", "real_time",
// "cpu_time", "time_unit", "bytes_per_second"?, "items_per_second"?,
// user counters... } ] }. real_time is the latency, cpu_time its own
// measure, rates are throughputs. With --benchmark_repetitions the
// "mean" aggregate stands for the repetitions; without, the single
// iteration row. A benchmark that failed (error_occurred) is an error.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber, readTimeUnit, readTopArray } from './common.js';

export function looksLikeGoogleBenchmark(json: unknown): boolean {
  return isPlainObject(json) && Array.isArray(json.benchmarks) && isPlainObject(json.context);
}

const RATES: Record<string, Pick<MetricValue, 'measure' | 'unit'>> = {
  bytes_per_second: { measure: 'throughput', unit: 'bytes/s' },
  items_per_second: { measure: 'items-throughput', unit: 'items/s' },
};

export function parseGoogleBenchmark(json: unknown, source: string): MetricValue[] {
  const rows = readTopArray(json, 'benchmarks', source, 'googlebench', ': did --benchmark_filter match any benchmark?');
  checkCount(rows.length * 4, source);
  const checked = rows.map((row, index) => {
    const where = `googlebench: benchmarks[${index}]`;
    if (!isPlainObject(row)) throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(row)}`);
    const name = readName(row.run_name ?? row.name, source, `${where} "run_name"`);
    if (row.error_occurred === true) {
      const message = typeof row.error_message === 'string' ? row.error_message.slice(0, 200) : 'no message';
      throw new MetricsFileError(source, `${where} (${quoteName(name)}) failed: ${message}`);
    }
    return { row, name, where };
  });
  const hasMean = new Set(checked.filter((c) => c.row.run_type === 'aggregate' && c.row.aggregate_name === 'mean').map((c) => c.name));
  const out: MetricValue[] = [];
  for (const { row, name, where } of checked) {
    const keep = hasMean.has(name) ? row.run_type === 'aggregate' && row.aggregate_name === 'mean' : row.run_type !== 'aggregate';
    if (!keep) continue;
    const unit = readTimeUnit(row.time_unit ?? 'ns', source, `${where} (${quoteName(name)}) "time_unit"`);
    out.push({ name, measure: 'latency', unit, direction: 'smaller', value: readNumber(row.real_time, source, `${where} (${quoteName(name)}) "real_time"`) });
    out.push({ name, measure: 'cpu-time', unit, direction: 'smaller', value: readNumber(row.cpu_time, source, `${where} (${quoteName(name)}) "cpu_time"`) });
    for (const [key, rate] of Object.entries(RATES)) {
      if (row[key] !== undefined) out.push({ name, ...rate, direction: 'bigger', value: readNumber(row[key], source, `${where} (${quoteName(name)}) "${key}"`) });
    }
  }
  return out;
}
