import { describe, expect, it } from 'vitest';
import {
  binomialCdf,
  lnGamma,
  normalCdf,
  normalSf,
  regularizedIncompleteBeta,
  studentTCdf,
  studentTQuantile,
  studentTTwoSidedP,
} from '../../src/bench/stats/special.js';
import { mean, median, medianInterval, meanInterval, sampleStdDev, summarize } from '../../src/bench/stats/describe.js';
import { welchTTest } from '../../src/bench/stats/welch.js';
import { exactUDistribution, mannWhitneyU } from '../../src/bench/stats/mann-whitney.js';
import { bootstrapTwoSampleInterval, medianInPlace, relativeMedianChange } from '../../src/bench/stats/bootstrap.js';
import { createRng } from '../../src/bench/stats/random.js';

// Unless a test says otherwise, reference values come from scipy 1.17.1 and
// Python's statistics module; test/fixtures/bench/stats-references.py prints
// every one of them.

/** Relative closeness: |a − b| ≤ tol · max(|b|, tiny). */
function expectClose(actual: number, expected: number, tol = 1e-12): void {
  const scale = Math.max(Math.abs(expected), 1e-300);
  expect(Math.abs(actual - expected) / scale, `${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
}

// Wikipedia, "Welch's t-test", Examples: sample sets A1 and A2 (the article
// reports t = −2.46, ν ≈ 25.0, p = 0.021 for these).
const A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
const A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
const B1 = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
const B2 = [28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7, 23.2, 17.5, 20.6, 18.0, 23.9, 21.6, 24.3, 20.4, 23.9, 13.3];

describe('special functions', () => {
  it('lnGamma matches Γ(1/2) = √π, Γ(n) = (n−1)! and scipy far out', () => {
    expectClose(lnGamma(0.5), 0.5 * Math.log(Math.PI), 1e-14); // closed form
    expect(Math.abs(lnGamma(1))).toBeLessThan(1e-15);
    expectClose(lnGamma(3), Math.log(2), 1e-14);
    expectClose(lnGamma(2.5), 0.2846828704729192, 1e-13);
    expectClose(lnGamma(171.5), 709.1431630309283, 1e-14);
    expectClose(lnGamma(0.1), Math.log(9.513507698668732), 1e-13); // Γ(0.1), Abramowitz & Stegun table 6.1
  });

  it('incomplete beta matches its closed forms', () => {
    // Derived by hand: I_x(1,1) = x, I_x(a,1) = x^a, I_x(1,b) = 1 − (1−x)^b, I_½(a,a) = ½.
    for (const x of [0.01, 0.3, 0.5, 0.87]) {
      expectClose(regularizedIncompleteBeta(x, 1, 1), x);
      expectClose(regularizedIncompleteBeta(x, 3.5, 1), x ** 3.5);
      expectClose(regularizedIncompleteBeta(x, 1, 4), 1 - (1 - x) ** 4);
    }
    expectClose(regularizedIncompleteBeta(0.5, 7.25, 7.25), 0.5);
    expect(regularizedIncompleteBeta(0, 2, 3)).toBe(0);
    expect(regularizedIncompleteBeta(1, 2, 3)).toBe(1);
  });

  it('incomplete beta matches scipy.special.betainc across shapes and tails', () => {
    expectClose(regularizedIncompleteBeta(0.3, 2.5, 4), 0.3521975859067672);
    expectClose(regularizedIncompleteBeta(0.02, 0.5, 30), 0.7271017347653229);
    expectClose(regularizedIncompleteBeta(1e-5, 50, 0.5), 7.958962753336943e-252, 1e-10);
    expectClose(regularizedIncompleteBeta(0.999, 200, 3), 0.9988334368468834);
    expectClose(regularizedIncompleteBeta(0.5, 1000, 1000), 0.5, 1e-11);
    expectClose(regularizedIncompleteBeta(0.7, 0.1, 0.2), 0.7163269829958612);
  });

  it('incomplete beta rejects arguments outside its domain', () => {
    expect(() => regularizedIncompleteBeta(1.5, 1, 1)).toThrow(/0 <= x <= 1/);
    expect(() => regularizedIncompleteBeta(0.5, 0, 1)).toThrow(/a, b > 0/);
  });

  it('t CDF matches the Cauchy (ν = 1) and ν = 2 closed forms', () => {
    for (const t of [-7, -1, -0.2, 0, 0.5, 3, 50]) {
      expectClose(studentTCdf(t, 1), 0.5 + Math.atan(t) / Math.PI, 1e-13);
      expectClose(studentTCdf(t, 2), 0.5 + t / (2 * Math.sqrt(2 + t * t)), 1e-13);
    }
  });

  it('t CDF and tails match scipy.stats.t, including fractional ν and far tails', () => {
    expectClose(studentTCdf(2, 3), 0.9303370157205785);
    expectClose(studentTCdf(-1.5, 12.7), 0.0790292853288559);
    expectClose(studentTTwoSidedP(10, 5), 2 * 8.547378787148181e-5, 1e-11);
    expectClose(studentTTwoSidedP(40, 20), 2 * 7.287348277155374e-21, 1e-10);
  });

  it('t quantiles match the textbook table and scipy.stats.t.ppf', () => {
    // The familiar two-sided 95 % critical values: 12.706 (ν=1), 4.303 (ν=2), 2.262 (ν=9).
    expectClose(studentTQuantile(0.975, 1), 12.706204736174694, 1e-12);
    expectClose(studentTQuantile(0.975, 2), 4.302652729749462, 1e-12);
    expectClose(studentTQuantile(0.975, 9), 2.262157162798205, 1e-12);
    expectClose(studentTQuantile(0.975, 29.5), 2.043724966772122, 1e-12);
    expectClose(studentTQuantile(0.995, 4), 4.604094871349992, 1e-12);
    expectClose(studentTQuantile(0.9999, 3), 22.203742273205, 1e-11);
    expectClose(studentTQuantile(0.025, 7), -2.3646242515927844, 1e-12);
    expectClose(studentTQuantile(0.975, 1e5), 1.9599877075346095, 1e-10);
  });

  it('normal CDF matches scipy.stats.norm, including a tail of 6e-16', () => {
    expectClose(normalCdf(-3), 0.0013498980316300933, 1e-13);
    expectClose(normalCdf(-1), 0.15865525393145707, 1e-13);
    expectClose(normalCdf(0.5), 0.6914624612740131, 1e-13);
    expectClose(normalCdf(1.959963984540054), 0.975, 1e-13);
    expectClose(normalSf(8), 6.22096057427174e-16, 1e-11);
  });

  it('binomial CDF matches exact counts: P(B(10,½) ≤ 1) = 11/1024', () => {
    expectClose(binomialCdf(1, 10, 0.5), 11 / 1024, 1e-13);
    expectClose(binomialCdf(40, 100, 0.5), 0.028443966820490444, 1e-11);
    expect(binomialCdf(-1, 10, 0.5)).toBe(0);
    expect(binomialCdf(10, 10, 0.5)).toBe(1);
  });
});

describe('descriptive statistics', () => {
  it('mean, median and sample standard deviation match Python statistics', () => {
    expectClose(mean(A1), 20.82, 1e-14);
    expectClose(median(A1), 21.0);
    expectClose(sampleStdDev(A1), 2.804893682731767, 1e-13);
    expectClose(mean(B2), 21.59, 1e-14);
    expectClose(median(B2), 21.85, 1e-14);
    expectClose(sampleStdDev(B2), 4.1234757949549, 1e-13);
  });

  it('the mean interval is the t interval scipy.stats.t.interval gives', () => {
    const ci = meanInterval(A1)!;
    expectClose(ci.lower, 19.26670165245124, 1e-12);
    expectClose(ci.upper, 22.373298347548754, 1e-12);
    expect(meanInterval([5])).toBeNull();
  });

  it('the median interval uses order statistics x(2)..x(9) for n = 10 at 95 % (coverage 1 − 22/1024)', () => {
    // Derived by hand: P(B(10,½) ≤ 1) = 11/1024 ≤ 0.025 < P(B ≤ 2) = 56/1024.
    const values = [9, 3, 7, 1, 10, 5, 2, 8, 4, 6];
    const ci = medianInterval(values)!;
    expect(ci.lower).toBe(2);
    expect(ci.upper).toBe(9);
    expectClose(ci.confidence, 1 - 22 / 1024, 1e-13);
  });

  it('the median interval is absent when n is too small to reach the level', () => {
    // n = 5: even [min, max] covers only 1 − 2/32 = 93.75 % < 95 %.
    expect(medianInterval([1, 2, 3, 4, 5])).toBeNull();
    expect(medianInterval([1, 2, 3, 4, 5, 6])!.confidence).toBeCloseTo(1 - 2 / 64, 14);
  });

  it('summarize gathers everything, with CV relative to the mean', () => {
    const s = summarize([10, 12, 11, 13, 9]);
    expect(s).toMatchObject({ n: 5, mean: 11, median: 11, min: 9, max: 13 });
    expectClose(s.stddev, Math.sqrt(2.5));
    expectClose(s.cv, Math.sqrt(2.5) / 11);
    expect(summarize([4]).stddev).toBe(0);
    expect(Number.isNaN(summarize([-1, 1]).cv)).toBe(true);
  });

  it('rejects empty and non-finite samples with a message', () => {
    expect(() => summarize([])).toThrow(/at least one sample/);
    expect(() => mean([1, NaN])).toThrow(/finite/);
    expect(() => meanInterval([1, 2], 1.5)).toThrow(/between 0 and 1/);
  });
});

describe("Welch's t-test", () => {
  it('reproduces the Wikipedia example (t = −2.46, ν ≈ 25.0, p = 0.021) to scipy precision', () => {
    const r = welchTTest(A1, A2);
    expectClose(r.t, -2.455356398286006, 1e-12);
    expectClose(r.df, 24.988529290231416, 1e-12);
    expectClose(r.pValue, 0.021378001462866992, 1e-10);
    expectClose(r.interval.lower, -3.984096267140929, 1e-11);
    expectClose(r.interval.upper, -0.3492370661924069, 1e-10);
  });

  it('handles unequal sizes and variances as scipy.stats.ttest_ind(equal_var=False)', () => {
    const r = welchTTest(B1, B2);
    expectClose(r.t, -2.225512039969852, 1e-12);
    expectClose(r.df, 24.524634944257343, 1e-12);
    expectClose(r.pValue, 0.035484530830010394, 1e-10);
    expectClose(r.interval.lower, -4.276458650120555, 1e-11);
    expectClose(r.interval.upper, -0.16354134987944358, 1e-10);
  });

  it('is symmetric: swapping the samples flips t and keeps p', () => {
    const r = welchTTest(A2, A1);
    expectClose(r.t, 2.455356398286006, 1e-12);
    expectClose(r.pValue, 0.021378001462866992, 1e-10);
  });

  it('gives p = 1 for identical constant samples and p = 0 for different constant samples', () => {
    expect(welchTTest([3, 3, 3], [3, 3]).pValue).toBe(1);
    const r = welchTTest([3, 3, 3], [4, 4]);
    expect(r.pValue).toBe(0);
    expect(r.t).toBe(-Infinity);
  });

  it('needs two samples per side', () => {
    expect(() => welchTTest([1], [1, 2])).toThrow(/at least 2 samples/);
  });
});

describe('Mann-Whitney U', () => {
  it("reproduces scipy's documented example: U = 17, exact p = 1/9", () => {
    const r = mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12]);
    expect(r.u).toBe(17);
    expect(r.method).toBe('exact');
    expectClose(r.pValue, 0.1111111111111111, 1e-13);
    expectClose(mannWhitneyU([19, 22, 16, 29, 24], [20, 11, 17, 12], 'asymptotic').pValue, 0.11134688653314041, 1e-12);
  });

  it('exact p-values match scipy for n = 9 + 9 and 12 + 14', () => {
    const X = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    expect(mannWhitneyU(X, Y, 'exact').u).toBe(58);
    expectClose(mannWhitneyU(X, Y, 'exact').pValue, 0.13591114767585355, 1e-12);
    expectClose(mannWhitneyU(X, Y, 'asymptotic').pValue, 0.13291945818531892, 1e-12);
    const R1 = [10.1, 10.4, 9.8, 10.0, 10.3, 10.2, 9.9, 10.6, 10.05, 10.15, 9.95, 10.25];
    const R2 = [10.7, 10.5, 10.9, 10.35, 11.0, 10.45, 10.8, 10.65, 10.55, 11.2, 10.12, 10.75, 10.85, 10.95];
    const exact = mannWhitneyU(R1, R2);
    expect(exact).toMatchObject({ u: 11, method: 'exact' });
    expectClose(exact.pValue, 4.038228563736708e-5, 1e-11);
    expectClose(mannWhitneyU(R1, R2, 'asymptotic').pValue, 0.0001922429644545392, 1e-11);
  });

  it('applies the tie correction in the normal approximation, and auto picks it when there are ties', () => {
    const T1 = [1, 2, 2, 3, 3, 3, 4, 5, 7, 7, 8, 9];
    const T2 = [3, 4, 4, 5, 6, 6, 6, 8, 9, 10, 10, 11, 12, 12];
    const r = mannWhitneyU(T1, T2);
    expect(r).toMatchObject({ u: 37, method: 'asymptotic' });
    expectClose(r.pValue, 0.016306204914059857, 1e-12);
  });

  it('reports the smallest reachable p: 3 vs 3 runs can never reach 0.05', () => {
    const r = mannWhitneyU([1, 2, 3], [4, 5, 6]);
    expectClose(r.pValue, 0.1, 1e-14);
    expectClose(r.minimumPValue!, 0.1, 1e-14);
  });

  it('the exact U distribution sums to one and is symmetric', () => {
    // Derived by hand for m = n = 2: C(4,2) = 6 orderings give U = 0,1,2,2,3,4.
    expect(Array.from(exactUDistribution(2, 2)).map((p) => p * 6)).toEqual([1, 1, 2, 1, 1].map((x) => expect.closeTo(x, 12)));
    const d = exactUDistribution(13, 17);
    expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let u = 0; u < d.length; u++) expect(d[u]!).toBeCloseTo(d[d.length - 1 - u]!, 14);
  });

  it('gives p = 1 when every value is tied', () => {
    expect(mannWhitneyU([5, 5, 5, 5, 5, 5, 5, 5, 5], [5, 5, 5, 5, 5, 5, 5, 5, 5]).pValue).toBe(1);
  });
});

describe('bootstrap', () => {
  it('is reproducible for a seed and differs between seeds', () => {
    const a = [10, 11, 12, 10.5, 11.5, 10.2, 11.8];
    const b = [12, 13, 12.5, 13.5, 12.2, 13.1, 12.9];
    const i1 = bootstrapTwoSampleInterval(a, b, relativeMedianChange, { seed: 1 });
    const i2 = bootstrapTwoSampleInterval(a, b, relativeMedianChange, { seed: 1 });
    expect(i1).toEqual(i2);
    // Medians of 7 values are discrete, so compare the streams themselves.
    const s1 = createRng(1);
    const s2 = createRng(2);
    expect([s1(), s1(), s1()]).not.toEqual([s2(), s2(), s2()]);
    // The observed change, +14.8 %, lies inside; the interval excludes 0.
    expect(i1!.lower).toBeGreaterThan(0);
    expect(i1!.lower).toBeLessThan(relativeMedianChange(a, b));
    expect(i1!.upper).toBeGreaterThan(relativeMedianChange(a, b));
  });

  it('the PRNG is uniform enough: mean ≈ ½ and every decile used', () => {
    const rng = createRng('uniformity');
    const deciles = new Array<number>(10).fill(0);
    let sum = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = rng();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
      deciles[Math.floor(x * 10)]!++;
    }
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
    for (const d of deciles) expect(Math.abs(d - 10_000)).toBeLessThan(500);
  });
});

describe('median by selection', () => {
  it('matches the sorted median for odd, even, tied and shuffled inputs', () => {
    const rng = createRng('select');
    for (let n = 1; n <= 41; n++) {
      const values = Array.from({ length: n }, () => Math.floor(rng() * 10));
      const a = Float64Array.from(values);
      expect(medianInPlace(a)).toBe(median(values));
    }
  });

  it('relativeMedianChange leaves its inputs alone', () => {
    const base = Float64Array.of(3, 1, 2);
    expect(relativeMedianChange(base, [4, 4, 4])).toBe(1);
    expect(Array.from(base)).toEqual([3, 1, 2]);
  });
});
