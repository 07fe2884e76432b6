// Adaptive repeats (`repeat: auto`): after min-repeat pairs, one more pair at
// a time, until every metric is decided or max-repeat is reached.
//
// What "decided" means. After each pair (a look) every metric gets a
// distribution-free interval for the relative change of head against
// baseline: the Hodges-Lehmann / Moses interval, the set of shifts of
// log(value) that Mann-Whitney would not reject (pairwise differences
// between the two samples, cut at the test's critical rank). A metric is
//   decided beyond    when the whole interval lies above +threshold or below
//                     -threshold (more runs will not bring it back);
//   decided within    when the whole interval lies inside ±threshold (more
//                     runs will not push it out);
//   undecided         when the interval still holds a threshold: exactly the
//                     case where another pair can change the verdict.
// With a warn threshold below the threshold, a metric decided within ±threshold
// must also be clear of the warn bound on its worse side (+warn for a time,
// −warn for a rate), since that bound splits "warning" from "no change":
//   decided beyond warn  when the whole interval lies past it (a warning,
//                        if the verdict's test agrees);
//   decided within       when the whole interval lies on the better side;
//   undecided            while the interval holds it.
// An improvement gets no verdict of its own below the threshold, so the
// warn bound on the better side decides nothing and costs no runs.
// Metrics that more runs cannot help (new, missing, a baseline of zero) count
// as decided.
//
// Why the false-alarm rate holds. Looking after every pair and stopping on
// what is seen inflates the error of any test run at alpha each time (with
// 26 looks at 5% a no-change pair "regresses" far more often than 5%). So
// alpha is spent over the looks: with K = max − min + 1 possible looks, each
// look, and the final verdict at whatever look the run stopped, works at
// alpha / K (Bonferroni over looks). Whatever the stopping rule, a false
// alarm needs some look to reject at alpha / K, and the chance of that is at
// most K · alpha / K = alpha. The same holds for a missed regression from a
// "within" stop: the intervals are at level alpha / (K · M) for M metrics, so
// all of them at every look cover together with probability ≥ 1 − alpha.
// The warn threshold is read off the same interval, one per metric and look,
// so it spends nothing more: a false warning is a rejection at alpha / K at
// the look where the runs stopped, bounded by the same sum.
// Bonferroni is conservative under the strong correlation between looks;
// the price is a few pairs more, never a broken promise.
//
// Without a baseline there is no verdict to protect, only a precision to
// reach: a metric is decided when its median's 95% interval is narrower than
// ±threshold/2 of the median, so that a later comparison at that threshold
// is not drowned by this run's own spread.
import { type Direction, type MetricSeries, metricKey, metricLabel } from './metric.js';
import { exactUDistribution, EXACT_MAX_TOTAL } from './stats/mann-whitney.js';
import { type Interval, median, medianInterval } from './stats/describe.js';
import { normalSf } from './stats/special.js';
import { type ThresholdSettings, thresholdsOf } from './verdict.js';

export const AUTO_REPEAT_DEFAULTS = { minRepeat: 5, maxRepeat: 30 } as const;

export interface AutoRepeat {
  minRepeat: number;
  maxRepeat: number;
}

/** The thresholds (and warn thresholds, when set) as the verdict reads them. */
export interface SequentialOptions extends AutoRepeat, ThresholdSettings {
  /** The false-alarm rate to keep over every look together. */
  alpha: number;
}

export type MetricState = 'beyond' | 'beyond-warn' | 'within' | 'undecided' | 'precise' | 'unhelped';

export interface MetricLook {
  label: string;
  state: MetricState;
  /** The interval of the relative change (or, without a baseline, of the median relative to itself), in percent. */
  interval: Interval | null;
  thresholdPercent: number;
  /** Null where the metric has no warn threshold below its threshold. */
  warnThresholdPercent: number | null;
}

export interface Look {
  /** True when every metric is decided. */
  decided: boolean;
  metrics: MetricLook[];
  /** Labels of the metrics still undecided. */
  undecided: string[];
}

