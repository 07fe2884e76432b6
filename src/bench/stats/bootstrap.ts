// Percentile bootstrap for statistics that have no closed-form interval,
// such as the relative change between two medians. Seeded, so the same
// samples always give the same interval.
import { assertConfidence, type Interval, medianOfSorted, sorted } from './describe.js';
import { createRng } from './random.js';

export interface BootstrapOptions {
  confidence?: number;
  /** Number of resamples; 2000 keeps percentile noise well under the reported precision. */
  resamples?: number;
  seed?: string | number;
}

const DEFAULT_RESAMPLES = 2000;
const DEFAULT_SEED = 'vmstep-bootstrap';

/** The p-quantile of sorted values, linearly interpolated (Hyndman–Fan type 7, the default of R and numpy). */
export function quantileOfSorted(s: readonly number[], p: number): number {
  if (s.length === 0) throw new RangeError('quantile of an empty sample');
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

function resample(values: readonly number[], rng: () => number, out: number[]): number[] {
  for (let i = 0; i < values.length; i++) out[i] = values[Math.floor(rng() * values.length)]!;
  return out;
}

/**
 * Bootstrap interval for a statistic of two independent samples (each
 * resampled separately). `statistic` may return NaN for a degenerate
 * resample; those are dropped, and null is returned if most of them are.
 */
export function bootstrapTwoSampleInterval(
  a: readonly number[],
  b: readonly number[],
  statistic: (a: number[], b: number[]) => number,
  options: BootstrapOptions = {},
): Interval | null {
  const confidence = options.confidence ?? 0.95;
  assertConfidence(confidence);
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  if (a.length === 0 || b.length === 0) return null;
  const rng = createRng(options.seed ?? DEFAULT_SEED);
  const bufA = new Array<number>(a.length);
  const bufB = new Array<number>(b.length);
  const stats: number[] = [];
  for (let i = 0; i < resamples; i++) {
    const v = statistic(resample(a, rng, bufA), resample(b, rng, bufB));
    if (Number.isFinite(v)) stats.push(v);
  }
  if (stats.length < resamples / 2) return null;
  stats.sort((x, y) => x - y);
  const alpha = 1 - confidence;
  return { lower: quantileOfSorted(stats, alpha / 2), upper: quantileOfSorted(stats, 1 - alpha / 2), confidence };
}

/** Bootstrap interval for the median of one sample. */
export function bootstrapMedianInterval(values: readonly number[], options: BootstrapOptions = {}): Interval | null {
  return bootstrapTwoSampleInterval(values, [0], (x) => medianOfSorted(sorted(x)), options);
}

/** Relative change of medians, (median(head) − median(base)) / |median(base)|; NaN when the base median is 0. */
export function relativeMedianChange(base: readonly number[], head: readonly number[]): number {
  const mb = medianOfSorted(sorted(base));
  const mh = medianOfSorted(sorted(head));
  return mb === 0 ? NaN : (mh - mb) / Math.abs(mb);
}
