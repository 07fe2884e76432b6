import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type MetricValue,
  collectSeries,
  compareSeries,
  createResultFile,
  interleavedSchedule,
  parseMetricsFile,
  parseResultFile,
  regressionMessage,
  renderMarkdownReport,
  renderSvgChart,
  serializeResultFile,
  wallTimeValue,
} from '../../src/bench/index.js';

// The engine's flow without the VM: a schedule, a real tool writing a
// metrics file per run, parsing, collection, verdict, reports and the
// baseline file. The head sleeps three times as long as the baseline, a gap
// no scheduling noise on a busy CI machine closes.
describe('benchmark pipeline with real hyperfine runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-bench-pipeline-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runOnce(seconds: number, file: string): MetricValue[] {
    const started = performance.now();
    try {
      execFileSync('hyperfine', ['-N', '--runs', '2', '--command-name', 'work', '--export-json', file, `sleep ${seconds}`], { stdio: 'ignore' });
    } catch (error) {
      throw new Error(`hyperfine failed (install Debian's hyperfine, listed in scripts/lib/deps.mjs): ${(error as Error).message}`);
    }
    const wall = performance.now() - started;
    return [wallTimeValue(wall), ...parseMetricsFile(readFileSync(file), { source: file }).metrics];
  }

  it('flags a head that does three times the work, and fails the step', () => {
    const runs: Record<'baseline' | 'head', MetricValue[][]> = { baseline: [], head: [] };
    for (const run of interleavedSchedule({ repeat: 5, warmup: 1 })) {
      const values = runOnce(run.arm === 'baseline' ? 0.01 : 0.03, join(dir, `${run.arm}-${run.index}.json`));
      if (!run.warmup) runs[run.arm].push(values);
    }
    const baseline = collectSeries(runs.baseline, 'baseline');
    const head = collectSeries(runs.head, 'head');
    expect(head.warnings).toEqual([]);
    const c = compareSeries(baseline.series, head.series, { test: 'mann-whitney', thresholdPercent: 10 });
    const work = c.metrics.find((m) => m.metric.name === 'work')!;
    expect(work.verdict).toBe('regression');
    expect(work.changePercent!).toBeGreaterThan(100);
    expect(c.regressed).toBe(true);
    expect(regressionMessage(c)).toMatch(/work \(\+\d+\.\d%\)/);

    const md = renderMarkdownReport(c);
    expect(md).toMatch(/^\*\*\d regressions?\*\*/);
    expect(md).toMatch(/\| work \| \d+\.\d+ ms ±\d+\.\d% \| \d+\.\d+ ms ±\d+\.\d% \| \+\d+\.\d% \|/);
    expect(renderSvgChart(c).match(/<circle /g)).toHaveLength(2 * 2 * 5 + 2);

    // The head's results become the next run's baseline file, and compare equal to themselves.
    const file = parseResultFile(serializeResultFile(createResultFile(head.series, { image: 'head' })), 'results.json');
    const again = compareSeries(file.metrics, head.series, { test: 'mann-whitney', thresholdPercent: 10 });
    expect(again.regressed).toBe(false);
    expect(again.metrics.every((m) => m.verdict === 'no-change')).toBe(true);
  });
});
