import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type MetricSeries,
  compareSeries,
  createResultFile,
  escapeMarkdown,
  formatValue,
  parseMetricsFile,
  parseResultFile,
  renderMarkdownReport,
  renderSvgChart,
  renderTextChart,
  serializeResultFile,
  toBencherMetricFormat,
  toGithubActionBenchmark,
} from '../../src/bench/index.js';

const s = (name: string, values: number[], over: Partial<MetricSeries> = {}): MetricSeries => ({
  name,
  measure: 'latency',
  unit: 'ms',
  direction: 'smaller',
  values,
  ...over,
});

const baseline = [
  s('wall time', [100, 101, 99, 100.5, 99.5, 100.2]),
  s('fib | 30 @octocat #1', [5, 5.1, 4.9, 5.05, 4.95, 5]),
  s('throughput', [1000, 1010, 990, 1005, 995, 1000], { measure: 'throughput', unit: 'ops/s', direction: 'bigger' }),
];
const head = [
  s('wall time', [200, 202, 198, 201, 199, 200.4]),
  s('fib | 30 @octocat #1', [5, 5.1, 4.9, 5.05, 4.95, 5]),
  s('throughput', [1000, 1010, 990, 1005, 995, 1000], { measure: 'throughput', unit: 'ops/s', direction: 'bigger' }),
];

describe('markdown report', () => {
  const c = compareSeries(baseline, head, { test: 'mann-whitney', thresholdPercent: 5 });
  const md = renderMarkdownReport(c, { title: 'Benchmarks', baselineLabel: 'main', headLabel: 'pr', chartMarkdown: '![runs](chart.svg)' });

  it('opens with what failed and how it was decided', () => {
    expect(md.split('\n').slice(0, 5)).toEqual([
      '### Benchmarks',
      '',
      '**1 regression** · 0 improvements · 2 unchanged',
      '',
      'Mann-Whitney U on medians, threshold 5%, α = 0.05 over all metrics (Holm), 6 baseline and 6 head runs, 95% intervals',
    ]);
  });

  it('has one row per metric with baseline, head, change, interval and verdict', () => {
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| :--'));
    expect(rows[0]).toBe('| Metric | Baseline (main) | Head (pr) | Change | Interval | Verdict |');
    expect(rows).toHaveLength(4);
    expect(rows[1]).toMatch(/^\| wall time \| 100\.1 ms ±0\.7% \| 200\.2 ms ±0\.7% \| \+100\.0% \| \+9\d\.\d% … \+10\d\.\d% \| 🔴 \*\*regression\*\* \(adjusted p = 0\.006\) \|$/);
    expect(rows[3]).toMatch(/^\| throughput \(throughput\) \| 1000 ops\/s ±0\.7% \| 1000 ops\/s ±0\.7% \| 0\.0% \| .* \| ⚪ no change \(p = 1\.000\) \|$/);
    expect(md).toContain('![runs](chart.svg)');
    expect(md).toMatch(/<details><summary>Details<\/summary>\n\n- wall time: \+100\.00% vs threshold 5% \(Mann-Whitney p = 0\.0022, holm-adjusted p = 0\.0065\)/);
  });

  it('escapes names: no broken table, no mentions, no issue links, no HTML', () => {
    const row = md.split('\n').find((l) => l.includes('fib'))!;
    expect(row.startsWith('| fib \\| 30 @\u2060octocat #\u20601 |')).toBe(true);
    expect(escapeMarkdown('<img src=x onerror=alert(1)>')).toBe('&lt;img src=x onerror=alert(1)&gt;');
    expect(escapeMarkdown('a\nb|c*d_e`f')).toBe('a b\\|c\\*d\\_e\\`f');
    expect(escapeMarkdown('x'.repeat(500))).toHaveLength(100);
  });

  it('calls out noise above half the threshold', () => {
    const noisy = compareSeries([s('jittery', [100, 110, 90, 105, 95])], [s('jittery', [101, 111, 91, 104, 96])], { test: 't-test', thresholdPercent: 5 });
    const text = renderMarkdownReport(noisy);
    expect(text).toContain('⚠️ noisy');
    expect(text).toMatch(/> \[!WARNING\]\n> Run-to-run noise is above half the 5% threshold for 1 metric: jittery \(CV 7\.\d%\)/);
  });

  it('without a baseline shows each metric\'s statistics instead', () => {
    const only = compareSeries([], head, { test: 'percentage', thresholdPercent: 5 });
    const text = renderMarkdownReport(only);
    const rows = text.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| :--'));
    expect(rows[0]).toBe('| Metric | Runs | Median | Mean | Std dev | CV | Min | Max | Mean 95% CI | Median 95% CI |');
    expect(rows[1]).toMatch(/^\| wall time \| 6 \| 200\.2 ms \| 200\.1 ms \| 1\.4\d\d ms \| 0\.7% \| 198\.0 ms \| 202\.0 ms \| 198\.\d+ ms … 201\.\d+ ms \| 198\.0 ms … 202\.0 ms \|$/);
  });

  it('formats values in readable units', () => {
    expect(formatValue(0.0115282826, 's')).toBe('11.53 ms');
    expect(formatValue(1523.5, 'ns')).toBe('1.524 µs');
    expect(formatValue(48210, 'req/s')).toBe('48,210 req/s');
    expect(formatValue(0.93, '')).toBe('0.9300');
    expect(formatValue(184, 'MiB')).toBe('184.0 MiB');
  });
});

