// BenchmarkDotNet's JSON exporter (JsonExporter.Full / Brief, the
// *-report-full.json or *-report-brief.json file): { "Title", "HostEnvironmentInfo",
// "Benchmarks": [ { "FullName", "Method", "Parameters", "Statistics": {
// "Mean", "Median", "StandardDeviation", "N", ... }, "Memory"?: {
// "BytesAllocatedPerOperation", ... } } ] }. Statistics are nanoseconds per
// operation; the mean is the column BenchmarkDotNet's own summary leads with.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber, readTopArray } from './common.js';

export function looksLikeBenchmarkDotNet(json: unknown): boolean {
  return isPlainObject(json) && Array.isArray(json.Benchmarks);
}

export function parseBenchmarkDotNet(json: unknown, source: string): MetricValue[] {
  const benchmarks = readTopArray(json, 'Benchmarks', source, 'benchmarkdotnet', '');
  checkCount(benchmarks.length * 2, source);
  const out: MetricValue[] = [];
  benchmarks.forEach((entry, index) => {
    const where = `benchmarkdotnet: Benchmarks[${index}]`;
    if (!isPlainObject(entry)) throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
    const name = readName(entry.FullName ?? entry.DisplayInfo, source, `${where} "FullName"`);
    if (!isPlainObject(entry.Statistics)) {
      throw new MetricsFileError(source, `${where} (${quoteName(name)}) has no "Statistics": the benchmark did not run (see BenchmarkDotNet's log)`);
    }
    out.push({ name, measure: 'latency', unit: 'ns', direction: 'smaller', value: readNumber(entry.Statistics.Mean, source, `${where} (${quoteName(name)}) "Statistics.Mean"`) });
    if (isPlainObject(entry.Memory) && entry.Memory.BytesAllocatedPerOperation !== undefined) {
      const bytes = readNumber(entry.Memory.BytesAllocatedPerOperation, source, `${where} (${quoteName(name)}) "Memory.BytesAllocatedPerOperation"`);
      out.push({ name, measure: 'memory', unit: 'bytes', direction: 'smaller', value: bytes });
    }
  });
  return out;
}
