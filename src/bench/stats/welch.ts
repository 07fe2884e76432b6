// Welch's unequal-variances t-test. Baseline and head runs need not share a
// variance (a regression often adds jitter as well as time), so Student's
// pooled test would be the wrong default.
import { type Interval, assertConfidence, mean, sampleVariance } from './describe.js';
import { studentTQuantile, studentTTwoSidedP } from './special.js';

export interface WelchResult {
  /** t statistic for mean(a) − mean(b), the sign convention of scipy.stats.ttest_ind(a, b, equal_var=False). */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value. */
  pValue: number;
  /** mean(a) − mean(b). */
  difference: number;
  /** Confidence interval for mean(a) − mean(b). */
  interval: Interval;
}

export function welchTTest(a: readonly number[], b: readonly number[], confidence = 0.95): WelchResult {
  assertConfidence(confidence);
  if (a.length < 2 || b.length < 2) {
    throw new RangeError(`Welch's t-test needs at least 2 samples on each side, got ${a.length} and ${b.length}`);
  }
  const va = sampleVariance(a) / a.length;
  const vb = sampleVariance(b) / b.length;
  const difference = mean(a) - mean(b);
  const se2 = va + vb;
  if (se2 === 0) {
    // Both samples constant: the difference is either exactly zero or certain.
    const df = a.length + b.length - 2;
    const t = difference === 0 ? 0 : difference > 0 ? Infinity : -Infinity;
    return { t, df, pValue: difference === 0 ? 1 : 0, difference, interval: { lower: difference, upper: difference, confidence } };
  }
  const se = Math.sqrt(se2);
  const df = (se2 * se2) / ((va * va) / (a.length - 1) + (vb * vb) / (b.length - 1));
  const t = difference / se;
  const half = studentTQuantile(1 - (1 - confidence) / 2, df) * se;
  return {
    t,
    df,
    pValue: studentTTwoSidedP(t, df),
    difference,
    interval: { lower: difference - half, upper: difference + half, confidence },
  };
}
