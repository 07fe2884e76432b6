// Benchmark mode's settings, as the user wrote them (BenchInput) and checked
// (BenchSettings). Both faces share these rules and words, as they share
// validateRunInput for the run itself; only the names differ (`--repeat` on
// the command line, input "repeat" in a workflow).
import { resolve } from 'node:path';
import {
  MAX_REPEAT,
  MAX_WARMUP,
  CORRECTIONS,
  minimumRunsForMannWhitney,
  type Correction,
  type MetricsFormat,
  type TestName,
  TEST_NAMES,
  METRICS_FORMATS,
  parseMetricsFormat,
  parseTestName,
  parseCorrection,
  parseThreshold,
  parseThresholdLines,
  unreachableSignificance,
} from '../bench/index.js';
import { AUTO_REPEAT_DEFAULTS, type AutoRepeat, perLookAlpha } from '../bench/sequential.js';
import { VmstepError } from './errors.js';
import type { OptionStyle } from './validate.js';
import { parseVolumes, type Volume } from './volumes.js';

export interface BenchInput {
  /** A run count, or "auto": min-repeat pairs, then more until every metric is decided. */
  repeat?: string | number;
  minRepeat?: string | number;
  maxRepeat?: string | number;
  warmup?: string | number;
  /** Image to run interleaved with the head image, as the baseline. */
  baselineImage?: string;
  /** A results file from an earlier bench run, as the baseline. */
  baselineFile?: string;
  /** `HOST_PATH:GUEST_PATH`: the baseline runs get these volumes instead of the head's (another checkout of the same code). */
  baselineVolumes?: string[];
  /** Guest path of a metrics file the benchmark writes in every run. */
  metricsFile?: string;
  metricsFormat?: string;
  test?: string;
  /** A default percentage and NAME=PERCENT lines (several strings: the CLI's repeated option). */
  threshold?: string | number | readonly string[];
  warnThreshold?: string | number | readonly string[];
  alpha?: string | number;
  correction?: string;
  failOnRegression?: boolean;
  /** Where the results, report and chart are written. */
  resultsDir?: string;
  /** A JSON file of earlier runs' results, kept by the user: this run is appended, the trend reported. */
  historyFile?: string;
}

export interface BenchSettings {
  /** Measured runs per arm; under repeat auto the most it may take (max-repeat). */
  repeat: number;
  /** repeat auto: its bounds; null for a fixed count. */
  autoRepeat: AutoRepeat | null;
  warmup: number;
  /**
   * image: a second arm run interleaved with the head; `image` null means the
   * head's image, `volumes` null the head's volumes.
   */
  baseline: { kind: 'image'; image: string | null; volumes: Volume[] | null } | { kind: 'file'; path: string } | null;
  metricsFile: string | null;
  metricsFormat: MetricsFormat;
  test: TestName;
  thresholdPercent: number;
  /** Thresholds for single metrics, by label or benchmark name. */
  thresholds: Record<string, number>;
  /** Worse beyond this but within the threshold is a warning; null for no warnings. */
  warnThresholdPercent: number | null;
  warnThresholds: Record<string, number>;
  alpha: number;
  correction: Correction;
  failOnRegression: boolean;
  resultsDir: string;
  /** The history file to append this run to; null for none. */
  historyFile: string | null;
}

export const BENCH_DEFAULTS = {
  repeat: 10,
  warmup: 1,
  test: 'mann-whitney' as TestName,
  thresholdPercent: 5,
  alpha: 0.05,
  correction: 'holm' as Correction,
  metricsFormat: 'auto' as MetricsFormat,
} as const;

