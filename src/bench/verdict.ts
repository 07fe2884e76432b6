// The verdict per metric: did head get worse than baseline by more than the
// threshold, with enough evidence for the chosen test? Three tests, named as
// the user configures them:
//   percentage    the change of medians beyond the threshold, no significance
//                 test (what github-action-benchmark does, but on medians);
//   t-test        Welch's t-test on the means, p < alpha, and the change of
//                 means beyond the threshold;
//   mann-whitney  Mann-Whitney U on the ranks, p < alpha, and the change of
//                 medians beyond the threshold (robust to outlier runs).
// A metric whose run-to-run noise (coefficient of variation) is above half
// the threshold is called out: a threshold inside the noise either misses
// real regressions or fires on nothing.
//
// With several metrics the p-values are one family: by default Holm's
// correction keeps the chance of any false alarm among them at alpha, where
// testing each at alpha would raise it with every metric added. Thresholds
// may differ per metric; a warn threshold below the threshold marks smaller
// significant worsenings as warnings, which annotate and never fail.
import { parseChoice } from './choice.js';
import { bootstrapTwoSampleInterval, relativeMedianChangeInPlace } from './stats/bootstrap.js';
import { type Interval, type Summary, summarize } from './stats/describe.js';
import { mannWhitneyU } from './stats/mann-whitney.js';
import { welchTTest } from './stats/welch.js';
import { type Correction, CORRECTIONS, adjustPValues } from './stats/correction.js';
import { type Direction, type Metric, type MetricSeries, metricKey, metricLabel, secondsPerUnit } from './metric.js';

export const TEST_NAMES = ['percentage', 't-test', 'mann-whitney'] as const;
export type TestName = (typeof TEST_NAMES)[number];

export type VerdictKind = 'regression' | 'warning' | 'improvement' | 'no-change' | 'inconclusive' | 'new' | 'missing';

export interface VerdictOptions {
  test: TestName;
  /** Smallest change, in percent of the baseline, that counts (5 means 5 %). */
  thresholdPercent: number;
  /** Thresholds for some metrics, by metric label ("fib (throughput)") or benchmark name. */
  thresholds?: Readonly<Record<string, number>>;
  /** A significant worsening beyond this, but not beyond the threshold, is a warning; null for none. */
  warnThresholdPercent?: number | null;
  /** Warn thresholds for some metrics, named as in `thresholds`. */
  warnThresholds?: Readonly<Record<string, number>>;
  /** Significance level for t-test and mann-whitney: of the whole family of metrics under holm. */
  alpha?: number;
  /** Multiple-comparison correction over the metrics' p-values (default holm). */
  correction?: Correction;
  /** Level of the reported intervals. */
  confidence?: number;
  /** Seed of the bootstrap behind median-change intervals. */
  seed?: string | number;
  /** Direction overrides by metric label ("fib (throughput)") or benchmark name. */
  directions?: Readonly<Record<string, Direction>>;
}

export interface MetricComparison {
  metric: Metric;
  baselineValues: number[];
  headValues: number[];
  baseline: Summary | null;
  head: Summary | null;
  /** Relative change of the test's centre (median, or mean for t-test), in percent; null when undefined. */
  changePercent: number | null;
  /** Confidence interval of that change, in percent. */
  interval: Interval | null;
  pValue: number | null;
  /** The p-value after the family's correction, compared with alpha; null when no test ran. */
  adjustedPValue: number | null;
  /** This metric's threshold and warn threshold, in percent. */
  thresholdPercent: number;
  warnThresholdPercent: number | null;
  verdict: VerdictKind;
  /** Largest coefficient of variation of the two arms, in percent. */
  noisePercent: number | null;
  /** Noise above half the threshold. */
  noisy: boolean;
  /** One sentence on why this verdict, for the report. */
  reason: string;
}

export interface Comparison {
  options: Required<VerdictOptions>;
  metrics: MetricComparison[];
  counts: Record<VerdictKind, number>;
  /** True when any metric regressed: with fail-on-regression the step fails. */
  regressed: boolean;
}

const DEFAULTS = { alpha: 0.05, confidence: 0.95, seed: 'vmstep', correction: 'holm' as Correction };

