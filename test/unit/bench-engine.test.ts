// runBench on the real engine without KVM: real images, the real rootfs
// cache and the real guest init in its Unix-socket test mode standing in for
// the VM (as in engine-run.test.ts; the command then runs on this host, so
// guest paths are host paths). What is measured is real: the head sleeps
// three times as long as the baseline, a gap no scheduling noise closes.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBench, type BenchResult } from '../../src/engine/bench.js';
import { validateBenchInput, type BenchInput } from '../../src/engine/bench-options.js';
import { chooseVcpuCpus, parseCpuList } from '../../src/engine/bench-pinning.js';
import { VmstepError } from '../../src/engine/errors.js';
import type { RunInput } from '../../src/engine/types.js';
import { validateRunInput } from '../../src/engine/validate.js';
import type { LaunchOptions } from '../../src/engine/vm-port.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { testModeHost, testModeVm as makeTestModeVm } from '../helpers/guest-init.js';

let work: string;
let kernel: string;
const launches: LaunchOptions[] = [];

const testModeVm = makeTestModeVm({ reportPinning: true, onLaunch: (o) => launches.push(o) });

function image(name: string, script: string): string {
  const dir = join(work, 'images', name);
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/hostname', content: `${name}\n` }] }], config: { Entrypoint: ['sh', '-c'], Cmd: [script] } });
  return `oci:${dir}`;
}

/** A benchmark that sleeps S seconds and reports that as a BMF metric in OUT/bmf.json. */
function sleeper(name: string, seconds: number, out = join(work, 'guest', name)): string {
  return image(name, `mkdir -p ${out} && sleep ${seconds} && printf '{"nap":{"latency":{"value":%s}}}' ${seconds * 1000} > ${out}/bmf.json`);
}

function bench(ref: string, bench: BenchInput, run: Partial<RunInput> = {}, onStart?: (arm: string) => void): Promise<BenchResult> {
  const head = validateRunInput({ image: ref, cacheDir: join(work, 'cache'), scratchRoot: join(work, 'scratch'), kernel, vcpus: 1, ...run }, { style: 'cli', cwd: work });
  const settings = validateBenchInput({ resultsDir: join(work, 'results', String(launches.length)), ...bench }, { style: 'cli', cwd: work });
  return runBench(head, settings, { runStart: (r) => onStart?.(`${r.arm}${r.warmup ? '*' : ''}`) }, { launchVm: testModeVm });
}

