// Descriptive statistics for one metric's samples: the numbers the report
// shows and the verdict starts from. Every function takes plain number arrays
// and never mutates them.
import { binomialCdf, studentTQuantile } from './special.js';

/** A two-sided interval with the confidence it actually achieves. */
export interface Interval {
  lower: number;
  upper: number;
  /** Achieved confidence level in (0, 1); order-statistic intervals can only hit discrete levels. */
  confidence: number;
}

export interface Summary {
  n: number;
  mean: number;
  median: number;
  /** Sample standard deviation (n − 1 denominator); 0 when n < 2. */
  stddev: number;
  /** Coefficient of variation, stddev / |mean|; NaN when the mean is 0. */
  cv: number;
  min: number;
  max: number;
  /** t-distribution interval for the mean; null when n < 2. */
  meanInterval: Interval | null;
  /** Distribution-free order-statistic interval for the median; null when n is too small to reach the level. */
  medianInterval: Interval | null;
}

function assertSamples(values: readonly number[], what: string): void {
  if (values.length === 0) throw new RangeError(`${what} needs at least one sample`);
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`${what} needs finite samples, got ${v}`);
  }
}

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Arithmetic mean with a Kahan-compensated sum, so long runs of similar values do not drift. */
export function mean(values: readonly number[]): number {
  assertSamples(values, 'mean');
  let sum = 0;
  let compensation = 0;
  for (const v of values) {
    const y = v - compensation;
    const t = sum + y;
    compensation = t - sum - y;
    sum = t;
  }
  return sum / values.length;
}

/** Median: the middle value, or the mean of the two middle values. */
export function median(values: readonly number[]): number {
  assertSamples(values, 'median');
  return medianOfSorted(sorted(values));
}

export function medianOfSorted(s: readonly number[]): number {
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Sample variance with Bessel's correction (two-pass, so no catastrophic cancellation). */
export function sampleVariance(values: readonly number[]): number {
  assertSamples(values, 'variance');
  if (values.length < 2) return 0;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return ss / (values.length - 1);
}

export function sampleStdDev(values: readonly number[]): number {
  return Math.sqrt(sampleVariance(values));
}

/** Two-sided t interval for the mean: mean ± t(1 − α/2, n − 1) · s / √n. */
export function meanInterval(values: readonly number[], confidence = 0.95): Interval | null {
  assertConfidence(confidence);
  assertSamples(values, 'mean interval');
  const n = values.length;
  if (n < 2) return null;
  const m = mean(values);
  const half = (studentTQuantile(1 - (1 - confidence) / 2, n - 1) * sampleStdDev(values)) / Math.sqrt(n);
  return { lower: m - half, upper: m + half, confidence };
}

/**
 * Order-statistic interval for the median [x(k), x(n−k+1)], with the largest
 * k whose coverage 1 − 2·P(Binomial(n, ½) ≤ k − 1) still reaches the level.
 * It assumes nothing about the distribution, which suits skewed timings.
 * For n = 10 at 95 % that is [x(2), x(9)] with 97.85 % coverage.
 */
export function medianInterval(values: readonly number[], confidence = 0.95): Interval | null {
  assertConfidence(confidence);
  assertSamples(values, 'median interval');
  const s = sorted(values);
  const n = s.length;
  const alpha = 1 - confidence;
  let k = 0;
  // P(B ≤ k−1) ≤ α/2 ⇔ [x(k), x(n−k+1)] covers with ≥ confidence.
  while (k + 1 <= Math.floor((n + 1) / 2) && binomialCdf(k, n, 0.5) <= alpha / 2) k++;
  if (k === 0) return null;
  return { lower: s[k - 1]!, upper: s[n - k]!, confidence: 1 - 2 * binomialCdf(k - 1, n, 0.5) };
}

export function summarize(values: readonly number[], confidence = 0.95): Summary {
  assertSamples(values, 'summary');
  const s = sorted(values);
  const m = mean(values);
  const sd = sampleStdDev(values);
  return {
    n: values.length,
    mean: m,
    median: medianOfSorted(s),
    stddev: sd,
    cv: m === 0 ? NaN : sd / Math.abs(m),
    min: s[0]!,
    max: s[s.length - 1]!,
    meanInterval: meanInterval(values, confidence),
    medianInterval: medianInterval(values, confidence),
  };
}

export function assertConfidence(confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be between 0 and 1 (for example 0.95), got ${confidence}`);
  }
}
