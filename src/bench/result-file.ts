// The result file: every sample of every metric from one vmstep bench run,
// written at the end of a run and read back as `baseline-file` by a later
// one (for example restored with actions/cache from the default branch).
// Raw samples, not summaries, so the later run can apply any test. The file
// may come from anywhere the workflow could fetch it, so reading it is as
// strict and bounded as reading a guest's metrics file.
//
//   {
//     "format": "vmstep-bench-results",
//     "version": 1,
//     "createdAt": "2025-01-31T12:00:00.000Z",
//     "context": { "image": "ghcr.io/acme/app:main", "commit": "0a1b2c..." },
//     "metrics": [
//       { "name": "wall time", "measure": "latency", "unit": "ms",
//         "direction": "smaller", "values": [182.1, 181.7, ...] }
//     ]
//   }
import { MAX_SERIES } from './collect.js';
import { MAX_MEASURE_CHARS, MAX_NAME_CHARS, describeJson, isPlainObject } from './formats/common.js';
import { type MetricSeries, metricKey } from './metric.js';

export const RESULT_FILE_FORMAT = 'vmstep-bench-results';
export const RESULT_FILE_VERSION = 1;
/** Largest result file read: 1000 metrics of 1000 runs is about 20 MB of JSON; real files are far smaller. */
export const MAX_RESULT_FILE_BYTES = 32 * 1024 * 1024;
export const MAX_VALUES_PER_METRIC = 100_000;
const MAX_CONTEXT_ENTRIES = 32;
const MAX_CONTEXT_CHARS = 1024;

export interface ResultFile {
  format: typeof RESULT_FILE_FORMAT;
  version: number;
  createdAt: string;
  /** Free-form facts about the run (image, digest, commit, ref, runner); strings only. */
  context: Record<string, string>;
  metrics: MetricSeries[];
  /** How the runs were sampled: repeat asked for, runs each side took, why they stopped. Written, not read back. */
  stopping?: { repeat: number | 'auto'; runs: { baseline: number; head: number }; stoppedBecause: string; reason: string };
}

export class ResultFileError extends Error {
  readonly source: string;
  constructor(source: string, problem: string) {
    super(`baseline file ${source}: ${problem}`);
    this.name = 'ResultFileError';
    this.source = source;
  }
}

export function createResultFile(series: readonly MetricSeries[], context: Record<string, string> = {}, now = new Date()): ResultFile {
  return {
    format: RESULT_FILE_FORMAT,
    version: RESULT_FILE_VERSION,
    createdAt: now.toISOString(),
    context: { ...context },
    metrics: series.map((s) => ({ name: s.name, measure: s.measure, unit: s.unit, direction: s.direction, values: [...s.values] })),
  };
}

export function serializeResultFile(file: ResultFile): string {
  // One metric per line keeps diffs of committed baselines readable.
  const head = JSON.stringify({ format: file.format, version: file.version, createdAt: file.createdAt, context: file.context, ...(file.stopping ? { stopping: file.stopping } : {}) }, null, 2);
  const metrics = file.metrics.map((m) => `    ${JSON.stringify(m)}`).join(',\n');
  return `${head.slice(0, -2)},\n  "metrics": [\n${metrics}${metrics ? '\n' : ''}  ]\n}\n`;
}

function readString(value: unknown, source: string, where: string, max: number, allowEmpty = false): string {
  if (typeof value !== 'string') throw new ResultFileError(source, `${where} must be a string, found ${describeJson(value)}`);
  if (!allowEmpty && value.trim() === '') throw new ResultFileError(source, `${where} is empty`);
  if (value.length > max) throw new ResultFileError(source, `${where} is ${value.length} characters long, over the limit of ${max}`);
  return value;
}