beforeAll(() => {
  ({ work, kernel } = testModeHost('vmstep-bench-engine-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('runBench against a baseline image', () => {
  let result: BenchResult;
  const order: string[] = [];
  const metricsFile = () => join(work, 'guest', 'pair', 'bmf.json');

  beforeAll(async () => {
    const base = sleeper('base', 0.1, join(work, 'guest', 'pair'));
    const head = sleeper('head', 0.3, join(work, 'guest', 'pair'));
    launches.length = 0;
    result = await bench(head, { repeat: 4, warmup: 1, baselineImage: base, metricsFile: metricsFile(), test: 't-test', threshold: '10' }, {}, (arm) => order.push(arm));
  }, 120_000);

  it('runs warm-ups first, then base and head alternately, each in a fresh VM with the benchmark kernel arguments', () => {
    expect(order).toEqual(['baseline*', 'head*', 'baseline', 'head', 'baseline', 'head', 'baseline', 'head', 'baseline', 'head']);
    expect(launches).toHaveLength(10);
    expect(new Set(launches.map((l) => l.vsockUdsPath)).size).toBe(10);
    for (const l of launches) expect(l.cmdline.split(' ')).toEqual(expect.arrayContaining(['nokaslr', 'norandmaps', 'transparent_hugepage=never']));
  });

  it('flags the head that sleeps three times as long as a regression, in wall time and in its own metric', () => {
    expect(result.verdict).toBe('regression');
    expect(result.regressed).toBe(true);
    const wall = result.comparison.metrics.find((m) => m.metric.name === 'wall time')!;
    const nap = result.comparison.metrics.find((m) => m.metric.name === 'nap')!;
    expect(wall.verdict).toBe('regression');
    expect(wall.changePercent!).toBeGreaterThan(100);
    expect(nap).toMatchObject({ verdict: 'regression', baselineValues: [100, 100, 100, 100], headValues: [300, 300, 300, 300] });
    expect(result.regressionMessage).toMatch(/^2 benchmark metrics regressed beyond the 10% threshold \(t-test\): wall time \(\+\d+\.\d%\), nap \(\+200\.0%\)/);
  });

  it("takes wall time from the guest's own clock: every measured run is at least its sleep", () => {
    const measured = result.runs.filter((r) => !r.warmup);
    expect(measured).toHaveLength(8);
    for (const r of measured) expect(r.wallMs).toBeGreaterThanOrEqual(r.arm === 'head' ? 300 : 100);
    expect(result.head.series.find((s) => s.name === 'wall time')!.values).toHaveLength(4);
  });

  it('pins the vCPU to a host core of its own where the host has one to spare, and says where', () => {
    const choice = chooseVcpuCpus(1);
    if (choice.cpus) {
      expect(launches.every((l) => l.pinCpus?.join() === choice.cpus.join())).toBe(true);
      expect(result.pinning).toEqual({ pinned: true, cpus: choice.cpus, reason: '' });
      expect(JSON.parse(readFileSync(result.files.results, 'utf8')).context.vcpuPinning).toBe(`host CPU ${choice.cpus.join(', ')}`);
    } else {
      expect(launches.every((l) => l.pinCpus === undefined)).toBe(true);
      expect(result.pinning).toEqual({ pinned: false, cpus: [], reason: choice.reason });
    }
  });

  it('writes the results, BMF, github-action-benchmark JSON, the report and the chart', () => {
    const f = result.files;
    const results = JSON.parse(readFileSync(f.results, 'utf8'));
    expect(results).toMatchObject({ format: 'vmstep-bench-results', context: { image: result.head.label, digest: result.head.digest } });
    expect(results.metrics.map((m: { name: string }) => m.name)).toEqual(['wall time', 'nap']);
    const bmf = JSON.parse(readFileSync(f.bmf, 'utf8'));
    expect(bmf.nap.latency.value).toBe(300);
    expect(bmf['wall time'].latency.value).toBeGreaterThan(300e6); // nanoseconds, as Bencher's latency
    expect(JSON.parse(readFileSync(f.smallerIsBetter, 'utf8')).map((e: { name: string }) => e.name)).toEqual(['wall time', 'nap']);
    expect(JSON.parse(readFileSync(f.biggerIsBetter, 'utf8'))).toEqual([]);
    const report = readFileSync(f.report, 'utf8');
    expect(report).toMatch(/^```text\nwall time\n {2}baseline {2}\|/m);
    expect(report).toContain('_Every run as an image: chart.svg, beside this report._');
    expect(result.markdown).toMatch(/\| nap \| 100\.0 ns ±0\.0% \| 300\.0 ns ±0\.0% \| \+200\.0% \|/);
    expect(readFileSync(f.chart, 'utf8')).toBe(result.svg);
    expect(result.svg.match(/<circle /g)!.length).toBeGreaterThanOrEqual(2 * 2 * 4);
  });

  it("keeps each run's stdout, stderr and returned files in a directory of its own", () => {
    for (const r of result.runs) expect(existsSync(join(r.dir, 'stdout.txt'))).toBe(true);
    expect(existsSync(join(result.runs.at(-1)!.dir, 'output', metricsFile()))).toBe(true);
  });
});

describe('runBench against a baseline file', () => {
  it("compares an identical image against its own earlier results and finds no change", async () => {
    const ref = sleeper('steady', 0.2);
    const first = await bench(ref, { repeat: 3, warmup: 0, metricsFile: join(work, 'guest', 'steady', 'bmf.json'), test: 'percentage', threshold: '50' });
    expect(first.verdict).toBe('no-baseline');
    expect(first.markdown).toContain('| Metric | Runs | Median |');
    const second = await bench(ref, { repeat: 3, warmup: 0, baselineFile: first.files.results, metricsFile: join(work, 'guest', 'steady', 'bmf.json'), test: 'percentage', threshold: '50' });
    expect(second.baseline).toMatchObject({ label: first.head.label, digest: first.head.digest });
    expect(second.regressed).toBe(false);
    expect(second.comparison.metrics.map((m) => [m.metric.name, m.verdict])).toEqual([
      ['wall time', 'no-change'],
      ['nap', 'no-change'],
    ]);
  }, 60_000);

  it('refuses a file that is not a results file before starting any VM', async () => {
    const bad = join(work, 'not-results.json');
    writeFileSync(bad, '{"nap":{"latency":{"value":1}}}');
    const before = launches.length;
    await expect(bench(sleeper('unused', 0), { baselineFile: bad })).rejects.toThrow(/not a vmstep results file/);
    await expect(bench(sleeper('unused', 0), { baselineFile: join(work, 'absent.json') })).rejects.toThrow(/cannot read the baseline file .*absent\.json \(ENOENT\)/);
    expect(launches.length).toBe(before);
  });

  it('refuses a baseline file with too few runs for the test before starting any VM', async () => {
    const ref = sleeper('few', 0);
    const small = await bench(ref, { repeat: 1, warmup: 0, test: 'percentage' });
    const before = launches.length;
    const err = await bench(ref, { repeat: 10, baselineFile: small.files.results }).catch((e: unknown) => e);
    expect((err as VmstepError).oneLine()).toMatch(
      /^the baseline file results\.json is too small a sample for mann-whitney: with 1 baseline and 10 head runs Mann-Whitney's smallest possible p is 0\.18, not below alpha 0\.05; record the baseline with more repeats \(4 or more for mann-whitney\), or use test percentage$/,
    );
    expect(launches.length).toBe(before);
  }, 60_000);
});

describe('runBench with repeat auto', () => {
  it('stops as soon as every metric is decided, before max-repeat, and says so in the report and results.json', async () => {
    const out = join(work, 'guest', 'auto');
    const base = sleeper('auto-base', 0.05, out);
    const head = sleeper('auto-head', 0.15, out);
    const order: string[] = [];
    const r = await bench(head, { repeat: 'auto', minRepeat: 4, maxRepeat: 8, warmup: 0, baselineImage: base, metricsFile: join(out, 'bmf.json') }, {}, (arm) => order.push(arm));
    // 5 looks at 0.05 over 2 metrics: each interval at 0.005, which Mann-Whitney first reaches at 6 runs a side
    // (2/C(10,5) = 0.0079 is not below it, 2/C(12,6) = 0.0022 is). Wall time is real: a slow run on a busy host can cost a pair more.
    const pairs = r.stop.runs.head;
    expect(pairs).toBeGreaterThanOrEqual(6);
    expect(pairs).toBeLessThanOrEqual(8);
    expect(r.stop).toMatchObject({ mode: 'auto', runs: { baseline: pairs, head: pairs }, verdictAlpha: 0.01 });
    if (pairs < 8) expect(r.stop).toMatchObject({ kind: 'decided', undecided: [] });
    expect(order).toEqual(Array.from({ length: pairs }, () => ['baseline', 'head']).flat());
    expect(r.verdict).toBe('regression');
    if (r.stop.kind === 'decided') {
      expect(r.markdown).toContain(
        `_repeat auto: ${pairs} baseline and ${pairs} head runs, stopped: every metric decided at the threshold after ${pairs} runs per side (min-repeat 4, max-repeat 8); verdicts at α = 0.01, the 0.05 spread over every look_`,
      );
    }
    expect(JSON.parse(readFileSync(r.files.results, 'utf8')).stopping).toEqual({ repeat: 'auto', runs: { baseline: pairs, head: pairs }, stoppedBecause: r.stop.kind, reason: r.stop.reason });
  }, 120_000);

  it('runs to max-repeat when a metric stays inconclusive, and names it', async () => {
    // The same image on both sides with a 0% threshold: no interval can lie wholly inside ±0.
    const out = join(work, 'guest', 'auto-same');
    const ref = sleeper('auto-same', 0, out);
    const r = await bench(ref, { repeat: 'auto', minRepeat: 2, maxRepeat: 3, warmup: 0, baselineImage: ref, metricsFile: join(out, 'bmf.json'), test: 'percentage', threshold: '0' });
    expect(r.stop).toMatchObject({ kind: 'max-repeat', runs: { baseline: 3, head: 3 } });
    expect(r.stop.undecided).toContain('wall time');
    expect(r.stop.reason).toMatch(/^reached max-repeat 3 with \d metrics? still inconclusive at the threshold: wall time/);
  }, 120_000);

  it('with a warn threshold, runs on while a metric is decided at the threshold but not at its warn threshold', async () => {
    // One image on both sides whose "nap" counts up by run (base 1001, 1003, ...,
    // head 1002, 1004, ...): at 5 runs a side its interval is about -0.5% to
    // +0.7%, far inside a threshold of 100000% (as is wall time), which alone
    // would decide every metric, but astride nap's warn threshold of 0.1%.
    const out = join(work, 'guest', 'auto-warn');
    const count = image('auto-warn', `mkdir -p ${out} && n=$(($(cat ${out}/n 2>/dev/null || echo 0) + 1)) && echo $n > ${out}/n && printf '{"nap":{"latency":{"value":%s}}}' $((1000 + n)) > ${out}/bmf.json`);
    const r = await bench(count, { repeat: 'auto', minRepeat: 5, maxRepeat: 5, warmup: 0, baselineImage: count, metricsFile: join(out, 'bmf.json'), test: 'percentage', threshold: '100000', warnThreshold: 'nap=0.1' });
    expect(r.comparison.metrics.find((m) => m.metric.name === 'nap')!.headValues).toEqual([1002, 1004, 1006, 1008, 1010]);
    expect(r.stop).toMatchObject({ kind: 'max-repeat', runs: { baseline: 5, head: 5 }, undecided: ['nap'] });
    expect(r.stop.reason).toBe('reached max-repeat 5 with 1 metric still inconclusive at the threshold and the warn threshold: nap');
  }, 120_000);
});

describe('runBench refuses runs it cannot measure', () => {
  it('stops at a benchmark that fails, naming the run and where its stderr is', async () => {
    const err = await bench(image('fails', 'echo broken >&2; exit 3'), { repeat: 2, warmup: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmstepError);
    expect((err as VmstepError).message).toMatch(/^the head run 1 of oci:.*fails exited with 3$/);
    expect((err as VmstepError).fix).toMatch(/stderr is in .*head-1\/stderr\.txt/);
  });

  it('stops at a run that wrote no metrics file, and at one whose metrics file is not a format it knows', async () => {
    await expect(bench(image('no-file', 'true'), { repeat: 1, warmup: 0, metricsFile: '/nonexistent/bmf.json' })).rejects.toThrow(/the head run 1 wrote no metrics file \/nonexistent\/bmf\.json/);
    const junk = join(work, 'guest', 'junk.json');
    await expect(bench(image('junk', `mkdir -p ${join(work, 'guest')}; echo '{"x": 1}' > ${junk}`), { repeat: 1, warmup: 0, metricsFile: junk })).rejects.toThrow(/not a metrics format vmstep knows/);
  });
});

describe('validateBenchInput', () => {
  const v = (input: BenchInput, style: 'cli' | 'action' = 'cli') => validateBenchInput(input, { style, cwd: '/w' });

  it('defaults to 10 runs after 1 warm-up, Mann-Whitney at 5 %, auto-detected metrics, results in ./vmstep-bench', () => {
    expect(v({})).toEqual({
      repeat: 10,
      autoRepeat: null,
      warmup: 1,
      baseline: null,
      metricsFile: null,
      metricsFormat: 'auto',
      test: 'mann-whitney',
      thresholdPercent: 5,
      thresholds: {},
      warnThresholdPercent: null,
      warnThresholds: {},
      alpha: 0.05,
      correction: 'holm',
      failOnRegression: false,
      resultsDir: '/w/vmstep-bench',
      historyFile: null,
    });
  });

  it('reads each setting as a user writes it', () => {
    expect(v({ repeat: ' 7', warmup: '0', baselineFile: 'main.json', metricsFile: 'out/bmf.json', metricsFormat: 'Hyperfine', test: 'welch', threshold: '2.5%', failOnRegression: true })).toMatchObject({
      repeat: 7,
      warmup: 0,
      baseline: { kind: 'file', path: '/w/main.json' },
      metricsFile: 'out/bmf.json',
      metricsFormat: 'hyperfine',
      test: 't-test',
      thresholdPercent: 2.5,
      failOnRegression: true,
    });
    expect(v({ baselineImage: 'alpine:3.19' }).baseline).toEqual({ kind: 'image', image: 'alpine:3.19', volumes: null });
  });

  it('baseline volumes make a baseline arm in the head image, or with the baseline image', () => {
    const base = mkdtempSync(join(tmpdir(), 'vmstep-base-'));
    try {
      const volumes = [{ hostPath: base, guestPath: '/src', kind: 'dir' }];
      expect(v({ baselineVolumes: [`${base}:/src`] }).baseline).toEqual({ kind: 'image', image: null, volumes });
      expect(v({ baselineVolumes: [`${base}:/src`], baselineImage: 'alpine:3.19' }).baseline).toEqual({ kind: 'image', image: 'alpine:3.19', volumes });
      expect(() => v({ baselineVolumes: [`${base}:/src`], baselineFile: 'main.json' }, 'action')).toThrow('input "baseline-volumes" and input "baseline-file" are both set');
      expect(() => v({ baselineVolumes: ['missing:/src'] })).toThrow('--baseline-volume "missing:/src": the host path /w/missing does not exist');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('reads a default threshold beside NAME=PERCENT lines, from the action\'s lines or the CLI\'s repeated option alike', () => {
    const expected = { thresholdPercent: 4, thresholds: { BM_parse: 2, 'BenchmarkSub/n=10-2': 7.5 }, warnThresholdPercent: 1.5, warnThresholds: { BM_parse: 1 } };
    expect(v({ threshold: '4%\nBM_parse=2%\n# a comment\nBenchmarkSub/n=10-2 = 7.5', warnThreshold: '1.5\nBM_parse=1%' }, 'action')).toMatchObject(expected);
    expect(v({ threshold: ['BM_parse=2%', '4', 'BenchmarkSub/n=10-2=7.5%'], warnThreshold: ['1.5%', 'BM_parse=1'] })).toMatchObject(expected);
    expect(v({ threshold: 'BM_parse=2' })).toMatchObject({ thresholdPercent: 5, thresholds: { BM_parse: 2 } });
    expect(v({ alpha: '0.01', correction: 'BH' })).toMatchObject({ alpha: 0.01, correction: 'bh' });
  });

  it('refuses, before any VM, a baseline image compared with fewer runs than the test needs to reach significance', () => {
    expect(() => v({ baselineImage: 'a', repeat: '3' })).toThrow(
      "--repeat 3 is too few for mann-whitney: with 3 baseline and 3 head runs Mann-Whitney's smallest possible p is 0.10, not below alpha 0.05",
    );
    expect((() => {
      try {
        v({ baselineImage: 'a', repeat: '4', alpha: '0.01' }, 'action');
      } catch (err) {
        return (err as VmstepError).oneLine();
      }
      return 'accepted';
    })()).toBe(
      "input \"repeat\" 4 is too few for mann-whitney: with 4 baseline and 4 head runs Mann-Whitney's smallest possible p is 0.029, not below alpha 0.01; set input \"repeat\" to at least 5, or input \"test\" to percentage",
    );
    expect(v({ baselineImage: 'a', repeat: '4' }).repeat).toBe(4);
    expect(v({ baselineImage: 'a', repeat: '3', test: 'percentage' }).repeat).toBe(3);
    expect(() => v({ baselineImage: 'a', repeat: '1', test: 't-test' })).toThrow(/--repeat 1 is too few for t-test: Welch's t-test needs at least 2 runs on each side/);
  });

  it('reads repeat auto with its bounds, defaulting to 5 and 30, and refuses bounds without auto or out of order', () => {
    expect(v({ repeat: 'auto' })).toMatchObject({ repeat: 30, autoRepeat: { minRepeat: 5, maxRepeat: 30 } });
    expect(v({ repeat: 'AUTO', minRepeat: '8', maxRepeat: '12' })).toMatchObject({ repeat: 12, autoRepeat: { minRepeat: 8, maxRepeat: 12 } });
    expect(v({ repeat: 'auto', minRepeat: '40' })).toMatchObject({ autoRepeat: { minRepeat: 40, maxRepeat: 40 } });
    expect(() => v({ repeat: 'auto', minRepeat: '10', maxRepeat: '5' })).toThrow('--max-repeat 5 is below --min-repeat 10');
    expect(() => v({ repeat: '10', maxRepeat: '5' }, 'action')).toThrow('input "max-repeat" is set but input "repeat" is not auto');
    expect(() => v({ repeat: 'often' })).toThrow(VmstepError);
    expect((() => { try { v({ repeat: 'often' }); } catch (e) { return (e as VmstepError).oneLine(); } })()).toBe('--repeat "often" is not a run count; give a whole number from 1 to 1000, or auto');
  });

  it('refuses, before any VM, repeat auto whose max-repeat cannot reach significance at alpha spent over the looks', () => {
    expect(() => v({ repeat: 'auto', minRepeat: '4', maxRepeat: '5', baselineImage: 'a' })).not.toThrow();
    expect(() => v({ repeat: 'auto', minRepeat: '2', maxRepeat: '6', baselineImage: 'a', alpha: '0.01' })).toThrow(
      "--max-repeat 6 is too few for mann-whitney under --repeat auto: with 6 baseline and 6 head runs Mann-Whitney's smallest possible p is 0.0022, not below alpha 0.002 (alpha 0.01 spread over 5 looks)",
    );
  });

  it('names the option the way each face spells it, and says what to write instead', () => {
    expect(() => v({ repeat: '0' })).toThrow('--repeat "0" is not a run count');
    expect(() => v({ repeat: '1001' }, 'action')).toThrow('input "repeat" "1001" is not a run count');
    expect(() => v({ warmup: 'x' })).toThrow(/--warmup "x"/);
    expect(() => v({ baselineImage: 'a', baselineFile: 'b' }, 'action')).toThrow('input "baseline-image" and input "baseline-file" are both set');
    expect(() => v({ metricsFile: '/out/*.json' })).toThrow(/holds a glob/);
  });

  it.each<[BenchInput, 'cli' | 'action', string]>([
    [{ test: 'chi-square' }, 'cli', '--test "chi-square" is not a test; use one of percentage, t-test, mann-whitney'],
    [{ threshold: 'abc' }, 'cli', '--threshold "abc" is not a threshold; write a percentage such as 5%, and NAME=PERCENT lines for single metrics'],
    [{ threshold: 'five' }, 'action', 'input "threshold" "five" is not a threshold; write a percentage such as 5%, and NAME=PERCENT lines for single metrics'],
    [{ threshold: ['5', '6'] }, 'cli', '--threshold "5; 6" is not a threshold; write a percentage such as 5%, and NAME=PERCENT lines for single metrics'],
    [{ warnThreshold: '5' }, 'action', 'input "warn-threshold" 5% is not below input "threshold" 5%; set input "warn-threshold" lower: it marks changes too small to fail'],
    [{ threshold: 'fib=3', warnThreshold: 'fib=4' }, 'cli', '--warn-threshold for "fib" (4%) is not below its threshold 3%; set its warn threshold lower: it marks changes too small to fail'],
    [{ alpha: '5%' }, 'cli', '--alpha "5%" is not a significance level; give a number between 0 and 1 such as 0.05'],
    [{ correction: 'bonferroni' }, 'action', 'input "correction" "bonferroni" is not a correction; use one of none, holm, bh'],
    [
      { metricsFormat: 'xml' },
      'cli',
      '--metrics-format "xml" is not a metrics format; use one of auto, bmf, customSmallerIsBetter, customBiggerIsBetter, hyperfine, cargo, criterion, go, pytest-benchmark, googlebench, catch2, jmh, benchmarkdotnet, benchmarkjs',
    ],
  ])('refuses %j (%s) in one line that lists the choices once', (input, style, line) => {
    let error: unknown;
    try {
      v(input, style);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(VmstepError);
    expect((error as VmstepError).oneLine()).toBe(line);
  });
});

describe('chooseVcpuCpus', () => {
  const topo = (allowed: string, cores: Record<number, string> = {}) => ({ allowed: parseCpuList(allowed), coreOf: (c: number) => cores[c] ?? `0:${c}` });

  it('leaves the first core to the host and gives each vCPU a core of its own, highest first', () => {
    expect(chooseVcpuCpus(1, topo('0-1'))).toEqual({ cpus: [1] });
    expect(chooseVcpuCpus(2, topo('0-7'))).toEqual({ cpus: [6, 7] });
  });

  it('skips SMT siblings: of the CPUs sharing a core only one is used, and none of the host core', () => {
    // 4 cores with 2 threads each: CPU n and n+4 are siblings.
    const smt = Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((c) => [c, `0:${c % 4}`]));
    expect(chooseVcpuCpus(3, topo('0-7', smt))).toEqual({ cpus: [5, 6, 7] });
    expect(chooseVcpuCpus(4, topo('0-7', smt))).toMatchObject({ cpus: null, reason: '4 vCPUs need 5 physical cores (one stays with the host), and this process may use 4' });
  });

  it('uses only the CPUs this process is allowed, and refuses when it cannot tell', () => {
    expect(chooseVcpuCpus(2, topo('2,5-6'))).toEqual({ cpus: [5, 6] });
    expect(chooseVcpuCpus(1, topo('0'))).toMatchObject({ cpus: null });
    expect(chooseVcpuCpus(1, topo('garbage'))).toMatchObject({ cpus: null, reason: 'the CPUs this process may use could not be read' });
  });
});