const NAMES: Record<OptionStyle, Record<keyof BenchInput, string>> = {
  cli: {
    repeat: '--repeat',
    minRepeat: '--min-repeat',
    maxRepeat: '--max-repeat',
    warmup: '--warmup',
    baselineImage: '--baseline-image',
    baselineFile: '--baseline-file',
    baselineVolumes: '--baseline-volume',
    metricsFile: '--metrics-file',
    metricsFormat: '--metrics-format',
    test: '--test',
    threshold: '--threshold',
    warnThreshold: '--warn-threshold',
    alpha: '--alpha',
    correction: '--correction',
    failOnRegression: '--fail-on-regression',
    resultsDir: '--results-dir',
    historyFile: '--history-file',
  },
  action: {
    repeat: 'input "repeat"',
    minRepeat: 'input "min-repeat"',
    maxRepeat: 'input "max-repeat"',
    warmup: 'input "warmup"',
    baselineImage: 'input "baseline-image"',
    baselineFile: 'input "baseline-file"',
    baselineVolumes: 'input "baseline-volumes"',
    metricsFile: 'input "metrics-file"',
    metricsFormat: 'input "metrics-format"',
    test: 'input "test"',
    threshold: 'input "threshold"',
    warnThreshold: 'input "warn-threshold"',
    alpha: 'input "alpha"',
    correction: 'input "correction"',
    failOnRegression: 'input "fail-on-regression"',
    resultsDir: 'results directory',
    historyFile: 'input "history-file"',
  },
};

const present = (v: string | number | readonly string[] | undefined): v is string | number =>
  v !== undefined && (Array.isArray(v) ? v.some((x) => x.trim() !== '') : String(v).trim() !== '');

function count(v: string | number | undefined, name: string, fallback: number, min: number, max: number, orElse = ''): number {
  if (!present(v)) return fallback;
  const s = String(v).trim();
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new VmstepError(`${name} "${s}" is not a run count`, `give a whole number from ${min} to ${max}${orElse}`);
  }
  return Number(s);
}

