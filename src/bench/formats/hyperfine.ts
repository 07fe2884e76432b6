// hyperfine's --export-json: { "results": [ { "command", "mean", "stddev",
// "median", "min", "max", "times": [...], "exit_codes": [...],
// "parameters"?: {...} } ] }, times in seconds. Each command becomes one
// latency metric whose value is hyperfine's mean, the number hyperfine itself
// reports first. The statistical unit stays vmstep's run (one VM): runs
// inside one VM share its state, so they are not independent samples.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber } from './common.js';

/** Most entries of `times` read when `mean` is absent. */
const MAX_TIMES = 1_000_000;

export function looksLikeHyperfine(json: unknown): boolean {
  return isPlainObject(json) && Array.isArray(json.results) && (json.results.length === 0 || isPlainObject(json.results[0]) && 'command' in json.results[0]);
}

export interface HyperfineParse {
  metrics: MetricValue[];
  warnings: string[];
}

export function parseHyperfine(json: unknown, source: string): HyperfineParse {
  if (!isPlainObject(json) || !Array.isArray(json.results)) {
    throw new MetricsFileError(source, `hyperfine's --export-json has a "results" array at the top, found ${describeJson(json)} without one`);
  }
  const results: unknown[] = json.results;
  if (results.length === 0) throw new MetricsFileError(source, 'hyperfine exported no results');
  checkCount(results.length, source);
  const warnings: string[] = [];
  const commands = results.map((result, index) => {
    const where = `results[${index}]`;
    if (!isPlainObject(result)) throw new MetricsFileError(source, `${where} must be an object, found ${describeJson(result)}`);
    return readName(result.command, source, `${where} "command"`);
  });
  const metrics = results.map((entry, index): MetricValue => {
    const result = entry as Record<string, unknown>;
    const where = `results[${index}]`;
    let name = commands[index]!;
    const parameters = readParameters(result.parameters, source, where);
    if (parameters && commands.filter((c) => c === name).length > 1) name = `${name} (${parameters})`;
    const value = result.mean !== undefined ? readNumber(result.mean, source, `${where} (${quoteName(name)}) "mean"`) : meanOfTimes(result.times, source, where);
    if (value < 0) throw new MetricsFileError(source, `${where} (${quoteName(name)}) has a negative mean time`);
    if (Array.isArray(result.exit_codes) && result.exit_codes.some((code) => code !== 0)) {
      warnings.push(`${source}: hyperfine command ${quoteName(name)} had runs with a non-zero exit code`);
    }
    return { name, measure: 'latency', unit: 's', direction: 'smaller', value };
  });
  return { metrics, warnings };
}

/**
 * With --parameter-scan or --parameter-list and a fixed --command-name,
 * every result has the same command; the parameter values tell them apart.
 * They are added only to such repeated commands, so "seq {n}" stays "seq 1000".
 */
function readParameters(value: unknown, source: string, where: string): string | null {
  if (value === undefined || value === null) return null;
  if (!isPlainObject(value)) throw new MetricsFileError(source, `${where} "parameters" must be an object, found ${describeJson(value)}`);
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value).slice(0, 16)) {
    if (typeof v !== 'string' && typeof v !== 'number') {
      throw new MetricsFileError(source, `${where} parameter ${quoteName(key)} must be a string or number, found ${describeJson(v)}`);
    }
    parts.push(`${key}=${v}`);
  }
  return parts.length > 0 ? parts.join(', ') : null;
}

function meanOfTimes(times: unknown, source: string, where: string): number {
  if (!Array.isArray(times) || times.length === 0) {
    throw new MetricsFileError(source, `${where} has neither "mean" nor a non-empty "times" array`);
  }
  if (times.length > MAX_TIMES) throw new MetricsFileError(source, `${where} "times" has ${times.length} entries, over ${MAX_TIMES}`);
  let sum = 0;
  for (let i = 0; i < times.length; i++) sum += readNumber(times[i], source, `${where} "times"[${i}]`);
  return sum / times.length;
}
