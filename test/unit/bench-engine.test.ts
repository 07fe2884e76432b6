// runBench on the real engine without KVM: real images, the real rootfs
// cache and the real guest init in its Unix-socket test mode standing in for
// the VM (as in engine-run.test.ts; the command then runs on this host, so
// guest paths are host paths). What is measured is real: the head sleeps
// three times as long as the baseline, a gap no scheduling noise closes.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { guestInitBinary, testModeVm as makeTestModeVm } from '../helpers/guest-init.js';

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
  work = mkdtempSync(join(tmpdir(), 'vmstep-bench-engine-'));
  mkdirSync(join(work, 'scratch'));
  kernel = join(work, 'vmlinux');
  writeFileSync(kernel, 'not booted by the test-mode launcher');
  process.env.VMSTEP_INIT = guestInitBinary();
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
    expect(v({})).toEqual({ repeat: 10, warmup: 1, baseline: null, metricsFile: null, metricsFormat: 'auto', test: 'mann-whitney', thresholdPercent: 5, failOnRegression: false, resultsDir: '/w/vmstep-bench' });
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

  it('names the option the way each face spells it, and says what to write instead', () => {
    expect(() => v({ repeat: '0' })).toThrow('--repeat "0" is not a run count');
    expect(() => v({ repeat: '1001' }, 'action')).toThrow('input "repeat" "1001" is not a run count');
    expect(() => v({ warmup: 'x' })).toThrow(/--warmup "x"/);
    expect(() => v({ baselineImage: 'a', baselineFile: 'b' }, 'action')).toThrow('input "baseline-image" and input "baseline-file" are both set');
    expect(() => v({ metricsFile: '/out/*.json' })).toThrow(/holds a glob/);
    expect(() => v({ test: 'chi-square' })).toThrow(/--test: unknown test "chi-square"/);
    expect(() => v({ threshold: 'five' }, 'action')).toThrow(/input "threshold": threshold must be a percentage/);
    expect(() => v({ metricsFormat: 'csv' })).toThrow(/--metrics-format: unknown metrics-format "csv"/);
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