export function parseResultFile(content: string | Uint8Array, source = 'baseline file'): ResultFile {
  const bytes = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
  if (bytes === 0) throw new ResultFileError(source, 'the file is empty: point baseline-file at a results file that an earlier vmstep bench run wrote');
  if (bytes > MAX_RESULT_FILE_BYTES) throw new ResultFileError(source, `the file is ${bytes} bytes, over the ${MAX_RESULT_FILE_BYTES}-byte limit`);
  let text: string;
  try {
    text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new ResultFileError(source, 'the file is not UTF-8 text');
  }
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    throw new ResultFileError(source, `not valid JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(json) || json.format !== RESULT_FILE_FORMAT) {
    throw new ResultFileError(
      source,
      `not a vmstep results file (no "format": "${RESULT_FILE_FORMAT}"): baseline-file takes the results file a vmstep bench run wrote, not a metrics file`,
    );
  }
  const version = json.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ResultFileError(source, `"version" must be a whole number of 1 or more, found ${describeJson(version)}`);
  }
  if (version > RESULT_FILE_VERSION) {
    throw new ResultFileError(
      source,
      `written by a newer vmstep (results format version ${version}; this vmstep reads up to ${RESULT_FILE_VERSION}): update vmstep, or regenerate the baseline with this version`,
    );
  }
  const createdAt = json.createdAt === undefined ? '' : readString(json.createdAt, source, '"createdAt"', 64, true);
  const context: Record<string, string> = {};
  if (json.context !== undefined) {
    if (!isPlainObject(json.context)) throw new ResultFileError(source, `"context" must be an object, found ${describeJson(json.context)}`);
    const entries = Object.entries(json.context);
    if (entries.length > MAX_CONTEXT_ENTRIES) throw new ResultFileError(source, `"context" has ${entries.length} entries, over ${MAX_CONTEXT_ENTRIES}`);
    for (const [k, v] of entries) {
      Object.defineProperty(context, k, {
        value: readString(v, source, `"context" entry ${JSON.stringify(k.slice(0, 40))}`, MAX_CONTEXT_CHARS, true),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  if (!Array.isArray(json.metrics)) throw new ResultFileError(source, `"metrics" must be an array, found ${describeJson(json.metrics)}`);
  if (json.metrics.length > MAX_SERIES) throw new ResultFileError(source, `${json.metrics.length} metrics, over the limit of ${MAX_SERIES}`);
  const seen = new Set<string>();
  const metrics = (json.metrics as unknown[]).map((entry, i): MetricSeries => {
    const where = `metrics[${i}]`;
    if (!isPlainObject(entry)) throw new ResultFileError(source, `${where} must be an object, found ${describeJson(entry)}`);
    const name = readString(entry.name, source, `${where} "name"`, MAX_NAME_CHARS);
    const measure = readString(entry.measure, source, `${where} "measure"`, MAX_MEASURE_CHARS);
    const unit = readString(entry.unit ?? '', source, `${where} "unit"`, 64, true);
    if (entry.direction !== 'smaller' && entry.direction !== 'bigger') {
      throw new ResultFileError(source, `${where} "direction" must be "smaller" or "bigger"`);
    }
    if (!Array.isArray(entry.values) || entry.values.length === 0) {
      throw new ResultFileError(source, `${where} "values" must be a non-empty array of numbers`);
    }
    if (entry.values.length > MAX_VALUES_PER_METRIC) {
      throw new ResultFileError(source, `${where} has ${entry.values.length} values, over ${MAX_VALUES_PER_METRIC}`);
    }
    const values = (entry.values as unknown[]).map((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new ResultFileError(source, `${where} "values"[${j}] must be a finite number, found ${describeJson(v)}`);
      }
      return v;
    });
    const series: MetricSeries = { name, measure, unit, direction: entry.direction, values };
    const key = metricKey(series);
    if (seen.has(key)) throw new ResultFileError(source, `${where} repeats metric ${JSON.stringify(name.slice(0, 80))} / ${JSON.stringify(measure)}`);
    seen.add(key);
    return series;
  });
  return { format: RESULT_FILE_FORMAT, version, createdAt, context, metrics };
}
