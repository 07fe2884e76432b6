// Multiple-comparison corrections for a family of p-values, as adjusted
// p-values: a hypothesis is rejected at level alpha when its adjusted p is
// below alpha.
//   holm  Holm's step-down (1979): controls the family-wise error rate, the
//         chance of even one false alarm among all the metrics, under any
//         dependence between them; uniformly more powerful than Bonferroni.
//   bh    Benjamini-Hochberg (1995): controls the false discovery rate, the
//         expected share of false alarms among the metrics flagged; more
//         power with many metrics, weaker guarantee.
//   none  the p-values as they are: each metric alone at alpha.

import { parseChoice } from '../choice.js';

export const CORRECTIONS = ['none', 'holm', 'bh'] as const;
export type Correction = (typeof CORRECTIONS)[number];

export function parseCorrection(text: string): Correction {
  const aliases: Record<string, Correction> = {
    none: 'none',
    holm: 'holm',
    'holm-bonferroni': 'holm',
    bh: 'bh',
    'benjamini-hochberg': 'bh',
    fdr: 'bh',
  };
  return parseChoice('correction', text, aliases, CORRECTIONS);
}

/** Adjusted p-values in the order given; each is at least its raw p and at most 1. */
export function adjustPValues(pValues: readonly number[], correction: Correction): number[] {
  const m = pValues.length;
  if (correction === 'none' || m <= 1) return [...pValues];
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const adjusted = new Array<number>(m);
  if (correction === 'holm') {
    // Step down: the k-th smallest (0-based) is compared at alpha / (m - k); monotone by running maximum.
    let running = 0;
    order.forEach(({ p, i }, k) => {
      running = Math.max(running, Math.min(1, (m - k) * p));
      adjusted[i] = running;
    });
  } else {
    // Step up: the k-th smallest (1-based) at alpha k / m; monotone by running minimum from the largest.
    let running = 1;
    for (let k = m - 1; k >= 0; k--) {
      const { p, i } = order[k]!;
      running = Math.min(running, Math.min(1, (m / (k + 1)) * p));
      adjusted[i] = running;
    }
  }
  return adjusted;
}
