// pytest-benchmark's --benchmark-json: { "machine_info", "commit_info",
// "benchmarks": [ { "name", "fullname", "stats": { "min", "max", "mean",
// "median", "stddev", "rounds", "ops", ... } } ], "datetime", "version" },
// times in seconds. Each test becomes a latency metric (its mean, the
// column pytest-benchmark sorts its own table by when comparing) named by
// its fullname, which includes the module and any parameters.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, describeJson, isPlainObject, quoteName, readName, readNumber, readTopArray } from './common.js';

export function looksLikePytestBenchmark(json: unknown): boolean {
  return isPlainObject(json) && Array.isArray(json.benchmarks) && 'machine_info' in json;
}

export function parsePytestBenchmark(json: unknown, source: string): MetricValue[] {
  const benchmarks = readTopArray(json, 'benchmarks', source, 'pytest-benchmark', ': did pytest collect any benchmark tests?');
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