export function parseTestName(text: string): TestName {
  const aliases: Record<string, TestName> = {
    percentage: 'percentage',
    percent: 'percentage',
    't-test': 't-test',
    ttest: 't-test',
    welch: 't-test',
    'mann-whitney': 'mann-whitney',
    mannwhitney: 'mann-whitney',
    'mann-whitney-u': 'mann-whitney',
  };
  return parseChoice('test', text, aliases, TEST_NAMES);
}

/** Parses a threshold such as "5", "5%" or "2.5 %"; throws naming the input otherwise. */
export function parseThreshold(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  if (!m) throw new Error(`threshold must be a percentage such as 5 or 5%, got ${JSON.stringify(text)}`);
  return Number(m[1]);
}

export interface ThresholdLines {
  /** The line without a name, or null when every line names a metric. */
  defaultPercent: number | null;
  /** NAME=PERCENT lines, by metric label or benchmark name. */
  perMetric: Record<string, number>;
}

/**
 * Reads threshold lines: one plain percentage (the default for every metric)
 * and NAME=PERCENT lines for single metrics. A name may itself hold "=" (Go's
 * "BenchmarkX/n=10"): the last one separates it from the percentage.
 */
export function parseThresholdLines(lines: string | readonly string[]): ThresholdLines {
  const all = (typeof lines === 'string' ? [lines] : lines).flatMap((l) => l.split(/\r?\n/)).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const out: ThresholdLines = { defaultPercent: null, perMetric: {} };
  for (const line of all) {
    const eq = line.lastIndexOf('=');
    if (eq < 0) {
      if (out.defaultPercent !== null) throw new Error(`two default thresholds (${out.defaultPercent}% and ${JSON.stringify(line)}): give one plain percentage and NAME=PERCENT for the rest`);
      out.defaultPercent = parseThreshold(line);
      continue;
    }
    const name = line.slice(0, eq).trim();
    if (name === '') throw new Error(`threshold line ${JSON.stringify(line)} has no metric name before "=": write NAME=PERCENT`);
    if (Object.hasOwn(out.perMetric, name)) throw new Error(`metric ${JSON.stringify(name)} has two thresholds: keep one line for it`);
    out.perMetric[name] = parseThreshold(line.slice(eq + 1));
  }
  return out;
}

function validateOptions(options: VerdictOptions): void {
  if (!TEST_NAMES.includes(options.test)) throw new Error(`unknown test ${JSON.stringify(options.test)}: use one of ${TEST_NAMES.join(', ')}`);
  if (!(options.thresholdPercent >= 0) || !Number.isFinite(options.thresholdPercent)) {
    throw new Error(`threshold must be a percentage of 0 or more, got ${options.thresholdPercent}`);
  }
  const alpha = options.alpha ?? DEFAULTS.alpha;
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1 (for example 0.05), got ${alpha}`);
  const warn = options.warnThresholdPercent;
  if (warn !== undefined && warn !== null && !(warn >= 0 && warn < options.thresholdPercent)) {
    throw new Error(`warn-threshold ${warn}% must be below the threshold ${options.thresholdPercent}%: it marks smaller changes than those that fail`);
  }
  if (options.correction !== undefined && !CORRECTIONS.includes(options.correction)) {
    throw new Error(`unknown correction ${JSON.stringify(options.correction)}: use one of ${CORRECTIONS.join(', ')}`);
  }
}

/** A per-metric setting by label, then by benchmark name, then the default. */
export function perMetricSetting<T>(metric: Metric, named: Readonly<Record<string, T>>, fallback: T): T {
  const label = metricLabel(metric);
  if (Object.hasOwn(named, label)) return named[label]!;
  if (Object.hasOwn(named, metric.name)) return named[metric.name]!;
  return fallback;
}

export type ThresholdSettings = Pick<VerdictOptions, 'thresholdPercent' | 'thresholds' | 'warnThresholdPercent' | 'warnThresholds'>;

/** A metric's threshold and warn threshold, in percent: the verdict and the auto-repeat stopping rule read them alike. */
export function thresholdsOf(metric: Metric, o: ThresholdSettings): { thresholdPercent: number; warnThresholdPercent: number | null } {
  const thresholdPercent = perMetricSetting(metric, o.thresholds ?? {}, o.thresholdPercent);
  const warnCandidate = perMetricSetting<number | null>(metric, o.warnThresholds ?? {}, o.warnThresholdPercent ?? null);
  // A warn threshold at or above this metric's threshold leaves no band to warn in.
  const warnThresholdPercent = warnCandidate !== null && warnCandidate < thresholdPercent ? warnCandidate : null;
  return { thresholdPercent, warnThresholdPercent };
}


/** Smallest equal number of runs per arm at which Mann-Whitney's exact p can go below alpha. */
export function minimumRunsForMannWhitney(alpha: number): number {
  // Two-sided minimum p for n and n runs is 2 / C(2n, n).
  let n = 1;
  let binom = 2; // C(2, 1)
  while (2 / binom >= alpha) {
    n++;
    binom = (binom * (2 * n - 1) * (2 * n)) / (n * n);
  }
  return n;
}

/**
 * Why a test cannot reach p < alpha with these run counts, or null when it
 * can. Mann-Whitney's smallest two-sided p is 2 / C(n + m, n), reached when
 * the two sides do not overlap at all; Welch's t-test needs two runs a side
 * to have a variance. The percentage test has no p-value to reach.
 */
export function unreachableSignificance(test: TestName, alpha: number, baselineRuns: number, headRuns: number): string | null {
  if (test === 't-test' && Math.min(baselineRuns, headRuns) < 2) {
    return `Welch's t-test needs at least 2 runs on each side, have ${baselineRuns} and ${headRuns}`;
  }
  if (test !== 'mann-whitney') return null;
  let binom = 1; // C(n + m, n), built up factor by factor
  for (let k = 1; k <= Math.min(baselineRuns, headRuns); k++) binom = (binom * (Math.max(baselineRuns, headRuns) + k)) / k;
  const smallest = Math.min(1, 2 / binom);
  if (smallest < alpha) return null;
  return `with ${baselineRuns} baseline and ${headRuns} head runs Mann-Whitney's smallest possible p is ${fmtP(smallest)}, not below alpha ${alpha}`;
}

