// The history file: one entry per scheduled run, kept by the user (in a
// branch, with actions/cache, as an artifact), so that a trend per metric
// can be shown in the report and drawn as a page for GitHub Pages. Each entry
// holds the summary of every metric (median and its interval, mean, spread),
// not the raw samples: a nightly run for a year stays a small file.
//
//   {
//     "format": "vmstep-bench-history",
//     "version": 1,
//     "entries": [
//       { "date": "2025-01-31T03:00:00.000Z", "commit": "0a1b2c...", "ref": "refs/heads/main",
//         "image": "ghcr.io/acme/app:main",
//         "metrics": [ { "name": "wall time", "measure": "latency", "unit": "ms", "direction": "smaller",
//                        "n": 10, "median": 182.1, "lower": 181.0, "upper": 183.0, "mean": 182.4, "stddev": 1.2 } ] }
//     ]
//   }
//
// The file comes from wherever the workflow fetched it, so reading it is as
// strict and bounded as reading a baseline file: every malformed shape ends
// in one error naming where, never a crash.
import { MAX_SERIES } from './collect.js';
import { MAX_MEASURE_CHARS, MAX_NAME_CHARS, describeJson, isPlainObject } from './formats/common.js';
import { type Direction, type Metric, type MetricSeries, metricKey, metricLabel } from './metric.js';
import { summarize } from './stats/describe.js';
import { escapeMarkdown, formatPercent, formatValue } from './report/format.js';

export const HISTORY_FORMAT = 'vmstep-bench-history';
export const HISTORY_VERSION = 1;
/** Entries kept: the oldest go first beyond this (ten years of nightly runs). */
export const MAX_HISTORY_ENTRIES = 4000;
export const MAX_HISTORY_FILE_BYTES = 64 * 1024 * 1024;
const MAX_FACT_CHARS = 256;

export interface HistoryMetric extends Metric {
  n: number;
  median: number;
  /** The median's interval (95%), or the median itself where too few runs give one. */
  lower: number;
  upper: number;
  mean: number;
  stddev: number;
}

export interface HistoryEntry {
  /** ISO 8601 date of the run. */
  date: string;
  commit: string;
  ref: string;
  image: string;
  metrics: HistoryMetric[];
}

export interface History {
  format: typeof HISTORY_FORMAT;
  version: number;
  entries: HistoryEntry[];
}

export class HistoryFileError extends Error {
  constructor(source: string, problem: string) {
    super(`history file ${source}: ${problem}`);
    this.name = 'HistoryFileError';
  }
}

export function emptyHistory(): History {
  return { format: HISTORY_FORMAT, version: HISTORY_VERSION, entries: [] };
}

export function historyEntry(series: readonly MetricSeries[], facts: { date: Date; commit?: string; ref?: string; image?: string }): HistoryEntry {
  return {
    date: facts.date.toISOString(),
    commit: (facts.commit ?? '').slice(0, MAX_FACT_CHARS),
    ref: (facts.ref ?? '').slice(0, MAX_FACT_CHARS),
    image: (facts.image ?? '').slice(0, MAX_FACT_CHARS),
    metrics: series.map((s) => {
      const sum = summarize(s.values);
      return {
        name: s.name,
        measure: s.measure,
        unit: s.unit,
        direction: s.direction,
        n: sum.n,
        median: sum.median,
        lower: sum.medianInterval?.lower ?? sum.median,
        upper: sum.medianInterval?.upper ?? sum.median,
        mean: sum.mean,
        stddev: sum.stddev,
      };
    }),
  };
}

/** The history with `entry` added at the end, the oldest dropped beyond MAX_HISTORY_ENTRIES. */
export function appendHistory(history: History, entry: HistoryEntry): History {
  return { format: HISTORY_FORMAT, version: HISTORY_VERSION, entries: [...history.entries, entry].slice(-MAX_HISTORY_ENTRIES) };
}

