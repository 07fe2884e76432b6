import { describe, expect, it } from 'vitest';
import { compareSeries, minimumRunsForMannWhitney, parseTestName, parseThreshold, regressionMessage } from '../../src/bench/verdict.js';
import { interleavedSchedule } from '../../src/bench/schedule.js';
import { collectSeries } from '../../src/bench/collect.js';
import { type MetricSeries, WALL_TIME, wallTimeValue } from '../../src/bench/metric.js';
import { createRng } from '../../src/bench/stats/random.js';

/** Normal-ish samples (sum of uniforms) around `centre` with relative spread `cv`, reproducible by seed. */
function samples(seed: string, n: number, centre: number, cv: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => {
    let z = -6;
    for (let i = 0; i < 12; i++) z += rng();
    return centre * (1 + cv * z);
  });
}

const series = (values: number[], over: Partial<MetricSeries> = {}): MetricSeries => ({ ...WALL_TIME, values, ...over });

describe('verdicts', () => {
  const base = samples('base', 12, 100, 0.01);
  const same = samples('same', 12, 100, 0.01);
  const double = samples('double', 12, 200, 0.01);
  const faster = samples('faster', 12, 80, 0.01);

  for (const test of ['percentage', 't-test', 'mann-whitney'] as const) {
    it(`${test}: a head that does twice the work is a regression`, () => {
      const c = compareSeries([series(base)], [series(double)], { test, thresholdPercent: 5 });
      expect(c.metrics[0]!.verdict).toBe('regression');
      expect(c.metrics[0]!.changePercent!).toBeGreaterThan(90);
      expect(c.metrics[0]!.interval!.lower).toBeGreaterThan(5);
      expect(c.regressed).toBe(true);
      expect(c.counts.regression).toBe(1);
      expect(regressionMessage(c)).toMatch(new RegExp(`^1 benchmark metric regressed beyond the 5% threshold \\(${test}\\): wall time \\(\\+\\d+\\.\\d%\\)\\. See the job summary for every run\\.$`));
    });

    it(`${test}: an identical pair is not a regression`, () => {
      const c = compareSeries([series(base)], [series(same)], { test, thresholdPercent: 5 });
      expect(c.metrics[0]!.verdict).toBe('no-change');
      expect(c.regressed).toBe(false);
      expect(regressionMessage(c)).toBeNull();
      expect(c.metrics[0]!.interval!.lower).toBeLessThan(5);
    });

    it(`${test}: a faster head is an improvement`, () => {
      const c = compareSeries([series(base)], [series(faster)], { test, thresholdPercent: 5 });
      expect(c.metrics[0]!.verdict).toBe('improvement');
      expect(c.regressed).toBe(false);
    });
  }

  it('bigger-is-better metrics regress when they fall', () => {
    const c = compareSeries([series(base, { direction: 'bigger' })], [series(faster, { direction: 'bigger' })], {
      test: 't-test',
      thresholdPercent: 5,
    });
    expect(c.metrics[0]!.verdict).toBe('regression');
  });

  it('a direction override by label wins over the format', () => {
    const c = compareSeries([series(base)], [series(faster)], { test: 'percentage', thresholdPercent: 5, directions: { 'wall time': 'bigger' } });
    expect(c.metrics[0]!.metric.direction).toBe('bigger');
    expect(c.metrics[0]!.verdict).toBe('regression');
  });

  it('a change within the threshold is no change even when significant', () => {
    const slightly = samples('slightly', 12, 103, 0.001);
    const tight = samples('tight', 12, 100, 0.001);
    const c = compareSeries([series(tight)], [series(slightly)], { test: 't-test', thresholdPercent: 5 });
    expect(c.metrics[0]!.pValue!).toBeLessThan(1e-6);
    expect(c.metrics[0]!.verdict).toBe('no-change');
  });

  it('a large change that is not significant is no change, and says why', () => {
    // Means 101.25 and 113.75 (+12.3 %), CV about 20 %: scipy.stats.ttest_ind(equal_var=False) gives p = 0.44.
    const c = compareSeries([series([100, 130, 80, 95])], [series([120, 90, 140, 105])], { test: 't-test', thresholdPercent: 5 });
    const m = c.metrics[0]!;
    expect(m.changePercent!).toBeCloseTo(12.345679, 5);
    expect(m.pValue!).toBeCloseTo(0.44, 2);
    expect(m.verdict).toBe('no-change');
    expect(m.reason).toMatch(/^\+12\.35% vs threshold 5% but not significant \(Welch's t-test p = 0\.44 ≥ 0\.05\); noise \(CV 20\.7%\) is above half the threshold$/);
    expect(m.noisy).toBe(true);
  });

  it('noise at or below half the threshold is not called out', () => {
    const c = compareSeries([series(base)], [series(same)], { test: 'percentage', thresholdPercent: 5 });
    expect(c.metrics[0]!.noisePercent!).toBeLessThan(2.5);
    expect(c.metrics[0]!.noisy).toBe(false);
  });

  it('Mann-Whitney with too few runs is inconclusive and says how many are needed', () => {
    const c = compareSeries([series([100, 101, 99])], [series([200, 201, 199])], { test: 'mann-whitney', thresholdPercent: 5 });
    expect(c.metrics[0]!.verdict).toBe('inconclusive');
    expect(c.metrics[0]!.reason).toMatch(/with 3 and 3 runs Mann-Whitney cannot reach p < 0.05 .*set repeat to at least 4/);
    expect(c.regressed).toBe(false);
  });

  it('the t-test with one run per side is inconclusive; the percentage test still decides', () => {
    expect(compareSeries([series([100])], [series([200])], { test: 't-test', thresholdPercent: 5 }).metrics[0]!.verdict).toBe('inconclusive');
    const p = compareSeries([series([100])], [series([200])], { test: 'percentage', thresholdPercent: 5 }).metrics[0]!;
    expect(p.verdict).toBe('regression');
    expect(p.interval).toBeNull();
  });

  it('constant identical samples are no change; constant different samples are decided', () => {
    expect(compareSeries([series([5, 5, 5])], [series([5, 5, 5])], { test: 't-test', thresholdPercent: 1 }).metrics[0]!.verdict).toBe('no-change');
    expect(compareSeries([series([5, 5, 5])], [series([6, 6, 6])], { test: 't-test', thresholdPercent: 1 }).metrics[0]!.verdict).toBe('regression');
  });

  it('metrics only in head are new, only in baseline are missing; neither fails the step', () => {
    const other = series([1, 2, 3], { name: 'other' });
    const gone = series([1, 2, 3], { name: 'gone' });
    const c = compareSeries([series(base), gone], [series(same), other], { test: 'percentage', thresholdPercent: 5 });
    expect(c.metrics.map((m) => [m.metric.name, m.verdict])).toEqual([
      ['wall time', 'no-change'],
      ['other', 'new'],
      ['gone', 'missing'],
    ]);
    expect(c.regressed).toBe(false);
  });

  it('converts a baseline recorded in another time unit, and refuses other unit changes', () => {
    const c = compareSeries([series([0.1, 0.1, 0.1], { unit: 's' })], [series([100, 100, 100])], { test: 'percentage', thresholdPercent: 5 });
    expect(c.metrics[0]!.baselineValues).toEqual([100, 100, 100]);
    expect(c.metrics[0]!.verdict).toBe('no-change');
    const clash = compareSeries([series([1, 1], { unit: 'MB' })], [series([1, 1], { unit: 'MiB' })], { test: 'percentage', thresholdPercent: 5 });
    expect(clash.metrics[0]!.verdict).toBe('inconclusive');
    expect(clash.metrics[0]!.reason).toBe('the baseline is in "MB" but head is in "MiB": regenerate the baseline');
  });

  it('a zero baseline cannot give a relative change', () => {
    expect(compareSeries([series([0, 0])], [series([1, 1])], { test: 'percentage', thresholdPercent: 5 }).metrics[0]!.verdict).toBe('inconclusive');
    expect(compareSeries([series([0, 0])], [series([0, 0])], { test: 'percentage', thresholdPercent: 5 }).metrics[0]!.verdict).toBe('no-change');
  });

  it('the reported interval is reproducible run to run', () => {
    const a = compareSeries([series(base)], [series(double)], { test: 'mann-whitney', thresholdPercent: 5 });
    const b = compareSeries([series(base)], [series(double)], { test: 'mann-whitney', thresholdPercent: 5 });
    expect(a.metrics[0]!.interval).toEqual(b.metrics[0]!.interval);
  });

  it('rejects options a user could mistype', () => {
    expect(() => compareSeries([], [], { test: 'z-test' as never, thresholdPercent: 5 })).toThrow(/unknown test "z-test": use one of percentage, t-test, mann-whitney/);
    expect(() => compareSeries([], [], { test: 't-test', thresholdPercent: -1 })).toThrow(/threshold must be a percentage of 0 or more/);
    expect(() => compareSeries([], [], { test: 't-test', thresholdPercent: 5, alpha: 5 })).toThrow(/alpha must be between 0 and 1/);
    expect(parseThreshold('5%')).toBe(5);
    expect(parseThreshold(' 2.5 ')).toBe(2.5);
    expect(() => parseThreshold('five')).toThrow('threshold must be a percentage such as 5 or 5%, got "five"');
    expect(parseTestName('Welch')).toBe('t-test');
    expect(() => parseTestName('chi2')).toThrow(/use one of percentage, t-test, mann-whitney/);
  });

  it('minimum Mann-Whitney runs: 4 per side for alpha 0.05 (2/C(8,4) = 0.029), 5 for 0.01', () => {
    expect(minimumRunsForMannWhitney(0.05)).toBe(4);
    expect(minimumRunsForMannWhitney(0.01)).toBe(5);
  });
});

describe('run schedule', () => {
  it('runs warm-ups first, then alternates baseline and head', () => {
    const s = interleavedSchedule({ repeat: 3, warmup: 1 });
    expect(s.map((r) => `${r.warmup ? 'w' : ''}${r.arm === 'baseline' ? 'A' : 'B'}${r.index}`)).toEqual(['wA0', 'wB0', 'A0', 'B0', 'A1', 'B1', 'A2', 'B2']);
  });

  it('runs head alone when the baseline comes from a file', () => {
    const s = interleavedSchedule({ repeat: 2, warmup: 2, arms: ['head'] });
    expect(s.map((r) => [r.warmup, r.index])).toEqual([[true, 0], [true, 1], [false, 0], [false, 1]]);
  });

  it('rejects counts that are not whole or are out of range', () => {
    expect(() => interleavedSchedule({ repeat: 0 })).toThrow('repeat must be a whole number from 1 to 1000, got 0');
    expect(() => interleavedSchedule({ repeat: 2.5 })).toThrow(/repeat must be a whole number/);
    expect(() => interleavedSchedule({ repeat: 3, warmup: -1 })).toThrow('warmup must be a whole number from 0 to 100, got -1');
  });
});

describe('collecting runs into series', () => {
  it('gathers each metric across runs in run order', () => {
    const runs = [[wallTimeValue(10), { name: 'x', measure: 'latency', unit: 's', direction: 'smaller' as const, value: 1 }], [wallTimeValue(11)], [wallTimeValue(12)]];
    const { series: s, warnings } = collectSeries(runs);
    expect(s.map((m) => [m.name, m.values])).toEqual([['wall time', [10, 11, 12]], ['x', [1]]]);
    expect(warnings).toEqual(['head: metric "x" is missing from runs 2, 3 (its statistics use the 1 runs that have it)']);
  });

  it('refuses a metric whose unit changes between runs', () => {
    const runs = [[{ ...wallTimeValue(10) }], [{ ...wallTimeValue(0.01), unit: 's' }]];
    expect(() => collectSeries(runs, 'baseline')).toThrow('baseline run 2: metric "wall time" is in "s", but earlier runs used "ms": the benchmark must report each metric in one unit');
  });
});