export function validateBenchInput(input: BenchInput, ctx: { style: OptionStyle; cwd?: string; volumeBase?: string }): BenchSettings {
  const name = NAMES[ctx.style];
  const cwd = ctx.cwd ?? process.cwd();
  const auto = present(input.repeat) && String(input.repeat).trim().toLowerCase() === 'auto';
  let autoRepeat: AutoRepeat | null = null;
  if (auto) {
    const minRepeat = count(input.minRepeat, name.minRepeat, AUTO_REPEAT_DEFAULTS.minRepeat, 2, MAX_REPEAT);
    const maxRepeat = count(input.maxRepeat, name.maxRepeat, Math.max(AUTO_REPEAT_DEFAULTS.maxRepeat, minRepeat), 2, MAX_REPEAT);
    if (maxRepeat < minRepeat) throw new VmstepError(`${name.maxRepeat} ${maxRepeat} is below ${name.minRepeat} ${minRepeat}`, `raise ${name.maxRepeat} or lower ${name.minRepeat}`);
    autoRepeat = { minRepeat, maxRepeat };
  } else if (present(input.minRepeat) || present(input.maxRepeat)) {
    throw new VmstepError(`${present(input.minRepeat) ? name.minRepeat : name.maxRepeat} is set but ${name.repeat} is not auto`, `set ${name.repeat} to auto, or leave ${name.minRepeat} and ${name.maxRepeat} out`);
  }
  const repeat = autoRepeat ? autoRepeat.maxRepeat : count(input.repeat, name.repeat, BENCH_DEFAULTS.repeat, 1, MAX_REPEAT, ', or auto');
  const warmup = count(input.warmup, name.warmup, BENCH_DEFAULTS.warmup, 0, MAX_WARMUP);

  if (present(input.baselineImage) && present(input.baselineFile)) {
    throw new VmstepError(`${name.baselineImage} and ${name.baselineFile} are both set`, 'compare against one baseline: an image run in this job, or a results file from an earlier run');
  }
  const volumes = parseVolumes(input.baselineVolumes ?? [], ctx.volumeBase ? resolve(cwd, ctx.volumeBase) : cwd, name.baselineVolumes);
  if (volumes.length > 0 && present(input.baselineFile)) {
    throw new VmstepError(`${name.baselineVolumes} and ${name.baselineFile} are both set`, 'baseline volumes make a baseline run in this job; a results file is an earlier one: choose one');
  }
  const baseline: BenchSettings['baseline'] =
    present(input.baselineImage) || volumes.length > 0
      ? { kind: 'image', image: present(input.baselineImage) ? input.baselineImage.trim() : null, volumes: volumes.length > 0 ? volumes : null }
      : present(input.baselineFile)
        ? { kind: 'file', path: resolve(cwd, input.baselineFile.trim()) }
        : null;

  let metricsFile: string | null = null;
  if (present(input.metricsFile)) {
    metricsFile = input.metricsFile.trim();
    // One file per run, matched by its path: a glob could bring back several.
    if (/[*?[\]\0]/.test(metricsFile)) {
      throw new VmstepError(`${name.metricsFile} "${metricsFile}" holds a glob or NUL character`, 'give the path of the one file the benchmark writes, such as /work/bench.json');
    }
  }
  // The bench parsers' own messages name the choices too: say it once here,
  // in the words of this face, with the choices as the fix.
  const parsed = <T>(raw: string | number, what: (quoted: string) => string, fix: string, parse: (text: string) => T): T => {
    try {
      return parse(String(raw));
    } catch (err) {
      throw new VmstepError(what(JSON.stringify(String(raw).trim())), fix, { cause: err });
    }
  };
  const metricsFormat = present(input.metricsFormat)
    ? parsed(input.metricsFormat, (v) => `${name.metricsFormat} ${v} is not a metrics format`, `use one of ${METRICS_FORMATS.join(', ')}`, parseMetricsFormat)
    : BENCH_DEFAULTS.metricsFormat;
  const test = present(input.test) ? parsed(input.test, (v) => `${name.test} ${v} is not a test`, `use one of ${TEST_NAMES.join(', ')}`, parseTestName) : BENCH_DEFAULTS.test;
  const lines = (raw: BenchInput['threshold'], option: string) => {
    const all = raw === undefined ? [] : Array.isArray(raw) ? (raw as readonly string[]) : [String(raw)];
    return parsed(all.join('\n'), () => `${option} ${JSON.stringify(all.join('; ').trim())} is not a threshold`, 'write a percentage such as 5%, and NAME=PERCENT lines for single metrics', parseThresholdLines);
  };
  const threshold = lines(input.threshold, name.threshold);
  const warn = lines(input.warnThreshold, name.warnThreshold);
  const thresholdPercent = threshold.defaultPercent ?? BENCH_DEFAULTS.thresholdPercent;
  const warnThresholdPercent = warn.defaultPercent;
  if (warnThresholdPercent !== null && warnThresholdPercent >= thresholdPercent) {
    throw new VmstepError(`${name.warnThreshold} ${warnThresholdPercent}% is not below ${name.threshold} ${thresholdPercent}%`, `set ${name.warnThreshold} lower: it marks changes too small to fail`);
  }
  for (const [metric, percent] of Object.entries(warn.perMetric)) {
    const limit = threshold.perMetric[metric] ?? thresholdPercent;
    if (percent >= limit) {
      throw new VmstepError(`${name.warnThreshold} for ${JSON.stringify(metric)} (${percent}%) is not below its threshold ${limit}%`, `set its warn threshold lower: it marks changes too small to fail`);
    }
  }
  const alpha = present(input.alpha)
    ? parsed(input.alpha, (v) => `${name.alpha} ${v} is not a significance level`, 'give a number between 0 and 1 such as 0.05', parseAlpha)
    : BENCH_DEFAULTS.alpha;
  const correction = present(input.correction)
    ? parsed(input.correction, (v) => `${name.correction} ${v} is not a correction`, `use one of ${CORRECTIONS.join(', ')}`, parseCorrection)
    : BENCH_DEFAULTS.correction;
  // Refuse before any VM starts a comparison whose test cannot reach significance.
  // Under repeat auto the verdict works at alpha spent over the looks, and the most runs are max-repeat.
  if (baseline?.kind === 'image') {
    const level = autoRepeat ? perLookAlpha(alpha, autoRepeat) : alpha;
    const why = unreachableSignificance(test, level, repeat, repeat);
    if (why && autoRepeat) throw new VmstepError(`${name.maxRepeat} ${repeat} is too few for ${test} under ${name.repeat} auto: ${why} (alpha ${alpha} spread over ${autoRepeat.maxRepeat - autoRepeat.minRepeat + 1} looks)`, `raise ${name.maxRepeat}, or set ${name.test} to percentage`);
    if (why) throw new VmstepError(`${name.repeat} ${repeat} is too few for ${test}: ${why}`, runsFix(test, alpha, name));
  }

  return {
    repeat,
    autoRepeat,
    warmup,
    baseline,
    metricsFile,
    metricsFormat,
    test,
    thresholdPercent,
    thresholds: threshold.perMetric,
    warnThresholdPercent,
    warnThresholds: warn.perMetric,
    alpha,
    correction,
    failOnRegression: Boolean(input.failOnRegression),
    resultsDir: resolve(cwd, present(input.resultsDir) ? String(input.resultsDir) : 'vmstep-bench'),
    historyFile: present(input.historyFile) ? resolve(cwd, input.historyFile.trim()) : null,
  };
}