export function serializeHistory(history: History): string {
  // One entry per line: a history kept in git diffs by run.
  const entries = history.entries.map((e) => `    ${JSON.stringify(e)}`).join(',\n');
  return `{\n  "format": ${JSON.stringify(history.format)},\n  "version": ${history.version},\n  "entries": [\n${entries}${entries ? '\n' : ''}  ]\n}\n`;
}

export function parseHistory(content: string | Uint8Array, source = 'history file'): History {
  const bytes = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
  if (bytes > MAX_HISTORY_FILE_BYTES) throw new HistoryFileError(source, `the file is ${bytes} bytes, over the ${MAX_HISTORY_FILE_BYTES}-byte limit: start a new one`);
  let text: string;
  try {
    text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch {
    throw new HistoryFileError(source, 'the file is not UTF-8 text');
  }
  if (text.trim() === '') throw new HistoryFileError(source, 'the file is empty: delete it and a run starts a new one');
  let json: unknown;
  try {
    json = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new HistoryFileError(source, `not valid JSON (${(err as Error).message.slice(0, 200)})`);
  }
  if (!isPlainObject(json) || json.format !== HISTORY_FORMAT) {
    throw new HistoryFileError(source, `not a vmstep history file (no "format": "${HISTORY_FORMAT}"): history-file takes the file vmstep keeps, not a results or metrics file`);
  }
  if (typeof json.version !== 'number' || !Number.isInteger(json.version) || json.version < 1) {
    throw new HistoryFileError(source, `"version" must be a whole number of 1 or more, found ${describeJson(json.version)}`);
  }
  if (json.version > HISTORY_VERSION) throw new HistoryFileError(source, `written by a newer vmstep (history version ${json.version}; this one reads up to ${HISTORY_VERSION}): update vmstep`);
  if (!Array.isArray(json.entries)) throw new HistoryFileError(source, `"entries" must be an array, found ${describeJson(json.entries)}`);
  if (json.entries.length > MAX_HISTORY_ENTRIES) throw new HistoryFileError(source, `${json.entries.length} entries, over the limit of ${MAX_HISTORY_ENTRIES}`);
  const entries = (json.entries as unknown[]).map((e, i) => readEntry(e, `entries[${i}]`, source));
  return { format: HISTORY_FORMAT, version: HISTORY_VERSION, entries };
}

function readEntry(value: unknown, where: string, source: string): HistoryEntry {
  const fail = (problem: string): never => {
    throw new HistoryFileError(source, `${where}${problem}`);
  };
  if (!isPlainObject(value)) return fail(` must be an object, found ${describeJson(value)}`);
  const text = (key: string, max: number, allowEmpty = true): string => {
    const v = value[key] ?? '';
    if (typeof v !== 'string') return fail(` "${key}" must be a string, found ${describeJson(v)}`);
    if (!allowEmpty && v.trim() === '') return fail(` "${key}" is empty`);
    if (v.length > max) return fail(` "${key}" is ${v.length} characters long, over ${max}`);
    return v;
  };
  const date = text('date', 64, false);
  if (Number.isNaN(Date.parse(date))) fail(` "date" ${JSON.stringify(date.slice(0, 40))} is not a date`);
  if (!Array.isArray(value.metrics)) return fail(` "metrics" must be an array, found ${describeJson(value.metrics)}`);
  if (value.metrics.length > MAX_SERIES) fail(` has ${value.metrics.length} metrics, over ${MAX_SERIES}`);
  const seen = new Set<string>();
  const metrics = (value.metrics as unknown[]).map((m, j): HistoryMetric => {
    const at = `${where}.metrics[${j}]`;
    if (!isPlainObject(m)) throw new HistoryFileError(source, `${at} must be an object, found ${describeJson(m)}`);
    const str = (key: string, max: number, allowEmpty: boolean): string => {
      const v = m[key] ?? (allowEmpty ? '' : undefined);
      if (typeof v !== 'string' || (!allowEmpty && v.trim() === '') || v.length > max) {
        throw new HistoryFileError(source, `${at} "${key}" must be a${allowEmpty ? '' : ' non-empty'} string of at most ${max} characters, found ${describeJson(v)}`);
      }
      return v;
    };
    const num = (key: string): number => {
      const v = m[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new HistoryFileError(source, `${at} "${key}" must be a finite number, found ${describeJson(v)}`);
      return v;
    };
    if (m.direction !== 'smaller' && m.direction !== 'bigger') throw new HistoryFileError(source, `${at} "direction" must be "smaller" or "bigger"`);
    const n = num('n');
    if (!Number.isInteger(n) || n < 1) throw new HistoryFileError(source, `${at} "n" must be a whole number of 1 or more, found ${n}`);
    const metric: HistoryMetric = {
      name: str('name', MAX_NAME_CHARS, false),
      measure: str('measure', MAX_MEASURE_CHARS, false),
      unit: str('unit', 64, true),
      direction: m.direction as Direction,
      n,
      median: num('median'),
      lower: num('lower'),
      upper: num('upper'),
      mean: num('mean'),
      stddev: num('stddev'),
    };
    const key = metricKey(metric);
    if (seen.has(key)) throw new HistoryFileError(source, `${at} repeats metric ${JSON.stringify(metric.name.slice(0, 80))}`);
    seen.add(key);
    return metric;
  });
  return { date, commit: text('commit', MAX_FACT_CHARS), ref: text('ref', MAX_FACT_CHARS), image: text('image', MAX_FACT_CHARS), metrics };
}

export interface TrendPoint {
  date: string;
  commit: string;
  median: number;
  lower: number;
  upper: number;
  n: number;
}

export interface Trend {
  metric: Metric;
  points: TrendPoint[];
}

/**
 * One trend per metric, in the order metrics first appear; the points in
 * entry order. A metric whose unit changed starts a trend of its own: its
 * numbers cannot share an axis with the old ones.
 */
export function historyTrends(history: History): Trend[] {
  const byKey = new Map<string, Trend>();
  for (const e of history.entries) {
    for (const m of e.metrics) {
      const key = `${metricKey(m)}\u0000${m.unit}`;
      let t = byKey.get(key);
      if (!t) {
        t = { metric: { name: m.name, measure: m.measure, unit: m.unit, direction: m.direction }, points: [] };
        byKey.set(key, t);
      }
      t.metric.direction = m.direction;
      t.points.push({ date: e.date, commit: e.commit, median: m.median, lower: m.lower, upper: m.upper, n: m.n });
    }
  }
  return [...byKey.values()];
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** The last points as a one-line text chart (▁▂▃▅▇), low to high. */
export function sparkline(values: readonly number[]): string {
  if (values.length === 0) return '';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => SPARKS[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * (SPARKS.length - 1))]).join('');
}

/** The trend section of the report and job summary: per metric the last runs' medians and the change from the previous run. */
export function renderTrendMarkdown(history: History, last = 20): string {
  const trends = historyTrends(history);
  if (trends.length === 0) return '';
  const lines = [
    `#### Trend over the last ${Math.min(last, history.entries.length)} of ${history.entries.length} runs in the history`,
    '',
    '| Metric | Runs | Previous | This run | Change | Trend (median, oldest → newest) |',
    '| :-- | --: | --: | --: | --: | :-- |',
  ];
  for (const t of trends.slice(0, 100)) {
    const shown = t.points.slice(-last);
    const now = shown.at(-1)!;
    const prev = shown.length >= 2 ? shown.at(-2)! : null;
    const change = prev && prev.median !== 0 ? formatPercent(((now.median - prev.median) / Math.abs(prev.median)) * 100) : '—';
    lines.push(
      `| ${escapeMarkdown(metricLabel(t.metric))} | ${t.points.length} | ${prev ? escapeMarkdown(formatValue(prev.median, t.metric.unit)) : '—'} | ${escapeMarkdown(formatValue(now.median, t.metric.unit))} | ${change} | ${sparkline(shown.map((p) => p.median))} |`,
    );
  }
  if (trends.length > 100) lines.push('', `_and ${trends.length - 100} more metrics: see the history page._`);
  return `${lines.join('\n')}\n`;
}
