// Mann-Whitney U test (Wilcoxon rank-sum): a rank test that needs no
// normality, so one slow outlier run cannot make or break a verdict. Exact
// p-values for small tie-free samples; otherwise the normal approximation
// with tie and continuity corrections, as scipy.stats.mannwhitneyu computes.
import { normalSf } from './special.js';

export type MannWhitneyMethod = 'auto' | 'exact' | 'asymptotic';

export interface MannWhitneyResult {
  /** U for the first sample: pairs (x, y) with x > y, ties counted ½ (scipy's U1). */
  u: number;
  pValue: number;
  method: 'exact' | 'asymptotic';
  /** Smallest two-sided p-value any outcome could produce with these sample sizes (exact method only). */
  minimumPValue: number | null;
}

/**
 * Above this many samples in total the exact distribution is not used even
 * without ties: its table grows as n1·n2·(n1·n2) and the normal
 * approximation is already accurate there. scipy's 'auto' switches earlier
 * (when both samples have more than 8); exact is the better answer for the
 * typical 10-30 benchmark repeats, so vmstep keeps it longer.
 */
export const EXACT_MAX_TOTAL = 60;

/** Midranks (1-based) of the pooled samples, and the tie correction Σ(t³ − t). */
function rankPooled(a: readonly number[], b: readonly number[]): { rankSumA: number; tieTerm: number } {
  const pooled = [...a.map((v) => ({ v, fromA: true })), ...b.map((v) => ({ v, fromA: false }))];
  pooled.sort((x, y) => x.v - y.v);
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < pooled.length; ) {
    let j = i;
    while (j + 1 < pooled.length && pooled[j + 1]!.v === pooled[i]!.v) j++;
    const t = j - i + 1;
    const midrank = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) if (pooled[k]!.fromA) rankSumA += midrank;
    if (t > 1) tieTerm += t * t * t - t;
    i = j + 1;
  }
  return { rankSumA, tieTerm };
}

/**
 * Null distribution of U for sample sizes m and n, as probabilities indexed
 * by U = 0 … m·n. Recurrence on the largest pooled value: it belongs to the
 * first sample with probability i/(i+j), and then beats all j others.
 * Only additions of positive terms, so no cancellation at any size.
 */
export function exactUDistribution(m: number, n: number): Float64Array {
  // prev[j] holds the distribution for (i − 1, j); cur[j] for (i, j).
  let prev: Float64Array[] = [];
  for (let j = 0; j <= n; j++) prev.push(Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)];
    for (let j = 1; j <= n; j++) {
      const dist = new Float64Array(i * j + 1);
      const fromA = prev[j]!; // (i − 1, j), shifted by j
      const fromB = cur[j - 1]!; // (i, j − 1)
      const pa = i / (i + j);
      const pb = j / (i + j);
      for (let u = 0; u < fromA.length; u++) dist[u + j]! += pa * fromA[u]!;
      for (let u = 0; u < fromB.length; u++) dist[u]! += pb * fromB[u]!;
      cur.push(dist);
    }
    prev = cur;
  }
  return prev[n]!;
}

export function mannWhitneyU(a: readonly number[], b: readonly number[], method: MannWhitneyMethod = 'auto'): MannWhitneyResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError(`Mann-Whitney U needs samples on both sides, got ${n1} and ${n2}`);
  for (const v of [...a, ...b]) if (Number.isNaN(v)) throw new RangeError('Mann-Whitney U needs numbers, got NaN');
  const { rankSumA, tieTerm } = rankPooled(a, b);
  const u1 = rankSumA - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const uMax = Math.max(u1, u2);
  const useExact = method === 'exact' || (method === 'auto' && tieTerm === 0 && n1 + n2 <= EXACT_MAX_TOTAL);
  if (useExact) {
    // Without ties U is a whole number; with ties (only when asked for
    // 'exact') scipy rounds the statistic into the tie-free distribution too.
    const dist = exactUDistribution(n1, n2);
    const tail = (from: number): number => {
      let sf = 0;
      for (let u = Math.ceil(from); u < dist.length; u++) sf += dist[u]!;
      return sf;
    };
    const pValue = Math.min(1, 2 * tail(uMax));
    return { u: u1, pValue, method: 'exact', minimumPValue: Math.min(1, 2 * dist[dist.length - 1]!) };
  }
  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sigma === 0) return { u: u1, pValue: 1, method: 'asymptotic', minimumPValue: null };
  const z = (uMax - mu - 0.5) / sigma;
  return { u: u1, pValue: Math.min(1, 2 * normalSf(z)), method: 'asymptotic', minimumPValue: null };
}
