// The benchmark tools' own outputs: produced at test time by the Debian
// packages where Debian has the tool (go, Google Benchmark, pytest-benchmark,
// Catch2), read from hand-written fixtures with their provenance in
// test/fixtures/bench/README.md where it does not.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseMetricsFile } from '../../src/bench/formats/parse.js';
import type { MetricValue } from '../../src/bench/metric.js';

const fixture = (name: string): Buffer => readFileSync(fileURLToPath(new URL(`../fixtures/bench/${name}`, import.meta.url)));
const work = mkdtempSync(join(tmpdir(), 'vmstep-bench-tools-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a tool the test needs, naming the Debian package when it is missing. */
function tool(pkg: string, cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20, ...options });
  } catch (error) {
    throw new Error(`${cmd} failed (install Debian's ${pkg}, listed in scripts/lib/deps.mjs): ${(error as Error).message}`);
  }
}

const pick = (metrics: MetricValue[], name: string, measure: string) => metrics.find((m) => m.name === name && m.measure === measure);

describe('go test -bench (real output of Debian golang-go)', () => {
  it('reads ns/op as latency and -benchmem, MB/s and ReportMetric columns as metrics of their own', () => {
    const dir = join(work, 'go');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'go.mod'), 'module example.com/tiny\n\ngo 1.19\n');
    writeFileSync(
      join(dir, 'tiny_test.go'),
      `package tiny
import "testing"
func BenchmarkSum(b *testing.B) { s := 0; for i := 0; i < b.N; i++ { s += i }; _ = s }
var sink []byte
func BenchmarkAlloc(b *testing.B) { b.SetBytes(64); for i := 0; i < b.N; i++ { sink = make([]byte, 64) } }
func BenchmarkSub(b *testing.B) { b.Run("n=10", func(b *testing.B) { for i := 0; i < b.N; i++ {}; b.ReportMetric(3, "widgets/op") }) }
`,
    );
    const env = { ...process.env, GOCACHE: join(dir, 'cache'), GOPATH: join(dir, 'gopath'), GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' };
    const out = tool('golang-go', 'go', ['test', '-run', '^$', '-bench', '.', '-benchtime=100x', '-benchmem'], { cwd: dir, env });
    const parsed = parseMetricsFile(out, { source: 'go.txt' });
    expect(parsed.format).toBe('go');
    const names = [...new Set(parsed.metrics.map((m) => m.name.replace(/-\d+$/, '')))];
    expect(names).toEqual(['BenchmarkSum', 'BenchmarkAlloc', 'BenchmarkSub/n=10']);
    const alloc = parsed.metrics.filter((m) => m.name.startsWith('BenchmarkAlloc'));
    expect(alloc.map((m) => [m.measure, m.unit, m.direction])).toEqual([
      ['latency', 'ns', 'smaller'],
      ['throughput', 'MB/s', 'bigger'],
      ['memory', 'bytes', 'smaller'],
      ['allocations', 'allocs', 'smaller'],
    ]);
    expect(alloc[2]!.value).toBeGreaterThanOrEqual(64);
    expect(alloc[3]!.value).toBe(1);
    const widgets = parsed.metrics.find((m) => m.measure === 'widgets/op');
    expect(widgets).toMatchObject({ unit: 'widgets/op', value: 3 });
  }, 120_000);

  it('ends in one error naming the line when a result is cut short', () => {
    expect(() => parseMetricsFile('BenchmarkX-2  100  12.5 ns/op  64\n', { source: 'go.txt' })).toThrow(
      /^metrics file go\.txt: line 1 \("BenchmarkX-2"\): go benchmark results come in value-unit pairs, found 3 fields$/,
    );
  });
});