function parseAlpha(text: string): number {
  const t = text.trim();
  if (!/^(0?\.\d+|0|1)$/.test(t) || !(Number(t) > 0 && Number(t) < 1)) throw new Error(`alpha must be between 0 and 1, got ${JSON.stringify(text)}`);
  return Number(t);
}

/** The fix for too few runs: the fewest that can reach significance, or another test. */
export function runsFix(test: TestName, alpha: number, name: Record<keyof BenchInput, string> = NAMES.action): string {
  const need = test === 'mann-whitney' ? minimumRunsForMannWhitney(alpha) : 2;
  return `set ${name.repeat} to at least ${need}, or ${name.test} to percentage`;
}

/**
 * Settings given that change nothing: a comparison's (test, threshold,
 * fail-on-regression) without a baseline, a metrics format without a metrics
 * file, and, where benchmark mode is off (the action runs the command once),
 * all of them. One warning line each, or none. Only values other than the
 * defaults count: the runner passes action.yml's defaults for every input.
 */
export function idleBenchSettings(settings: BenchSettings, style: OptionStyle, benchMode = true): string[] {
  const name = NAMES[style];
  const comparison = [
    settings.test !== BENCH_DEFAULTS.test ? name.test : null,
    settings.thresholdPercent !== BENCH_DEFAULTS.thresholdPercent || Object.keys(settings.thresholds).length > 0 ? name.threshold : null,
    settings.warnThresholdPercent !== null || Object.keys(settings.warnThresholds).length > 0 ? name.warnThreshold : null,
    settings.alpha !== BENCH_DEFAULTS.alpha ? name.alpha : null,
    settings.correction !== BENCH_DEFAULTS.correction ? name.correction : null,
    settings.failOnRegression ? name.failOnRegression : null,
  ].filter((n): n is string => n !== null);
  const format = settings.metricsFormat !== BENCH_DEFAULTS.metricsFormat ? name.metricsFormat : null;
  const list = (names: string[]) => (names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`);
  const verb = (names: string[]) => (names.length === 1 ? 'does' : 'do');
  if (!benchMode) {
    const all = [...comparison, ...(format ? [format] : []), ...(settings.historyFile !== null ? [name.historyFile] : [])];
    if (all.length === 0) return [];
    return [`${list(all)} ${verb(all)} nothing outside benchmark mode; turn it on with input "repeat" over 1, "warmup", a baseline or "metrics-file", or remove ${all.length === 1 ? 'it' : 'them'}`];
  }
  const warnings: string[] = [];
  if (comparison.length > 0 && settings.baseline === null) {
    warnings.push(`${list(comparison)} ${verb(comparison)} nothing without a baseline to compare against; add ${name.baselineImage}, ${name.baselineVolumes} or ${name.baselineFile}, or leave ${comparison.length === 1 ? 'it' : 'them'} out`);
  }
  if (format && settings.metricsFile === null) warnings.push(`${format} does nothing without ${name.metricsFile}; add it, or leave ${format} out`);
  return warnings;
}
