// Several metrics, one family: the corrections, per-metric thresholds and
// warn thresholds, on simulated samples.
import { describe, expect, it } from 'vitest';
import { adjustPValues, parseCorrection } from '../../src/bench/stats/correction.js';
import { compareSeries, parseThresholdLines, unreachableSignificance, warningMessage, regressionMessage, type VerdictOptions } from '../../src/bench/verdict.js';
import { type MetricSeries, WALL_TIME } from '../../src/bench/metric.js';
import { createRng, type Rng } from '../../src/bench/stats/random.js';

/** Normal-ish values (sum of twelve uniforms) around `centre` with relative spread `cv`. */
function normal(rng: Rng, n: number, centre: number, cv: number): number[] {
  return Array.from({ length: n }, () => {
    let z = -6;
    for (let i = 0; i < 12; i++) z += rng();
    return centre * (1 + cv * z);
  });
}

const metric = (name: string, values: number[]): MetricSeries => ({ ...WALL_TIME, name, values });

/** A family of `m` metrics on one side, each around 100 with 2 % noise. */
function family(rng: Rng, m: number, n: number, shift: (i: number) => number = () => 0): MetricSeries[] {
  return Array.from({ length: m }, (_, i) => metric(`bench ${i}`, normal(rng, n, 100 * (1 + shift(i)), 0.02)));
}

describe('adjusted p-values', () => {
  // Reference values: R's p.adjust(p, "holm") and p.adjust(p, "BH").
  it('Holm multiplies the k-th smallest by m - k + 1 and keeps them in order', () => {
    const adjusted = adjustPValues([0.001, 0.04, 0.03, 0.5], 'holm');
    [0.004, 0.09, 0.09, 0.5].forEach((want, i) => expect(adjusted[i]).toBeCloseTo(want, 12));
    expect(adjustPValues([0.01, 0.02, 0.03, 0.04, 0.05], 'holm').map((p) => +p.toFixed(12))).toEqual([0.05, 0.08, 0.09, 0.09, 0.09]);
  });

  it('Benjamini-Hochberg multiplies the k-th smallest by m / k, minimum taken from the largest down', () => {
    const adjusted = adjustPValues([0.001, 0.04, 0.03, 0.5], 'bh');
    [0.004, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5].forEach((want, i) => expect(adjusted[i]).toBeCloseTo(want, 12));
  });

  it('none, and a family of one, leave the p-values as they are; nothing goes above 1', () => {
    expect(adjustPValues([0.2, 0.01], 'none')).toEqual([0.2, 0.01]);
    expect(adjustPValues([0.03], 'holm')).toEqual([0.03]);
    expect(Math.max(...adjustPValues([0.6, 0.7, 0.9], 'holm'))).toBe(1);
  });

  it('reads the spellings users write and names the choices otherwise', () => {
    expect(parseCorrection(' Holm ')).toBe('holm');
    expect(parseCorrection('benjamini-hochberg')).toBe('bh');
    expect(() => parseCorrection('sidak')).toThrow('unknown correction "sidak": use one of none, holm, bh');
    // A name an object inherits is no spelling of anything.
    expect(() => parseCorrection('constructor')).toThrow('unknown correction "constructor"');
  });
});

describe('the family-wise false-alarm rate over simulated no-change families', () => {
  // 2,000 families of 10 metrics, 10 runs a side, no change anywhere; a
  // threshold of 0 leaves the decision to the test alone, so every
  // regression or improvement is a false alarm.
  const FAMILIES = 2000;
  const METRICS = 10;
  const alpha = 0.05;
  const rate = (correction: VerdictOptions['correction']): number => {
    const rng = createRng(`no-change families ${correction}`);
    let alarms = 0;
    for (let f = 0; f < FAMILIES; f++) {
      const c = compareSeries(family(rng, METRICS, 10), family(rng, METRICS, 10), { test: 't-test', thresholdPercent: 0, alpha, correction });
      if (c.counts.regression + c.counts.improvement > 0) alarms++;
    }
    return alarms / FAMILIES;
  };
  // Three standard errors of a rate of alpha over this many families: room for the simulation's own chance.
  const slack = 3 * Math.sqrt((alpha * (1 - alpha)) / FAMILIES);

  it('Holm keeps it at alpha', () => {
    expect(rate('holm')).toBeLessThanOrEqual(alpha + slack);
  });

  it('without a correction it is far above alpha, near 1 - 0.95^10', () => {
    const r = rate('none');
    expect(r).toBeGreaterThan(0.3);
    expect(r).toBeLessThan(0.5);
  });

  it('Benjamini-Hochberg keeps it at alpha too when nothing changed (there every discovery is false)', () => {
    expect(rate('bh')).toBeLessThanOrEqual(alpha + slack);
  });
});

