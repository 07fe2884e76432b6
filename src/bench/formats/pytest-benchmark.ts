// pytest-benchmark's --benchmark-json: { "machine_info", "commit_info",
// "benchmarks": [ { "name", "fullname", "stats": { "min", "max", "mean",
// "median", "stddev", "rounds", "ops", ... } } ], "datetime", "version" },
// times in seconds. Each test becomes a latency metric (its mean, the
// column pytest-benchmark sorts its own table by when comparing) named by
// its fullname, which includes the module and any parameters.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber } from './common.js';

export function looksLikePytestBenchmark(json: unknown): boolean {
  return isPlainObject(json) && Array.isArray(json.benchmarks) && 'machine_info' in json;
}

export function parsePytestBenchmark(json: unknown, source: string): MetricValue[] {
  if (!isPlainObject(json) || !Array.isArray(json.benchmarks)) {
    throw new MetricsFileError(source, `pytest-benchmark: --benchmark-json has a "benchmarks" array at the top, found ${describeJson(json)} without one`);
  }
  const benchmarks: unknown[] = json.benchmarks;
  if (benchmarks.length === 0) throw new MetricsFileError(source, 'pytest-benchmark: the "benchmarks" array is empty: did pytest collect any benchmark tests?');
  checkCount(benchmarks.length, source);
  return benchmarks.map((entry, index): MetricValue => {
    const where = `pytest-benchmark: benchmarks[${index}]`;
    if (!isPlainObject(entry)) throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
    const name = readName(entry.fullname ?? entry.name, source, `${where} "fullname"`);
    if (!isPlainObject(entry.stats)) throw new MetricsFileError(source, `${where} (${quoteName(name)}) has no "stats" object`);
    const value = readNumber(entry.stats.mean, source, `${where} (${quoteName(name)}) "stats.mean"`);
    if (value < 0) throw new MetricsFileError(source, `${where} (${quoteName(name)}) has a negative mean time`);
    return { name, measure: 'latency', unit: 's', direction: 'smaller', value };
  });
}