/** Number of looks a plan can take: one after each pair from the minimum to the maximum. */
export function lookCount(plan: AutoRepeat): number {
  return plan.maxRepeat - plan.minRepeat + 1;
}

/** The significance level of each look and of the final verdict: alpha spent evenly over the looks. */
export function perLookAlpha(alpha: number, plan: AutoRepeat): number {
  return alpha / lookCount(plan);
}

export function validateAutoRepeat(plan: AutoRepeat, maxAllowed: number): void {
  const { minRepeat, maxRepeat } = plan;
  if (!Number.isInteger(minRepeat) || minRepeat < 2) throw new Error(`min-repeat must be a whole number of 2 or more, got ${minRepeat}`);
  if (!Number.isInteger(maxRepeat) || maxRepeat > maxAllowed) throw new Error(`max-repeat must be a whole number up to ${maxAllowed}, got ${maxRepeat}`);
  if (maxRepeat < minRepeat) throw new Error(`max-repeat ${maxRepeat} is below min-repeat ${minRepeat}`);
}

/**
 * One look: is every metric decided? `baseline` null means no baseline at
 * all (precision rule); an empty array a baseline that reported nothing.
 */
export function lookAtMetrics(baseline: readonly MetricSeries[] | null, head: readonly MetricSeries[], o: SequentialOptions): Look {
  let metrics: MetricLook[];
  if (baseline === null) {
    metrics = head.map((h) => precisionLook(h, thresholdsOf(h, o)));
  } else {
    const baseByKey = new Map(baseline.map((s) => [metricKey(s), s]));
    const pairs = head.map((h) => [baseByKey.get(metricKey(h)) ?? null, h] as const);
    const comparable = pairs.filter(([b, h]) => b !== null && b.unit === h.unit).length;
    const level = perLookAlpha(o.alpha, o) / Math.max(1, comparable);
    metrics = pairs.map(([b, h]) => changeLook(b, h, thresholdsOf(h, o), level));
  }
  const undecided = metrics.filter((m) => m.state === 'undecided').map((m) => m.label);
  return { decided: undecided.length === 0, metrics, undecided };
}

type Thresholds = ReturnType<typeof thresholdsOf>;

/** The look at one metric, given its state and interval. */
const lookOf =
  (head: MetricSeries, thresholds: Thresholds) =>
  (state: MetricState, interval: Interval | null): MetricLook => ({ label: metricLabel(head), state, interval, ...thresholds });

function changeLook(base: MetricSeries | null, head: MetricSeries, thresholds: Thresholds, level: number): MetricLook {
  const look = lookOf(head, thresholds);
  // A metric with nothing to compare against, or in another unit, stays so however long it runs.
  if (base === null || base.unit !== head.unit) return look('unhelped', null);
  const interval = relativeShiftInterval(base.values, head.values, level);
  if (interval === undefined) return look('unhelped', null);
  return look(interval === null ? 'undecided' : changeState(interval, head.direction, thresholds), interval);
}

/** Where an interval of the relative change stands against the threshold and, within it, the warn threshold. */
function changeState(interval: Interval, direction: Direction, { thresholdPercent: t, warnThresholdPercent: warn }: Thresholds): MetricState {
  if (interval.lower > t || interval.upper < -t) return 'beyond';
  if (!(interval.lower > -t && interval.upper < t)) return 'undecided';
  if (warn === null) return 'within';
  // Only a worsening warns: the bound that matters is on the worse side of zero.
  const worse = direction === 'smaller' ? interval.lower > warn : interval.upper < -warn;
  const better = direction === 'smaller' ? interval.upper < warn : interval.lower > -warn;
  return worse ? 'beyond-warn' : better ? 'within' : 'undecided';
}

function precisionLook(head: MetricSeries, thresholds: Thresholds): MetricLook {
  const look = lookOf(head, thresholds);
  const centre = median(head.values);
  const ci = head.values.length >= 2 ? medianInterval(head.values, 0.95) : null;
  if (centre === 0) return look('unhelped', null);
  if (ci === null) return look('undecided', null);
  const interval = { lower: ((ci.lower - centre) / Math.abs(centre)) * 100, upper: ((ci.upper - centre) / Math.abs(centre)) * 100, confidence: ci.confidence };
  const halfWidth = (interval.upper - interval.lower) / 2;
  return look(halfWidth <= thresholds.thresholdPercent / 2 ? 'precise' : 'undecided', interval);
}

