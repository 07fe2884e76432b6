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
import { bootstrapTwoSampleInterval, relativeMedianChangeInPlace } from './stats/bootstrap.js';
import { type Interval, type Summary, summarize } from './stats/describe.js';
import { mannWhitneyU } from './stats/mann-whitney.js';
import { welchTTest } from './stats/welch.js';
import { type Direction, type Metric, type MetricSeries, metricKey, metricLabel, secondsPerUnit } from './metric.js';

export const TEST_NAMES = ['percentage', 't-test', 'mann-whitney'] as const;
export type TestName = (typeof TEST_NAMES)[number];

export type VerdictKind = 'regression' | 'improvement' | 'no-change' | 'inconclusive' | 'new' | 'missing';

export interface VerdictOptions {
  test: TestName;
  /** Smallest change, in percent of the baseline, that counts (5 means 5 %). */
  thresholdPercent: number;
  /** Significance level for t-test and mann-whitney. */
  alpha?: number;
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
  verdict: VerdictKind;
  /** Largest coefficient of variation of the two arms, in percent. */
  noisePercent: number | null;
  /** Noise above half the threshold. */
  noisy: boolean;
  /** One sentence on why this verdict, for the report. */
  reason: string;
}

export interface Comparison {
  options: Required<Omit<VerdictOptions, 'directions'>> & { directions: Readonly<Record<string, Direction>> };
  metrics: MetricComparison[];
  counts: Record<VerdictKind, number>;
  /** True when any metric regressed: with fail-on-regression the step fails. */
  regressed: boolean;
}

const DEFAULTS = { alpha: 0.05, confidence: 0.95, seed: 'vmstep' };

export function parseTestName(text: string): TestName {
  const t = text.trim().toLowerCase();
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
  const found = aliases[t];
  if (!found) throw new Error(`unknown test ${JSON.stringify(text)}: use one of ${TEST_NAMES.join(', ')}`);
  return found;
}

/** Parses a threshold such as "5", "5%" or "2.5 %"; throws naming the input otherwise. */
export function parseThreshold(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(text);
  if (!m) throw new Error(`threshold must be a percentage such as 5 or 5%, got ${JSON.stringify(text)}`);
  return Number(m[1]);
}

function validateOptions(options: VerdictOptions): void {
  if (!TEST_NAMES.includes(options.test)) throw new Error(`unknown test ${JSON.stringify(options.test)}: use one of ${TEST_NAMES.join(', ')}`);
  if (!(options.thresholdPercent >= 0) || !Number.isFinite(options.thresholdPercent)) {
    throw new Error(`threshold must be a percentage of 0 or more, got ${options.thresholdPercent}`);
  }
  const alpha = options.alpha ?? DEFAULTS.alpha;
  if (!(alpha > 0 && alpha < 1)) throw new Error(`alpha must be between 0 and 1 (for example 0.05), got ${alpha}`);
}

function resolveDirection(metric: Metric, overrides: Readonly<Record<string, Direction>>): Direction {
  const label = metricLabel(metric);
  if (Object.hasOwn(overrides, label)) return overrides[label]!;
  if (Object.hasOwn(overrides, metric.name)) return overrides[metric.name]!;
  return metric.direction;
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

const fmtP = (p: number): string => (p < 0.0001 ? p.toExponential(1) : p.toPrecision(2));

export function compareSeries(baseline: readonly MetricSeries[], head: readonly MetricSeries[], options: VerdictOptions): Comparison {
  validateOptions(options);
  const resolved = {
    test: options.test,
    thresholdPercent: options.thresholdPercent,
    alpha: options.alpha ?? DEFAULTS.alpha,
    confidence: options.confidence ?? DEFAULTS.confidence,
    seed: options.seed ?? DEFAULTS.seed,
    directions: options.directions ?? {},
  };
  const baseByKey = new Map(baseline.map((s) => [metricKey(s), s]));
  const seen = new Set<string>();
  const metrics: MetricComparison[] = [];
  for (const h of head) {
    const key = metricKey(h);
    seen.add(key);
    metrics.push(compareMetric(baseByKey.get(key) ?? null, h, resolved));
  }
  for (const b of baseline) if (!seen.has(metricKey(b))) metrics.push(compareMetric(b, null, resolved));
  const counts: Record<VerdictKind, number> = { regression: 0, improvement: 0, 'no-change': 0, inconclusive: 0, new: 0, missing: 0 };
  for (const m of metrics) counts[m.verdict]++;
  return { options: resolved, metrics, counts, regressed: counts.regression > 0 };
}

type Resolved = Comparison['options'];

function compareMetric(base: MetricSeries | null, head: MetricSeries | null, o: Resolved): MetricComparison {
  const source = (head ?? base)!;
  const metric: Metric = {
    name: source.name,
    measure: source.measure,
    unit: source.unit,
    direction: resolveDirection(source, o.directions),
  };
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
  const noisy = bSum !== null && hSum !== null && o.thresholdPercent > 0 && noisePercent !== null && noisePercent > o.thresholdPercent / 2;
  const result = (
    verdict: VerdictKind,
    reason: string,
    extra: Partial<Pick<MetricComparison, 'changePercent' | 'interval' | 'pValue'>> = {},
  ): MetricComparison => ({
    metric,
    baselineValues,
    headValues,
    baseline: bSum,
    head: hSum,
    changePercent: extra.changePercent ?? null,
    interval: extra.interval ?? null,
    pValue: extra.pValue ?? null,
    verdict,
    noisePercent,
    noisy,
    reason: noisy ? `${reason}; noise (CV ${noisePercent!.toFixed(1)}%) is above half the threshold` : reason,
  });

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
  const beyond = Math.abs(changePercent) > o.thresholdPercent;
  const sign = changePercent >= 0 ? '+' : '';
  const changeText = `${sign}${changePercent.toFixed(2)}% vs threshold ${o.thresholdPercent}%`;

  let interval: Interval | null;
  let pValue: number | null = null;
  let evidence: string;
  let significant: boolean;
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
    significant = w.pValue < o.alpha;
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
      significant = mw.pValue < o.alpha;
      evidence = `Mann-Whitney p = ${fmtP(mw.pValue)}`;
    } else {
      significant = true;
      evidence = 'change of medians';
    }
  }
  const extra = { changePercent, interval, pValue };
  if (!beyond) return result('no-change', `${changeText} (${evidence})`, extra);
  if (!significant) return result('no-change', `${changeText} but not significant (${evidence} ≥ ${o.alpha})`, extra);
  return result(worse ? 'regression' : 'improvement', `${changeText} (${evidence})`, extra);
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
  const list = regressed
    .slice(0, 10)
    .map((m) => `${metricLabel(m.metric).slice(0, 80)} (${m.changePercent! >= 0 ? '+' : ''}${m.changePercent!.toFixed(1)}%)`)
    .join(', ');
  const more = regressed.length > 10 ? ` and ${regressed.length - 10} more` : '';
  return (
    `${regressed.length} benchmark metric${regressed.length === 1 ? '' : 's'} regressed beyond the ${c.options.thresholdPercent}% threshold ` +
    `(${c.options.test}): ${list}${more}. See the job summary for every run.`
  );
}

