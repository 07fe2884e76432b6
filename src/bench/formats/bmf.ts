// Bencher Metric Format (BMF) JSON, as documented by Bencher:
//   { "<benchmark>": { "<measure>": { "value": n, "lower_value"?: n, "upper_value"?: n } } }
// BMF carries no units or directions: Bencher attaches them to the measure.
// The built-in measures' units are filled in; others stay unit-less.
import { type MetricValue, guessDirection } from '../metric.js';
import {
  MAX_MEASURE_CHARS,
  MetricsFileError,
  checkCount,
  describeJson,
  isPlainObject,
  quoteName,
  readName,
  readNumber,
} from './common.js';

/** Units of Bencher's built-in measures (its docs: latency in ns, throughput in ops/s). */
export const BMF_MEASURE_UNITS: Readonly<Record<string, string>> = Object.freeze({
  latency: 'ns',
  throughput: 'ops/s',
  'build-time': 's',
  'file-size': 'bytes',
});

export function looksLikeBmf(json: unknown): boolean {
  if (!isPlainObject(json)) return false;
  const benchmarks = Object.values(json);
  if (benchmarks.length === 0) return false;
  const first = benchmarks[0];
  if (!isPlainObject(first)) return false;
  const measure = Object.values(first)[0];
  return isPlainObject(measure) && 'value' in measure;
}

export function parseBmf(json: unknown, source: string): MetricValue[] {
  if (!isPlainObject(json)) {
    throw new MetricsFileError(source, `Bencher Metric Format needs a JSON object of benchmarks at the top, found ${describeJson(json)}`);
  }
  const out: MetricValue[] = [];
  for (const [benchmark, measures] of Object.entries(json)) {
    const name = readName(benchmark, source, 'a benchmark name');
    if (!isPlainObject(measures)) {
      throw new MetricsFileError(source, `benchmark ${quoteName(name)} must map measure names to metrics, found ${describeJson(measures)}`);
    }
    const entries = Object.entries(measures);
    if (entries.length === 0) throw new MetricsFileError(source, `benchmark ${quoteName(name)} has no measures`);
    checkCount(out.length + entries.length, source);
    for (const [measureName, metric] of entries) {
      const measure = readName(measureName, source, `a measure name of benchmark ${quoteName(name)}`, MAX_MEASURE_CHARS);
      const where = `${quoteName(name)} / ${quoteName(measure)}`;
      if (!isPlainObject(metric)) {
        throw new MetricsFileError(source, `${where} must be an object with a "value", found ${describeJson(metric)}`);
      }
      if (!('value' in metric)) throw new MetricsFileError(source, `${where} has no "value"`);
      const value = readNumber(metric.value, source, `${where} "value"`);
      // Bounds are optional but, when present, must be numbers: a typo there is a bug worth reporting.
      if (metric.lower_value !== undefined) readNumber(metric.lower_value, source, `${where} "lower_value"`);
      if (metric.upper_value !== undefined) readNumber(metric.upper_value, source, `${where} "upper_value"`);
      const unit = Object.hasOwn(BMF_MEASURE_UNITS, measure) ? BMF_MEASURE_UNITS[measure]! : '';
      out.push({ name, measure, unit, direction: guessDirection(measure, unit), value });
    }
  }
  if (out.length === 0) throw new MetricsFileError(source, 'the Bencher Metric Format object has no benchmarks');
  return out;
}
