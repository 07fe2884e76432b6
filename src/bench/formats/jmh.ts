// JMH's -rf json: an array of { "benchmark", "mode", "params"?,
// "primaryMetric": { "score", "scoreError", "scoreUnit", ... },
// "secondaryMetrics": { "·gc.alloc.rate.norm": {...}, ... } }. The mode says
// which way is better: thrpt is operations per time (bigger), avgt, sample
// and ss are time per operation (smaller). Units are JMH's, such as
// "ops/s", "ns/op" or "B/op".
import { type MetricValue, guessDirection } from '../metric.js';
import { MetricsFileError, canonicalUnit, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber } from './common.js';

export function looksLikeJmh(json: unknown): boolean {
  if (!Array.isArray(json) || json.length === 0) return false;
  const first: unknown = json[0];
  return isPlainObject(first) && 'benchmark' in first && 'primaryMetric' in first;
}

const MODES: Record<string, Pick<MetricValue, 'measure' | 'direction'>> = {
  thrpt: { measure: 'throughput', direction: 'bigger' },
  avgt: { measure: 'latency', direction: 'smaller' },
  sample: { measure: 'latency', direction: 'smaller' },
  ss: { measure: 'latency', direction: 'smaller' },
};

function readScore(metric: unknown, source: string, where: string): { value: number; unit: string } {
  if (!isPlainObject(metric)) throw new MetricsFileError(source, `${where} must be an object with "score" and "scoreUnit", found ${describeJson(metric)}`);
  const value = readNumber(metric.score, source, `${where} "score"`);
  if (typeof metric.scoreUnit !== 'string' || metric.scoreUnit.trim() === '') throw new MetricsFileError(source, `${where} has no "scoreUnit"`);
  return { value, unit: canonicalUnit(metric.scoreUnit).slice(0, 64) };
}

export function parseJmh(json: unknown, source: string): MetricValue[] {
  if (!Array.isArray(json)) throw new MetricsFileError(source, `jmh: -rf json writes an array of benchmark results, found ${describeJson(json)}`);
  if (json.length === 0) throw new MetricsFileError(source, 'jmh: the array of results is empty');
  const out: MetricValue[] = [];
  json.forEach((entry: unknown, index) => {
    const where = `jmh: result ${index}`;
    if (!isPlainObject(entry)) throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
    let name = readName(entry.benchmark, source, `${where} "benchmark"`);
    if (isPlainObject(entry.params)) {
      const params = Object.entries(entry.params).slice(0, 16).map(([k, v]) => `${k}=${typeof v === 'string' || typeof v === 'number' ? v : describeJson(v)}`);
      if (params.length > 0) name = `${name} (${params.join(', ')})`;
    }
    const mode = typeof entry.mode === 'string' && Object.hasOwn(MODES, entry.mode) ? MODES[entry.mode]! : null;
    if (!mode) throw new MetricsFileError(source, `${where} (${quoteName(name)}) "mode" must be thrpt, avgt, sample or ss, found ${quoteName(String(entry.mode))}`);
    const primary = readScore(entry.primaryMetric, source, `${where} (${quoteName(name)}) "primaryMetric"`);
    out.push({ name, ...mode, ...primary });
    if (isPlainObject(entry.secondaryMetrics)) {
      for (const [key, metric] of Object.entries(entry.secondaryMetrics)) {
        // JMH prefixes profiler metrics with a middle dot: "·gc.alloc.rate".
        const measure = readName(key.replace(/^[·\u00b7]/, ''), source, `${where} secondary metric name`, 64);
        const score = readScore(metric, source, `${where} (${quoteName(name)}) secondary ${quoteName(measure)}`);
        out.push({ name, measure, direction: guessDirection(measure, score.unit), ...score });
      }
    }
    checkCount(out.length, source);
  });
  return out;
}