describe('Holm still finds a real change among many metrics', () => {
  it('flags the one metric that got 10 % slower and none of the nine unchanged', () => {
    const rng = createRng('one real change');
    const base = family(rng, 10, 10);
    const head = family(rng, 10, 10, (i) => (i === 3 ? 0.1 : 0));
    const c = compareSeries(base, head, { test: 'mann-whitney', thresholdPercent: 5 });
    expect(c.options.correction).toBe('holm');
    expect(c.metrics.filter((m) => m.verdict === 'regression').map((m) => m.metric.name)).toEqual(['bench 3']);
    const flagged = c.metrics[3]!;
    expect(flagged.adjustedPValue!).toBeGreaterThan(flagged.pValue!);
    expect(flagged.adjustedPValue!).toBeLessThan(0.05);
    expect(flagged.reason).toMatch(/Mann-Whitney p = \S+, holm-adjusted p = \S+\)$/);
  });
});

describe('per-metric thresholds and warn thresholds', () => {
  const rng = createRng('thresholds');
  const base = [metric('parse', normal(rng, 12, 100, 0.005)), metric('render', normal(rng, 12, 100, 0.005)), metric('io', normal(rng, 12, 100, 0.005))];
  // Every metric 3 % slower: clearly significant, below the default 5 % threshold.
  const head = base.map((s) => metric(s.name, normal(rng, 12, 103, 0.005)));

  it('a metric with its own lower threshold regresses where the default lets the same change pass', () => {
    const c = compareSeries(base, head, { test: 'mann-whitney', thresholdPercent: 5, thresholds: { parse: 2 } });
    expect(c.metrics.map((m) => [m.metric.name, m.verdict, m.thresholdPercent])).toEqual([
      ['parse', 'regression', 2],
      ['render', 'no-change', 5],
      ['io', 'no-change', 5],
    ]);
    expect(regressionMessage(c)).toMatch(/^1 benchmark metric regressed beyond the 2% threshold \(mann-whitney\): parse \(\+[23]\.\d%\)\./);
  });

  it('a significant worsening past the warn threshold but within the threshold is a warning, which does not fail', () => {
    const c = compareSeries(base, head, { test: 'mann-whitney', thresholdPercent: 5, warnThresholdPercent: 2, thresholds: { io: 10 }, warnThresholds: { io: 4 } });
    expect(c.metrics.map((m) => [m.metric.name, m.verdict])).toEqual([
      ['parse', 'warning'],
      ['render', 'warning'],
      ['io', 'no-change'],
    ]);
    expect(c.regressed).toBe(false);
    expect(regressionMessage(c)).toBeNull();
    expect(warningMessage(c)).toMatch(/^2 benchmark metrics worsened beyond the 2% warn threshold \(mann-whitney\): parse \(\+[23]\.\d%\), render \(\+[23]\.\d%\), within the threshold: not failing$/);
  });

  it('an improvement past the warn threshold is no warning', () => {
    const c = compareSeries(head, base, { test: 'mann-whitney', thresholdPercent: 5, warnThresholdPercent: 2 });
    expect(c.counts.warning).toBe(0);
    expect(c.counts['no-change']).toBe(3);
  });

  it('refuses a warn threshold that is not below the threshold', () => {
    expect(() => compareSeries(base, head, { test: 'percentage', thresholdPercent: 5, warnThresholdPercent: 5 })).toThrow(
      'warn-threshold 5% must be below the threshold 5%: it marks smaller changes than those that fail',
    );
  });
});

describe('threshold lines', () => {
  it('reads one default and NAME=PERCENT lines, splitting at the last "="', () => {
    expect(parseThresholdLines(['5%', 'BenchmarkSub/n=10-2=3%', 'fib (throughput) = 1.5'])).toEqual({
      defaultPercent: 5,
      perMetric: { 'BenchmarkSub/n=10-2': 3, 'fib (throughput)': 1.5 },
    });
    expect(parseThresholdLines('')).toEqual({ defaultPercent: null, perMetric: {} });
  });

  it('refuses two defaults, a line without a name and a name given twice', () => {
    expect(() => parseThresholdLines('5\n6')).toThrow('two default thresholds (5% and "6"): give one plain percentage and NAME=PERCENT for the rest');
    expect(() => parseThresholdLines('=5')).toThrow('threshold line "=5" has no metric name before "=": write NAME=PERCENT');
    expect(() => parseThresholdLines('a=1\na=2')).toThrow('metric "a" has two thresholds: keep one line for it');
  });
});

describe('runs that cannot reach significance', () => {
  it('knows Mann-Whitney needs 4 runs a side at alpha 0.05 and 5 at 0.01, also with unequal sides', () => {
    expect(unreachableSignificance('mann-whitney', 0.05, 3, 3)).toMatch(/smallest possible p is 0\.10, not below alpha 0\.05/);
    expect(unreachableSignificance('mann-whitney', 0.05, 4, 4)).toBeNull();
    expect(unreachableSignificance('mann-whitney', 0.01, 4, 4)).toMatch(/smallest possible p is 0\.029/);
    expect(unreachableSignificance('mann-whitney', 0.01, 5, 5)).toBeNull();
    expect(unreachableSignificance('mann-whitney', 0.05, 2, 10)).toBeNull(); // 2 / C(12, 2) = 0.030
    expect(unreachableSignificance('t-test', 0.05, 1, 10)).toMatch(/needs at least 2 runs on each side/);
    expect(unreachableSignificance('percentage', 0.05, 1, 1)).toBeNull();
  });
});