describe('Google Benchmark JSON (real output of Debian libbenchmark-dev)', () => {
  const dir = join(work, 'gbench');
  const binary = join(dir, 'bench');
  const build = () => {
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(
      join(dir, 'bench.cpp'),
      `#include <benchmark/benchmark.h>
#include <vector>
static void BM_sum(benchmark::State& s) { for (auto _ : s) { int x = 0; for (int i = 0; i < 100; i++) benchmark::DoNotOptimize(x += i); } s.SetBytesProcessed(s.iterations() * 100); }
BENCHMARK(BM_sum);
static void BM_vec(benchmark::State& s) { for (auto _ : s) { std::vector<int> v(s.range(0)); benchmark::DoNotOptimize(v.data()); } }
BENCHMARK(BM_vec)->Arg(8)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
`,
    );
    tool('libbenchmark-dev', 'g++', ['-O1', '-o', binary, join(dir, 'bench.cpp'), '-lbenchmark', '-lpthread']);
  };

  it('reads real and CPU time in the unit each benchmark declares, and bytes per second as throughput', () => {
    build();
    const out = tool('libbenchmark-dev', binary, ['--benchmark_format=json', '--benchmark_min_time=0.01']);
    const parsed = parseMetricsFile(out, { source: 'gb.json' });
    expect(parsed.format).toBe('googlebench');
    expect(parsed.metrics.map((m) => [m.name, m.measure, m.unit, m.direction])).toEqual([
      ['BM_sum', 'latency', 'ns', 'smaller'],
      ['BM_sum', 'cpu-time', 'ns', 'smaller'],
      ['BM_sum', 'throughput', 'bytes/s', 'bigger'],
      ['BM_vec/8', 'latency', 'us', 'smaller'],
      ['BM_vec/8', 'cpu-time', 'us', 'smaller'],
    ]);
    expect(pick(parsed.metrics, 'BM_sum', 'latency')!.value).toBeGreaterThan(0);
  }, 120_000);

  it('with repetitions, takes the mean aggregate and skips the single repetitions', () => {
    const out = tool('libbenchmark-dev', binary, ['--benchmark_format=json', '--benchmark_min_time=0.01', '--benchmark_repetitions=3', '--benchmark_filter=BM_vec']);
    const json = JSON.parse(out) as { benchmarks: { run_name: string; aggregate_name?: string; real_time: number }[] };
    const mean = json.benchmarks.find((b) => b.aggregate_name === 'mean')!;
    const parsed = parseMetricsFile(out, { source: 'gb.json' });
    expect(parsed.metrics.map((m) => m.measure)).toEqual(['latency', 'cpu-time']);
    expect(parsed.metrics[0]!.value).toBe(mean.real_time);
  }, 60_000);

  it('refuses a benchmark that reported an error, with its message', () => {
    const json = { context: {}, benchmarks: [{ name: 'BM_x', run_name: 'BM_x', run_type: 'iteration', error_occurred: true, error_message: 'no input file' }] };
    expect(() => parseMetricsFile(JSON.stringify(json), { source: 'gb.json' })).toThrow(/^metrics file gb\.json: googlebench: benchmarks\[0\] \("BM_x"\) failed: no input file$/);
  });

  it('refuses a time unit it does not know instead of assuming nanoseconds', () => {
    const json = { context: {}, benchmarks: [{ name: 'BM_x', run_type: 'iteration', real_time: 1, cpu_time: 1, time_unit: 'fortnights' }] };
    expect(() => parseMetricsFile(JSON.stringify(json), { format: 'googlebench', source: 'gb.json' })).toThrow(/"time_unit" "fortnights" is not a time unit/);
  });
});