const fmtP = (p: number): string => (p < 0.0001 ? p.toExponential(1) : p.toPrecision(2));

export function compareSeries(baseline: readonly MetricSeries[], head: readonly MetricSeries[], options: VerdictOptions): Comparison {
  validateOptions(options);
  const resolved: Resolved = {
    test: options.test,
    thresholdPercent: options.thresholdPercent,
    thresholds: options.thresholds ?? {},
    warnThresholdPercent: options.warnThresholdPercent ?? null,
    warnThresholds: options.warnThresholds ?? {},
    alpha: options.alpha ?? DEFAULTS.alpha,
    correction: options.correction ?? DEFAULTS.correction,
    confidence: options.confidence ?? DEFAULTS.confidence,
    seed: options.seed ?? DEFAULTS.seed,
    directions: options.directions ?? {},
  };
  const baseByKey = new Map(baseline.map((s) => [metricKey(s), s]));
  const seen = new Set<string>();
  const measured: Measured[] = [];
  for (const h of head) {
    const key = metricKey(h);
    seen.add(key);
    measured.push(compareMetric(baseByKey.get(key) ?? null, h, resolved));
  }
  for (const b of baseline) if (!seen.has(metricKey(b))) measured.push(compareMetric(b, null, resolved));
  // Every metric whose test ran is one member of the family, whatever its change.
  const family = measured.filter((m): m is Measured & { decide: Decide } => m.decide !== undefined);
  const adjusted = adjustPValues(
    family.map((m) => m.pValue),
    resolved.correction,
  );
  const decided = new Map(family.map((m, i) => [m, m.decide(adjusted[i]!)]));
  const metrics = measured.map((m) => decided.get(m as Measured & { decide: Decide }) ?? m.comparison!);
  const counts: Record<VerdictKind, number> = { regression: 0, warning: 0, improvement: 0, 'no-change': 0, inconclusive: 0, new: 0, missing: 0 };
  for (const m of metrics) counts[m.verdict]++;
  return { options: resolved, metrics, counts, regressed: counts.regression > 0 };
}

type Resolved = Comparison['options'];
/** The verdict of a metric whose test ran, given its p-value after the family's correction. */
type Decide = (adjustedPValue: number) => MetricComparison;
/** A metric before the correction: its verdict already, or its raw p-value and how to decide. */
type Measured = { comparison: MetricComparison; decide?: undefined; pValue?: undefined } | { comparison?: undefined; decide: Decide; pValue: number };

