// Adaptive repeats on simulated samples: the stopping rule and the verdict
// it hands over, driven pair by pair the way runBench drives real runs.
import { describe, expect, it } from 'vitest';
import { type Direction, type MetricSeries, WALL_TIME } from '../../src/bench/metric.js';
import { type AutoRepeat, type Look, describeStop, lookAtMetrics, lookCount, perLookAlpha, relativeShiftInterval, validateAutoRepeat } from '../../src/bench/sequential.js';
import { createRng, type Rng } from '../../src/bench/stats/random.js';
import { type TestName, compareSeries } from '../../src/bench/verdict.js';

/** Normal-ish draw (sum of twelve uniforms) around `centre` with relative spread `cv`. */
function draw(rng: Rng, centre: number, cv: number): number {
  let z = -6;
  for (let i = 0; i < 12; i++) z += rng();
  return centre * (1 + cv * z);
}

const series = (values: number[], over: Partial<MetricSeries> = {}): MetricSeries => ({ ...WALL_TIME, values, ...over });

interface Simulation {
  seed: string;
  /** Centre of head relative to the baseline's 100. */
  headCentre: number;
  cv: number;
  thresholdPercent: number;
  /** A warn threshold below the threshold; none when absent. */
  warnThresholdPercent?: number;
  /** The metric's better direction (default smaller, a time). */
  direction?: Direction;
  plan: AutoRepeat;
  alpha?: number;
  test?: TestName;
  /** Spend alpha over the looks (the rule); false peeks at full alpha every look (what the rule prevents). */
  spend?: boolean;
}

/** One auto-repeat pair of arms: A B A B up to the minimum, then a pair at a time until every metric is decided. */
function simulate(s: Simulation): { pairs: number; look: Look; verdict: string } {
  const rng = createRng(s.seed);
  const alpha = s.alpha ?? 0.05;
  const base: number[] = [];
  const head: number[] = [];
  let look: Look | null = null;
  const lookAlpha = s.spend === false ? alpha * lookCount(s.plan) : alpha;
  const thresholds = { thresholdPercent: s.thresholdPercent, warnThresholdPercent: s.warnThresholdPercent ?? null };
  const arm = (values: number[]) => [series(values, { direction: s.direction ?? 'smaller' })];
  while (base.length < s.plan.maxRepeat) {
    base.push(draw(rng, 100, s.cv));
    head.push(draw(rng, s.headCentre, s.cv));
    if (base.length < s.plan.minRepeat) continue;
    look = lookAtMetrics(arm(base), arm(head), { ...s.plan, alpha: lookAlpha, ...thresholds });
    if (look.decided) break;
  }
  const verdictAlpha = s.spend === false ? alpha : perLookAlpha(alpha, s.plan);
  const c = compareSeries(arm(base), arm(head), { test: s.test ?? 'mann-whitney', ...thresholds, alpha: verdictAlpha });
  return { pairs: base.length, look: look!, verdict: c.metrics[0]!.verdict };
}

const PLAN: AutoRepeat = { minRepeat: 5, maxRepeat: 30 };