describe('SVG chart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-bench-svg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const rsvg = (svg: string): Buffer => {
    const path = join(dir, 'chart.svg');
    writeFileSync(path, svg);
    try {
      return execFileSync('rsvg-convert', [path], { maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      throw new Error(`rsvg-convert failed (install librsvg2-bin, listed in scripts/lib/deps.mjs): ${(error as Error).message}`);
    }
  };

  it('draws one dot per run and one median bar per arm and metric', () => {
    const c = compareSeries(baseline, head, { test: 'percentage', thresholdPercent: 5 });
    const svg = renderSvgChart(c, { baselineLabel: 'main', headLabel: 'pr' });
    // 3 metrics × (6 + 6) runs, plus the 2 legend dots.
    expect(svg.match(/<circle /g)).toHaveLength(3 * 12 + 2);
    expect(svg.match(/stroke-linecap="round"/g)).toHaveLength(3 * 2);
    expect(svg).toContain('regression +100.0%');
    expect(svg).not.toMatch(/<script|href=|xlink|<image|@import|url\(/);
  });

  it('is deterministic: the same results draw the same picture', () => {
    const c = compareSeries(baseline, head, { test: 'percentage', thresholdPercent: 5 });
    expect(renderSvgChart(c)).toBe(renderSvgChart(c));
  });

  it('renders as a PNG of the declared size with librsvg', () => {
    const c = compareSeries(baseline, head, { test: 't-test', thresholdPercent: 5 });
    const png = rsvg(renderSvgChart(c));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(820);
    expect(png.readUInt32BE(20)).toBe(78 + 3 * 86 + 34);
  });

  it('stays valid XML whatever the guest named its metrics', () => {
    const evil = '\u0000<svg onload=alert(1)> & "x" \'y\' \ud800 \u0007]]>';
    const c = compareSeries([s(evil, [1, 2, 3], { unit: '<u>' })], [s(evil, [1, 2, 3], { unit: '<u>' }), s('', [0, 0])], { test: 'percentage', thresholdPercent: 5 });
    const svg = renderSvgChart(c, { baselineLabel: '</text><script>', headLabel: '&' });
    expect(svg).not.toContain('<svg onload');
    expect(svg).not.toContain('<script');
    expect(svg).not.toMatch(/[\u0000-\u0008]/);
    expect(rsvg(svg).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  it('caps the number of metrics drawn and says how many were left out', () => {
    const many = Array.from({ length: 45 }, (_, i) => s(`m${i}`, [1, 2, 3]));
    const svg = renderSvgChart(compareSeries([], many, { test: 'percentage', thresholdPercent: 5 }));
    expect(svg).toContain('5 more metrics not drawn: see the table.');
  });

  it('draws an empty result without failing', () => {
    const svg = renderSvgChart(compareSeries([], [], { test: 'percentage', thresholdPercent: 5 }));
    expect(svg).toContain('No metrics were recorded.');
    expect(rsvg(svg).subarray(1, 4).toString('latin1')).toBe('PNG');
  });
});

describe('exports for other tools', () => {
  it('writes Bencher Metric Format with latency in nanoseconds, and reads it back', () => {
    const bmf = toBencherMetricFormat(baseline);
    expect(bmf['wall time']!.latency).toEqual({ value: 100.1e6, lower_value: 99e6, upper_value: 101e6 });
    expect(bmf.throughput!.throughput).toEqual({ value: 1000, lower_value: 990, upper_value: 1010 });
    const back = parseMetricsFile(JSON.stringify(bmf), { format: 'bmf' }).metrics;
    expect(back.map((m) => [m.name, m.measure, m.unit, m.direction])).toEqual([
      ['wall time', 'latency', 'ns', 'smaller'],
      ['fib | 30 @octocat #1', 'latency', 'ns', 'smaller'],
      ['throughput', 'throughput', 'ops/s', 'bigger'],
    ]);
  });

  it('keeps a metric named __proto__ as an ordinary key', () => {
    const bmf = toBencherMetricFormat([s('__proto__', [1, 2, 3])]);
    expect(JSON.parse(JSON.stringify(bmf))).toEqual({ ['__proto__']: { latency: { value: 2e6, lower_value: 1e6, upper_value: 3e6 } } });
    expect(Object.getPrototypeOf(bmf)).toBe(Object.prototype);
  });

  it('splits github-action-benchmark entries by direction, each readable by its custom tool', () => {
    const gab = toGithubActionBenchmark(baseline);
    expect(gab.smallerIsBetter.map((e) => e.name)).toEqual(['wall time', 'fib | 30 @octocat #1']);
    expect(gab.biggerIsBetter).toEqual([
      { name: 'throughput (throughput)', unit: 'ops/s', value: 1000, range: '± 7.07107', extra: 'median of 6 runs\nmean 1000\nmin 990, max 1010' },
    ]);
    const back = parseMetricsFile(JSON.stringify(gab.biggerIsBetter), { format: 'customBiggerIsBetter' }).metrics;
    expect(back[0]).toMatchObject({ name: 'throughput (throughput)', value: 1000, direction: 'bigger' });
  });
});

describe('result file (baseline-file)', () => {
  it('round-trips every sample with its metric', () => {
    const file = createResultFile(baseline, { image: 'ghcr.io/acme/app:main', commit: 'abc123' }, new Date('2025-01-31T12:00:00Z'));
    const text = serializeResultFile(file);
    expect(text.split('\n').slice(0, 3)).toEqual(['{', '  "format": "vmstep-bench-results",', '  "version": 1,']);
    const back = parseResultFile(text, 'base.json');
    expect(back).toEqual(file);
    expect(back.metrics[2]).toEqual(baseline[2]);
  });

  it('reads a committed version-1 file', () => {
    const text = readFileSync(new URL('../fixtures/bench/results-v1.json', import.meta.url), 'utf8');
    const file = parseResultFile(text, 'results-v1.json');
    expect(file.context).toEqual({ image: 'ghcr.io/acme/app@sha256:3f1c', ref: 'refs/heads/main' });
    expect(file.metrics.map((m) => [m.name, m.values.length])).toEqual([['wall time', 5], ['sleep 0.01', 5]]);
  });

  it('refuses files from a newer vmstep and says what to do', () => {
    const text = JSON.stringify({ format: 'vmstep-bench-results', version: 2, metrics: [] });
    expect(() => parseResultFile(text, 'base.json')).toThrow(
      'baseline file base.json: written by a newer vmstep (results format version 2; this vmstep reads up to 1): update vmstep, or regenerate the baseline with this version',
    );
  });

  it('tells a metrics file apart from a results file', () => {
    expect(() => parseResultFile('[{"name": "a", "value": 1}]', 'm.json')).toThrow(/not a vmstep results file .* not a metrics file/);
  });

  it('rejects malformed content with the place of the problem', () => {
    const bad = (metrics: unknown): string => JSON.stringify({ format: 'vmstep-bench-results', version: 1, metrics });
    expect(() => parseResultFile(bad([{ name: 'a', measure: 'latency', unit: 'ms', direction: 'smaller', values: [1, 'x'] }]), 'b.json')).toThrow(
      'baseline file b.json: metrics[0] "values"[1] must be a finite number, found a string',
    );
    expect(() => parseResultFile(bad([{ name: 'a', measure: 'latency', unit: 'ms', direction: 'up', values: [1] }]))).toThrow(/"direction" must be "smaller" or "bigger"/);
    expect(() => parseResultFile(bad([{ name: 'a', measure: 'latency', unit: 'ms', direction: 'smaller', values: [] }]))).toThrow(/non-empty array/);
    const dup = { name: 'a', measure: 'latency', unit: 'ms', direction: 'smaller', values: [1] };
    expect(() => parseResultFile(bad([dup, dup]))).toThrow(/metrics\[1\] repeats metric "a"/);
    expect(() => parseResultFile('')).toThrow(/the file is empty/);
    expect(() => parseResultFile('{')).toThrow(/not valid JSON/);
    expect(() => parseResultFile(JSON.stringify({ format: 'vmstep-bench-results', version: 1.5 }))).toThrow(/"version" must be a whole number/);
  });
});

describe('renderTextChart', () => {
  it('draws every sample on one axis per metric, keeps guest names from closing the fence, and survives equal values', () => {
    const c = compareSeries([s('a```b', [5, 5, 5])], [s('a```b', [5, 5, 5])], { test: 'percentage', thresholdPercent: 10 });
    const chart = renderTextChart(c);
    const lines = chart.split('\n');
    expect(lines[0]).toBe('```text');
    expect(lines.at(-1)).toBe('```');
    expect(lines.slice(1, -1).join('\n')).not.toContain('`');
    expect(lines[2]).toMatch(/^ {2}baseline {2}\| +┃ +\|  median 5.000 ms$/);
    expect(lines[3]).toMatch(/^ {2}head {6}\| +┃ +\|  median 5.000 ms$/);
    expect(renderTextChart(compareSeries([], [], { test: 'percentage', thresholdPercent: 10 }))).toBe('');
  });
});