/**
 * The Moses interval, in percent, for the relative change of head against
 * base at two-sided level `level`; null when the samples are too small to
 * reach that level, undefined when a relative change is undefined (a
 * baseline median of zero).
 */
export function relativeShiftInterval(base: readonly number[], head: readonly number[], level: number): Interval | null | undefined {
  const m = head.length;
  const n = base.length;
  if (m === 0 || n === 0) return null;
  const k = criticalRank(m, n, level);
  if (k === null) return null;
  // Ratios on the log scale where every value is positive (times, rates):
  // a 10% slowdown is then the same shift whatever the metric's size.
  const positive = base.every((v) => v > 0) && head.every((v) => v > 0);
  const scale = Math.abs(median(base));
  if (!positive && scale === 0) return undefined;
  const diffs = new Float64Array(m * n);
  let i = 0;
  for (const h of head) for (const b of base) diffs[i++] = positive ? Math.log(h) - Math.log(b) : (h - b) / scale;
  diffs.sort();
  const toPercent = (d: number) => (positive ? Math.expm1(d) : d) * 100;
  return { lower: toPercent(diffs[k - 1]!), upper: toPercent(diffs[m * n - k]!), confidence: 1 - level };
}

const criticalRanks = new Map<string, number | null>();

/**
 * The largest k with 2·P(U ≤ k − 1) ≤ level: [d(k), d(mn − k + 1)] of the
 * sorted pairwise differences then covers the shift with probability
 * ≥ 1 − level. Exact below EXACT_MAX_TOTAL samples, normal beyond.
 */
function criticalRank(m: number, n: number, level: number): number | null {
  const key = `${m},${n},${level}`;
  if (criticalRanks.has(key)) return criticalRanks.get(key)!;
  let k: number | null;
  if (m + n <= EXACT_MAX_TOTAL) {
    const dist = exactUDistribution(m, n);
    let cdf = 0;
    let found = 0;
    for (let u = 0; u < dist.length; u++) {
      cdf += dist[u]!;
      if (2 * cdf > level) break;
      found = u + 1;
    }
    k = found >= 1 ? found : null;
  } else {
    const z = normalQuantileUpper(level / 2);
    const raw = Math.floor((m * n) / 2 - z * Math.sqrt((m * n * (m + n + 1)) / 12));
    k = raw >= 1 ? raw : null;
  }
  if (criticalRanks.size > 10_000) criticalRanks.clear();
  criticalRanks.set(key, k);
  return k;
}

/** z with P(Z > z) = p, by bisection on the accurate upper tail. */
function normalQuantileUpper(p: number): number {
  let lo = 0;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (normalSf(mid) > p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** One line for the report: why the runs stopped where they did. */
export function describeStop(look: Look, pairs: number, plan: AutoRepeat, baseline: boolean): string {
  const thresholds = look.metrics.some((m) => m.warnThresholdPercent !== null) ? 'the threshold and the warn threshold' : 'the threshold';
  const what = baseline ? `every metric decided at ${thresholds}` : 'every metric measured to ±threshold/2 (95% interval of the median)';
  if (look.decided) return `${what} after ${pairs} run${pairs === 1 ? '' : 's'} per side (min-repeat ${plan.minRepeat}, max-repeat ${plan.maxRepeat})`;
  const shown = look.undecided.slice(0, 5).join(', ') + (look.undecided.length > 5 ? `, and ${look.undecided.length - 5} more` : '');
  return `reached max-repeat ${plan.maxRepeat} with ${look.undecided.length} metric${look.undecided.length === 1 ? '' : 's'} still ${baseline ? `inconclusive at ${thresholds}` : 'short of ±threshold/2 precision'}: ${shown}`;
}