describe('repeat auto: when to stop', () => {
  it('stops within a few pairs of the minimum on a clear 30% slowdown, and calls it a regression', () => {
    const r = simulate({ seed: 'clear', headCentre: 130, cv: 0.02, thresholdPercent: 5, plan: PLAN });
    expect(r.look.decided).toBe(true);
    expect(r.look.metrics[0]!.state).toBe('beyond');
    expect(r.pairs).toBeLessThanOrEqual(8);
    expect(r.verdict).toBe('regression');
  });

  it('stops early on a quiet benchmark that did not change, and calls it no change', () => {
    const r = simulate({ seed: 'quiet', headCentre: 100, cv: 0.005, thresholdPercent: 5, plan: PLAN });
    expect(r.look.metrics[0]!.state).toBe('within');
    expect(r.pairs).toBeLessThanOrEqual(8);
    expect(r.verdict).toBe('no-change');
  });

  it('runs to max-repeat on a change that sits right at the threshold, and says which metric stayed inconclusive', () => {
    const r = simulate({ seed: 'edge', headCentre: 105, cv: 0.03, thresholdPercent: 5, plan: PLAN });
    expect(r.pairs).toBe(30);
    expect(r.look.decided).toBe(false);
    expect(r.look.undecided).toEqual(['wall time']);
    expect(describeStop(r.look, r.pairs, PLAN, true)).toBe('reached max-repeat 30 with 1 metric still inconclusive at the threshold: wall time');
  });

  it('keeps false alarms within alpha on 1,000 simulated no-change pairs whose noise dwarfs the threshold (a change either way counts)', () => {
    // CV 5% against a 0.5% threshold: most pairs run long, and a rule that
    // peeked at full alpha after every pair would stop on chance swings.
    let alarms = 0;
    let pairs = 0;
    for (let i = 0; i < 1000; i++) {
      const r = simulate({ seed: `null-${i}`, headCentre: 100, cv: 0.05, thresholdPercent: 0.5, plan: PLAN, test: 't-test' });
      if (r.verdict === 'regression' || r.verdict === 'improvement') alarms++;
      pairs += r.pairs;
    }
    expect(alarms / 1000).toBeLessThanOrEqual(0.05 + 0.015);
    expect(pairs / 1000).toBeGreaterThan(PLAN.minRepeat);
  }, 120_000);

  it('would not: the same 1,000 pairs peeking at full alpha after every pair raise far more false alarms (the check above can fail)', () => {
    let alarms = 0;
    for (let i = 0; i < 1000; i++) {
      const r = simulate({ seed: `null-${i}`, headCentre: 100, cv: 0.05, thresholdPercent: 0.5, plan: PLAN, test: 't-test', spend: false });
      if (r.verdict === 'regression' || r.verdict === 'improvement') alarms++;
    }
    expect(alarms / 1000).toBeGreaterThan(0.05 + 0.015);
  }, 120_000);

  it('with a warn threshold, keeps sampling a worsening that sits at the warn threshold to max-repeat, where without one it stops early', () => {
    const atWarn = { seed: 'warn-edge', headCentre: 102, cv: 0.03, thresholdPercent: 10, plan: PLAN };
    const plain = simulate(atWarn);
    expect(plain.look.metrics[0]!.state).toBe('within');
    expect(plain.pairs).toBeLessThan(PLAN.maxRepeat);
    const r = simulate({ ...atWarn, warnThresholdPercent: 2 });
    expect(r.pairs).toBe(PLAN.maxRepeat);
    expect(r.look.undecided).toEqual(['wall time']);
    expect(describeStop(r.look, r.pairs, PLAN, true)).toBe('reached max-repeat 30 with 1 metric still inconclusive at the threshold and the warn threshold: wall time');
  });

  it('stops early on a clear worsening between the warn threshold and the threshold, and calls it a warning', () => {
    const r = simulate({ seed: 'warned', headCentre: 105, cv: 0.005, thresholdPercent: 10, warnThresholdPercent: 2, plan: PLAN });
    expect(r.look.metrics[0]!.state).toBe('beyond-warn');
    expect(r.pairs).toBeLessThanOrEqual(10);
    expect(r.verdict).toBe('warning');
    expect(describeStop(r.look, r.pairs, PLAN, true)).toMatch(/^every metric decided at the threshold and the warn threshold after \d+ runs per side/);
  });

  it('spends no runs on the warn threshold on the better side: a 2% drop stops early as a time, and runs on as a rate', () => {
    const drop = { seed: 'warn-side', headCentre: 98, cv: 0.03, thresholdPercent: 10, warnThresholdPercent: 2, plan: PLAN };
    const time = simulate({ ...drop, direction: 'smaller' });
    expect(time.look.metrics[0]!.state).toBe('within');
    expect(time.pairs).toBeLessThan(PLAN.maxRepeat);
    const rate = simulate({ ...drop, direction: 'bigger' });
    expect(rate.pairs).toBe(PLAN.maxRepeat);
    expect(rate.look.undecided).toEqual(['wall time']);
  });

  // A warning is one-sided (only a worsening warns), so peeking inflates it
  // half as fast: 56 looks make that inflation plain.
  const WARN_PLAN: AutoRepeat = { minRepeat: 5, maxRepeat: 60 };

  it('keeps false alarms, warnings included, within alpha on 1,000 simulated no-change pairs whose noise dwarfs the warn threshold', () => {
    // CV 5% against a 0.5% warn threshold: most pairs run long, and every
    // look could stop on a chance swing past the warn bound.
    let alarms = 0;
    for (let i = 0; i < 1000; i++) {
      const r = simulate({ seed: `null-warn-${i}`, headCentre: 100, cv: 0.05, thresholdPercent: 10, warnThresholdPercent: 0.5, plan: WARN_PLAN, test: 't-test' });
      if (r.verdict !== 'no-change') alarms++;
    }
    expect(alarms / 1000).toBeLessThanOrEqual(0.05 + 0.015);
  }, 120_000);

  it('would not: the same 1,000 pairs with a warn threshold, peeking at full alpha after every pair, raise more false alarms than alpha allows', () => {
    let alarms = 0;
    for (let i = 0; i < 1000; i++) {
      const r = simulate({ seed: `null-warn-${i}`, headCentre: 100, cv: 0.05, thresholdPercent: 10, warnThresholdPercent: 0.5, plan: WARN_PLAN, test: 't-test', spend: false });
      if (r.verdict !== 'no-change') alarms++;
    }
    expect(alarms / 1000).toBeGreaterThan(0.05 + 0.015);
  }, 120_000);

  it('without a baseline stops once the median is known to half the threshold', () => {
    const rng = createRng('alone');
    const values: number[] = [];
    let look: Look | null = null;
    while (values.length < PLAN.maxRepeat) {
      values.push(draw(rng, 100, 0.01));
      if (values.length < PLAN.minRepeat) continue;
      look = lookAtMetrics(null, [series(values)], { ...PLAN, alpha: 0.05, thresholdPercent: 5 });
      if (look.decided) break;
    }
    expect(look!.metrics[0]!.state).toBe('precise');
    expect(values.length).toBeLessThan(PLAN.maxRepeat);
    const noisy = Array.from({ length: 30 }, () => draw(rng, 100, 0.2));
    expect(lookAtMetrics(null, [series(noisy)], { ...PLAN, alpha: 0.05, thresholdPercent: 5 }).undecided).toEqual(['wall time']);
  });

  it('counts metrics that more runs cannot help (new in head, other unit) as decided', () => {
    const look = lookAtMetrics([series([1, 2, 3, 4, 5], { unit: 's' })], [series([1, 2, 3, 4, 5], { unit: 'B' }), series([1, 1, 1, 1, 1], { name: 'fresh' })], {
      ...PLAN,
      alpha: 0.05,
      thresholdPercent: 5,
    });
    expect(look.metrics.map((m) => m.state)).toEqual(['unhelped', 'unhelped']);
    expect(look.decided).toBe(true);
  });
});