describe('pytest-benchmark --benchmark-json (real output of Debian python3-pytest-benchmark)', () => {
  it('reads each test, parameters included, as a latency in seconds valued at its mean', () => {
    const dir = join(work, 'pytest');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(
      join(dir, 'test_tiny.py'),
      `import pytest
def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)
def test_fib(benchmark): benchmark(fib, 12)
@pytest.mark.parametrize("n", [2, 8])
def test_fib_n(benchmark, n): benchmark(fib, n)
`,
    );
    const out = join(dir, 'pb.json');
    // Debian's python3, not a virtual environment's: the package installs there.
    tool('python3-pytest-benchmark', '/usr/bin/python3', [
      '-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--benchmark-json=${out}`,
      '--benchmark-max-time=0.01', '--benchmark-min-rounds=3', '--benchmark-warmup=off', 'test_tiny.py',
    ], { cwd: dir });
    const parsed = parseMetricsFile(readFileSync(out), { source: 'pb.json' });
    expect(parsed.format).toBe('pytest-benchmark');
    expect(parsed.metrics.map((m) => [m.name, m.measure, m.unit, m.direction])).toEqual([
      ['test_tiny.py::test_fib', 'latency', 's', 'smaller'],
      ['test_tiny.py::test_fib_n[2]', 'latency', 's', 'smaller'],
      ['test_tiny.py::test_fib_n[8]', 'latency', 's', 'smaller'],
    ]);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { benchmarks: { stats: { mean: number } }[] };
    expect(parsed.metrics.map((m) => m.value)).toEqual(json.benchmarks.map((b) => b.stats.mean));
    expect(parsed.metrics[0]!.value).toBeGreaterThan(parsed.metrics[1]!.value);
  }, 120_000);

  it('ends in one error naming the benchmark without stats', () => {
    const json = { machine_info: {}, benchmarks: [{ name: 'test_a', fullname: 't.py::test_a' }] };
    expect(() => parseMetricsFile(JSON.stringify(json), { source: 'pb.json' })).toThrow(/^metrics file pb\.json: pytest-benchmark: benchmarks\[0\] \("t\.py::test_a"\) has no "stats" object$/);
  });
});

describe('Catch2 XML reporter (real output of Debian catch2)', () => {
  it('reads each BENCHMARK mean in nanoseconds, with XML entities in names decoded', () => {
    const dir = join(work, 'catch2');
    execFileSync('mkdir', ['-p', dir]);
    // Debian bookworm packages Catch2 2.13 (single header); v3's XML reporter writes the same <BenchmarkResults>.
    writeFileSync(
      join(dir, 'bench.cpp'),
      `#define CATCH_CONFIG_MAIN
#define CATCH_CONFIG_ENABLE_BENCHMARKING
#include <catch2/catch.hpp>
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
TEST_CASE("fib") {
  BENCHMARK("fib 12") { return fib(12); };
  BENCHMARK("fib <&> 4") { return fib(4); };
}
`,
    );
    const binary = join(dir, 'bench');
    tool('catch2', 'g++', ['-O1', '-o', binary, join(dir, 'bench.cpp')]);
    const out = tool('catch2', binary, ['-r', 'xml', '--benchmark-samples', '5', '--benchmark-resamples', '100', '--benchmark-warmup-time', '1']);
    const parsed = parseMetricsFile(out, { source: 'catch2.xml' });
    expect(parsed.format).toBe('catch2');
    expect(parsed.metrics.map((m) => [m.name, m.measure, m.unit, m.direction])).toEqual([
      ['fib 12', 'latency', 'ns', 'smaller'],
      ['fib <&> 4', 'latency', 'ns', 'smaller'],
    ]);
    expect(parsed.metrics[0]!.value).toBeGreaterThan(parsed.metrics[1]!.value);
  }, 180_000);

  it('says how to get benchmarks when the XML holds none', () => {
    expect(() => parseMetricsFile('<?xml version="1.0"?>\n<Catch name="t"><Group name="t"/></Catch>\n', { source: 'c.xml' })).toThrow(
      /^metrics file c\.xml: catch2: no <BenchmarkResults> elements: run the test binary with -r xml/,
    );
  });
});

describe('cargo bench (libtest), hand-written fixture', () => {
  it('reads ns/iter as latency, with thousands separators and fractions, and MB/s as throughput', () => {
    const parsed = parseMetricsFile(fixture('cargo-bench.txt'), { source: 'cargo.txt' });
    expect(parsed.format).toBe('cargo');
    expect(parsed.metrics).toEqual([
      { name: 'bench_fib_20', measure: 'latency', unit: 'ns', direction: 'smaller', value: 26104 },
      { name: 'bench_copy_4k', measure: 'latency', unit: 'ns', direction: 'smaller', value: 312 },
      { name: 'bench_copy_4k', measure: 'throughput', unit: 'MB/s', direction: 'bigger', value: 13128 },
      { name: 'parse::bench_small', measure: 'latency', unit: 'ns', direction: 'smaller', value: 1234.56 },
    ]);
  });

  it('ends in one error naming a bench line it cannot read', () => {
    expect(() => parseMetricsFile('test a ... bench: lots ns/iter\n', { format: 'cargo', source: 'c.txt' })).toThrow(
      /^metrics file c\.txt: line 1 is not "test NAME \.\.\. bench: N ns\/iter \(\+\/- M\)"$/,
    );
  });
});

