// The job summary of a benchmark: the report's table (metric, baseline, head,
// change, interval, verdict) with the chart of every run embedded, then how
// the runs were made and where the files are. GitHub strips inline <svg> from
// summaries, so the chart goes in as an image with a data: URI; a chart too
// big for the summary's 1 MiB is left to the file and the artifact.
import { renderMarkdownReport } from '../bench/index.js';
import type { BenchResult } from '../engine/bench.js';
import { code } from './summary.js';

/** Largest chart embedded; the whole summary must stay under GitHub's 1 MiB. */
export const MAX_EMBEDDED_CHART_BYTES = 256 * 1024;

export interface BenchSummaryInput {
  result: BenchResult;
  failOnRegression: boolean;
  artifact: { name: string; uploaded: boolean; url?: string } | null;
}

export function chartMarkdown(svg: string): string | null {
  const data = Buffer.from(svg, 'utf8').toString('base64');
  if (data.length > MAX_EMBEDDED_CHART_BYTES) return null;
  return `<img alt="Every run of every metric: one dot per run, a bar at each median" src="data:image/svg+xml;base64,${data}">`;
}

export function renderBenchSummary(s: BenchSummaryInput): string {
  const r = s.result;
  const mark = r.regressed ? (s.failOnRegression ? '❌' : '⚠️') : '✅';
  const chart = chartMarkdown(r.svg);
  const report = renderMarkdownReport(r.comparison, {
    title: `${mark} vmstep bench: ${r.head.label}`,
    baselineLabel: r.baseline?.label ?? '',
    headLabel: r.head.label,
    warnings: r.warnings,
    chartMarkdown: chart ?? `_The chart is too large to show here: it is the file ${code(r.files.chart)} (output \`bench-chart\`)._`,
  });
  const set = r.settings;
  const measured = r.runs.filter((x) => !x.warmup).length;
  const lines = [
    report,
    '| | |',
    '| --- | --- |',
    `| Runs | ${measured} measured${set.warmup > 0 ? ` after ${r.runs.length - measured} warm-up` : ''}, each in a fresh VM${r.baseline && set.baseline?.kind === 'image' ? ', baseline and head alternating' : ''} |`,
    `| Baseline | ${set.baseline === null ? 'none' : set.baseline.kind === 'image' ? `image ${code(r.baseline?.label ?? set.baseline.image)}` : `results file ${code(set.baseline.path)}`} |`,
    `| vCPU pinning | ${r.pinning.pinned ? `pinned to host CPU ${r.pinning.cpus.join(', ')}` : `not pinned: ${r.pinning.reason.replace(/\|/g, '\\|')}`} |`,
    `| Results | ${code(r.files.results)} (next run's \`baseline-file\`), ${code(r.files.bmf)}, ${code(r.files.smallerIsBetter)} |`,
    '',
  ];
  if (s.artifact) {
    lines.push(
      s.artifact.uploaded
        ? `Every run's files are in the artifact ${code(s.artifact.name)}${s.artifact.url ? ` ([download](${s.artifact.url}))` : ''}.`
        : 'Not uploaded as an artifact (not running on GitHub Actions).',
      '',
    );
  }
  return lines.join('\n');
}