describe('the interval behind the rule', () => {
  it('is the range of pairwise ratios cut at the Mann-Whitney critical rank, as a relative change', () => {
    // 5 against 5: the exact two-sided 0.05 critical rank is k = 3 (2·P(U ≤ 2) = 0.0317).
    const base = [100, 101, 102, 103, 104];
    const head = base.map((v) => v * 1.5);
    const ci = relativeShiftInterval(base, head, 0.05)!;
    const ratios = head.flatMap((h) => base.map((b) => h / b)).sort((a, b) => a - b);
    expect(ci.lower).toBeCloseTo((ratios[2]! - 1) * 100, 10);
    expect(ci.upper).toBeCloseTo((ratios[22]! - 1) * 100, 10);
  });

  it('is null where the samples are too small to reach the level, so the rule keeps running', () => {
    expect(relativeShiftInterval([1, 2, 3], [4, 5, 6], 0.01)).toBeNull();
  });

  it('is undefined for a relative change from a baseline median of zero', () => {
    expect(relativeShiftInterval([0, 0, 0, -1, 1], [1, 2, 3, 4, 5], 0.05)).toBeUndefined();
  });

  it('spends alpha evenly over the looks between min-repeat and max-repeat', () => {
    expect(lookCount(PLAN)).toBe(26);
    expect(perLookAlpha(0.05, PLAN)).toBeCloseTo(0.05 / 26, 12);
    expect(perLookAlpha(0.05, { minRepeat: 10, maxRepeat: 10 })).toBe(0.05);
  });

  it('refuses a plan whose maximum is below its minimum, or a minimum under 2', () => {
    expect(() => validateAutoRepeat({ minRepeat: 10, maxRepeat: 5 }, 1000)).toThrow('max-repeat 5 is below min-repeat 10');
    expect(() => validateAutoRepeat({ minRepeat: 1, maxRepeat: 5 }, 1000)).toThrow('min-repeat must be a whole number of 2 or more');
  });
});