describe('cargo criterion --message-format=json, hand-written fixture', () => {
  it('reads each benchmark-complete message\'s typical estimate in its own unit and skips other messages', () => {
    const parsed = parseMetricsFile(fixture('criterion.jsonl'), { source: 'crit.json' });
    expect(parsed.format).toBe('criterion');
    expect(parsed.metrics).toEqual([
      { name: 'fib/20', measure: 'latency', unit: 'ns', direction: 'smaller', value: 26214.7 },
      { name: 'copy/4096', measure: 'latency', unit: 'us', direction: 'smaller', value: 0.3121 },
    ]);
  });

  it('ends in one error naming the line that is not JSON', () => {
    const text = `${fixture('criterion.jsonl').toString().split('\n')[0]}\nBenchmarking fib/20: Warming up\n`;
    expect(() => parseMetricsFile(text, { source: 'crit.json' })).toThrow(/^metrics file crit\.json: criterion: line 2 is not a JSON message \(/);
  });
});

describe('JMH -rf json, hand-written fixture', () => {
  it('takes the direction from the mode and keeps params and secondary metrics', () => {
    const parsed = parseMetricsFile(fixture('jmh.json'), { source: 'jmh.json' });
    expect(parsed.format).toBe('jmh');
    expect(parsed.metrics).toEqual([
      { name: 'org.example.Fib.recursive (n=20)', measure: 'latency', unit: 'us', direction: 'smaller', value: 27.415 },
      { name: 'org.example.Fib.recursive (n=20)', measure: 'gc.alloc.rate.norm', unit: 'bytes', direction: 'smaller', value: 0.011 },
      { name: 'org.example.Codec.encode', measure: 'throughput', unit: 'ops/s', direction: 'bigger', value: 1843201.554 },
    ]);
  });

  it('ends in one error naming an unknown mode', () => {
    const json = [{ benchmark: 'a.B.c', mode: 'fast', primaryMetric: { score: 1, scoreUnit: 'ops/s' } }];
    expect(() => parseMetricsFile(JSON.stringify(json), { source: 'j.json' })).toThrow(/^metrics file j\.json: jmh: result 0 \("a\.B\.c"\) "mode" must be thrpt, avgt, sample or ss, found "fast"$/);
  });
});

describe('BenchmarkDotNet JSON export, hand-written fixture', () => {
  it('reads the mean in nanoseconds and the bytes allocated per operation', () => {
    const parsed = parseMetricsFile(fixture('benchmarkdotnet-full.json'), { source: 'bdn.json' });
    expect(parsed.format).toBe('benchmarkdotnet');
    expect(parsed.metrics).toEqual([
      { name: 'Bench.Md5VsSha256.Sha256(N: 1000)', measure: 'latency', unit: 'ns', direction: 'smaller', value: 4323.64 },
      { name: 'Bench.Md5VsSha256.Sha256(N: 1000)', measure: 'memory', unit: 'bytes', direction: 'smaller', value: 112 },
      { name: 'Bench.Md5VsSha256.Md5(N: 1000)', measure: 'latency', unit: 'ns', direction: 'smaller', value: 2011.08 },
      { name: 'Bench.Md5VsSha256.Md5(N: 1000)', measure: 'memory', unit: 'bytes', direction: 'smaller', value: 80 },
    ]);
  });

  it('ends in one error for a benchmark that did not run', () => {
    const json = { Title: 't', Benchmarks: [{ FullName: 'A.B()' }] };
    expect(() => parseMetricsFile(JSON.stringify(json), { source: 'b.json' })).toThrow(/^metrics file b\.json: benchmarkdotnet: Benchmarks\[0\] \("A\.B\(\)"\) has no "Statistics"/);
  });
});

describe('benchmark.js cycle lines, hand-written fixture', () => {
  it('reads ops/sec with thousands separators as a bigger-is-better throughput', () => {
    const parsed = parseMetricsFile(fixture('benchmarkjs.txt'), { source: 'bjs.txt' });
    expect(parsed.format).toBe('benchmarkjs');
    expect(parsed.metrics).toEqual([
      { name: 'RegExp#test', measure: 'throughput', unit: 'ops/s', direction: 'bigger', value: 43295547 },
      { name: 'String#indexOf', measure: 'throughput', unit: 'ops/s', direction: 'bigger', value: 907421115 },
      { name: 'String#match', measure: 'throughput', unit: 'ops/s', direction: 'bigger', value: 1701.5 },
    ]);
  });

  it('ends in one error naming the malformed line', () => {
    expect(() => parseMetricsFile('a x many ops/sec ±1% (9 runs sampled)\n', { format: 'benchmarkjs', source: 'b.txt' })).toThrow(/^metrics file b\.txt: line 1 is not benchmark\.js's/);
  });
});

describe('a named text format on other text', () => {
  it('says which format found nothing and how to produce it', () => {
    expect(() => parseMetricsFile('hello\n', { format: 'go', source: 'x.txt' })).toThrow(/^metrics file x\.txt: go: no "BenchmarkName {2}N {2}T ns\/op" lines/);
    expect(() => parseMetricsFile('hello\n', { format: 'cargo', source: 'x.txt' })).toThrow(/^metrics file x\.txt: cargo: no "test NAME/);
    expect(() => parseMetricsFile('hello\n', { source: 'x.txt' })).toThrow(/^metrics file x\.txt: not a metrics format vmstep knows/);
  });
});

describe('Catch2 XML that was cut short', () => {
  it('names the benchmark whose element never closes', () => {
    const xml = '<Catch name="t">\n<BenchmarkResults name="fib 12" samples="5">\n<mean value="12.5" lowerBound="1"/>\n';
    expect(() => parseMetricsFile(xml, { source: 'c.xml' })).toThrow(/^metrics file c\.xml: catch2: benchmark "fib 12" has no <\/BenchmarkResults>: the XML was cut short$/);
  });
});

describe('a JSON tool format without its results array', () => {
  it('names the format, the array it needs and what was found', () => {
    expect(() => parseMetricsFile('{"context": {}, "benchmarks": []}', { source: 'gb.json' })).toThrow(
      /^metrics file gb\.json: googlebench: the "benchmarks" array is empty: did --benchmark_filter match any benchmark\?$/,
    );
    expect(() => parseMetricsFile('[1]', { format: 'pytest-benchmark', source: 'pb.json' })).toThrow(
      /^metrics file pb\.json: pytest-benchmark: the JSON has a "benchmarks" array at the top, found an array without one$/,
    );
    expect(() => parseMetricsFile('{"Title": "x"}', { format: 'benchmarkdotnet', source: 'b.json' })).toThrow(/^metrics file b\.json: benchmarkdotnet: the JSON has a "Benchmarks" array at the top, found an object without one$/);
  });
});

describe('units as the tools spell them', () => {
  it('reads µs, us/op and B/op into one spelling each, and keeps a unit it does not know as written', () => {
    const message = (unit: string) => JSON.stringify({ reason: 'benchmark-complete', id: `x ${unit}`, typical: { estimate: 1.5, unit } });
    const parsed = parseMetricsFile([message('µs'), message('ms'), message('cycles')].join('\n'), { source: 'c.json' });
    expect(parsed.metrics.map((m) => m.unit)).toEqual(['us', 'ms', 'cycles']);
    const jmh = [{ benchmark: 'a.B.c', mode: 'ss', primaryMetric: { score: 2, scoreUnit: 'µs/op' }, secondaryMetrics: { '·gc.alloc.rate.norm': { score: 8, scoreUnit: 'B/op' } } }];
    expect(parseMetricsFile(JSON.stringify(jmh)).metrics.map((m) => [m.unit, m.direction])).toEqual([
      ['us', 'smaller'],
      ['bytes', 'smaller'],
    ]);
  });
});