function compareMetric(base: MetricSeries | null, head: MetricSeries | null, o: Resolved): Measured {
  const source = (head ?? base)!;
  const metric: Metric = {
    name: source.name,
    measure: source.measure,
    unit: source.unit,
    direction: perMetricSetting(source, o.directions, source.direction),
  };
  const { thresholdPercent, warnThresholdPercent } = thresholdsOf(metric, o);
  // A baseline file may predate a change of unit: time units convert, anything else cannot be compared.
  let baseFactor = 1;
  let unitClash: string | null = null;
  if (base && head && base.unit !== head.unit) {
    const from = secondsPerUnit(base.unit);
    const to = secondsPerUnit(head.unit);
    if (from !== undefined && to !== undefined) baseFactor = from / to;
    else unitClash = `the baseline is in ${JSON.stringify(base.unit)} but head is in ${JSON.stringify(head.unit)}`;
  }
  const baselineValues = base ? base.values.map((v) => v * baseFactor) : [];
  const headValues = head ? [...head.values] : [];
  const bSum = baselineValues.length > 0 ? summarize(baselineValues, o.confidence) : null;
  const hSum = headValues.length > 0 ? summarize(headValues, o.confidence) : null;
  const cvs = [bSum, hSum].filter((s): s is Summary => s !== null && s.n >= 2 && Number.isFinite(s.cv)).map((s) => s.cv * 100);
  const noisePercent = cvs.length > 0 ? Math.max(...cvs) : null;
  // Only where a verdict is given: a metric without one has nothing the noise could mislead.
  const noisy = bSum !== null && hSum !== null && thresholdPercent > 0 && noisePercent !== null && noisePercent > thresholdPercent / 2;
  const comparison = (
    verdict: VerdictKind,
    reason: string,
    extra: Partial<Pick<MetricComparison, 'changePercent' | 'interval' | 'pValue' | 'adjustedPValue'>> = {},
  ): MetricComparison => ({
    metric,
    baselineValues,
    headValues,
    baseline: bSum,
    head: hSum,
    changePercent: extra.changePercent ?? null,
    interval: extra.interval ?? null,
    pValue: extra.pValue ?? null,
    adjustedPValue: extra.adjustedPValue ?? null,
    thresholdPercent,
    warnThresholdPercent,
    verdict,
    noisePercent,
    noisy,
    reason: noisy ? `${reason}; noise (CV ${noisePercent!.toFixed(1)}%) is above half the threshold` : reason,
  });
  const result = (...args: Parameters<typeof comparison>): Measured => ({ comparison: comparison(...args) });

  if (!bSum) return result('new', 'no baseline for this metric');
  if (!hSum) return result('missing', 'in the baseline but not reported by head');
  if (unitClash) return result('inconclusive', `${unitClash}: regenerate the baseline`);

  const useMeans = o.test === 't-test';
  const bCentre = useMeans ? bSum.mean : bSum.median;
  const hCentre = useMeans ? hSum.mean : hSum.median;
  if (bCentre === 0) {
    return hCentre === 0
      ? result('no-change', 'zero in both')
      : result('inconclusive', 'the baseline is zero, so a relative change is undefined');
  }
  const changePercent = ((hCentre - bCentre) / Math.abs(bCentre)) * 100;
  const worse = metric.direction === 'smaller' ? changePercent > 0 : changePercent < 0;
  const beyond = Math.abs(changePercent) > thresholdPercent;
  const beyondWarn = warnThresholdPercent !== null && worse && Math.abs(changePercent) > warnThresholdPercent;
  const sign = changePercent >= 0 ? '+' : '';
  const changeText = `${sign}${changePercent.toFixed(2)}% vs threshold ${thresholdPercent}%${warnThresholdPercent !== null ? ` (warn ${warnThresholdPercent}%)` : ''}`;

  let interval: Interval | null;
  let pValue: number | null = null;
  let evidence: string;
  if (o.test === 't-test') {
    if (bSum.n < 2 || hSum.n < 2) {
      return result('inconclusive', `Welch's t-test needs at least 2 runs on each side (have ${bSum.n} and ${hSum.n}): raise repeat`, {
        changePercent,
      });
    }
    const w = welchTTest(headValues, baselineValues, o.confidence);
    const scale = 100 / Math.abs(bCentre);
    interval = { lower: w.interval.lower * scale, upper: w.interval.upper * scale, confidence: o.confidence };
    pValue = w.pValue;
    evidence = `Welch's t-test p = ${fmtP(w.pValue)}`;
  } else {
    interval = medianChangeInterval(baselineValues, headValues, o);
    if (o.test === 'mann-whitney') {
      const mw = mannWhitneyU(headValues, baselineValues);
      if (mw.minimumPValue !== null && mw.minimumPValue >= o.alpha) {
        const need = minimumRunsForMannWhitney(o.alpha);
        return result(
          'inconclusive',
          `with ${hSum.n} and ${bSum.n} runs Mann-Whitney cannot reach p < ${o.alpha} (smallest possible p ${fmtP(mw.minimumPValue)}): set repeat to at least ${need}`,
          { changePercent, interval },
        );
      }
      pValue = mw.pValue;
      evidence = `Mann-Whitney p = ${fmtP(mw.pValue)}`;
    } else {
      evidence = 'change of medians';
    }
  }
  const decide = (adjustedPValue: number | null): MetricComparison => {
    const extra = { changePercent, interval, pValue, adjustedPValue };
    const significant = adjustedPValue === null || adjustedPValue < o.alpha;
    const corrected = adjustedPValue !== null && adjustedPValue !== pValue ? `, ${o.correction}-adjusted p = ${fmtP(adjustedPValue)}` : '';
    const why = `${evidence}${corrected}`;
    if (!beyond && !beyondWarn) return comparison('no-change', `${changeText} (${why})`, extra);
    if (!significant) return comparison('no-change', `${changeText} but not significant (${why} ≥ ${o.alpha})`, extra);
    if (!beyond) return comparison('warning', `${changeText}: worse beyond the warn threshold (${why})`, extra);
    return comparison(worse ? 'regression' : 'improvement', `${changeText} (${why})`, extra);
  };
  return pValue === null ? { comparison: decide(null) } : { decide, pValue };
}

