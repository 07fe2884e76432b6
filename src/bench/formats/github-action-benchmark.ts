// github-action-benchmark's custom tools: `customSmallerIsBetter` and
// `customBiggerIsBetter` read the same JSON, an array of
//   { "name": s, "unit": s, "value": n, "range"?: s, "extra"?: s }
// and differ only in direction, which the file itself does not record. With
// `auto` the direction is guessed from the unit (rates are bigger-is-better).
import { type Direction, type MetricValue, guessDirection } from '../metric.js';
import { MetricsFileError, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber } from './common.js';

export function looksLikeGithubActionBenchmark(json: unknown): boolean {
  if (!Array.isArray(json) || json.length === 0) return false;
  const first: unknown = json[0];
  return isPlainObject(first) && 'name' in first && 'value' in first;
}

/**
 * The measure written for these metrics: github-action-benchmark has none,
 * so it is "value", which keeps the label to the benchmark's own name.
 */
export const GAB_MEASURE = 'value';

export function parseGithubActionBenchmark(json: unknown, source: string, direction: Direction | 'guess'): MetricValue[] {
  if (!Array.isArray(json)) {
    throw new MetricsFileError(
      source,
      `github-action-benchmark's custom format needs a JSON array of {"name", "unit", "value"} entries, found ${describeJson(json)}`,
    );
  }
  if (json.length === 0) throw new MetricsFileError(source, 'the array of benchmark entries is empty');
  checkCount(json.length, source);
  return json.map((entry: unknown, index): MetricValue => {
    const where = `entry ${index}`;
    if (!isPlainObject(entry)) throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
    const name = readName(entry.name, source, `${where} "name"`);
    const value = readNumber(entry.value, source, `${where} (${quoteName(name)}) "value"`, { allowString: true });
    let unit = '';
    if (entry.unit !== undefined && entry.unit !== null) {
      if (typeof entry.unit !== 'string') {
        throw new MetricsFileError(source, `${where} (${quoteName(name)}) "unit" must be a string, found ${describeJson(entry.unit)}`);
      }
      unit = entry.unit.slice(0, 64);
    }
    return { name, measure: GAB_MEASURE, unit, direction: direction === 'guess' ? guessDirection('', unit) : direction, value };
  });
}