function medianChangeInterval(base: number[], head: number[], o: Resolved): Interval | null {
  // One run has no spread to resample: an interval there would be a false point.
  if (base.length < 2 || head.length < 2) return null;
  const ci = bootstrapTwoSampleInterval(base, head, relativeMedianChangeInPlace, { confidence: o.confidence, seed: o.seed });
  return ci && { lower: ci.lower * 100, upper: ci.upper * 100, confidence: ci.confidence };
}

/**
 * The message for a failed step under fail-on-regression, or null when
 * nothing regressed: which metrics, by how much, against which threshold.
 */
export function regressionMessage(c: Comparison): string | null {
  const regressed = c.metrics.filter((m) => m.verdict === 'regression');
  if (regressed.length === 0) return null;
  return `${listChanged(regressed, c, 'regressed beyond', 'thresholdPercent')}. See the job summary for every run.`;
}

/** The warning for metrics that worsened beyond their warn threshold only, or null when none did. */
export function warningMessage(c: Comparison): string | null {
  const warned = c.metrics.filter((m) => m.verdict === 'warning');
  if (warned.length === 0) return null;
  return `${listChanged(warned, c, 'worsened beyond', 'warnThresholdPercent')}, within the threshold: not failing`;
}

function listChanged(list: MetricComparison[], c: Comparison, verb: string, which: 'thresholdPercent' | 'warnThresholdPercent'): string {
  const limits = new Set(list.map((m) => m[which]));
  const shared = limits.size === 1 ? [...limits][0] : undefined;
  const shown = list
    .slice(0, 10)
    .map((m) => {
      const change = `${m.changePercent! >= 0 ? '+' : ''}${m.changePercent!.toFixed(1)}%`;
      return `${metricLabel(m.metric).slice(0, 80)} (${shared === undefined ? `${change} > ${m[which]}%` : change})`;
    })
    .join(', ');
  const more = list.length > 10 ? ` and ${list.length - 10} more` : '';
  const word = which === 'thresholdPercent' ? 'threshold' : 'warn threshold';
  const limit = shared === undefined ? `their ${word}s` : `the ${shared}% ${word}`;
  return `${list.length} benchmark metric${list.length === 1 ? '' : 's'} ${verb} ${limit} (${c.options.test}): ${shown}${more}`;
}

