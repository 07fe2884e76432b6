// The job summary of a benchmark: the report's table (metric, baseline, head,
// change, interval, verdict) with the chart of every run, then how the runs
// were made and where the files are. GitHub strips inline <svg> and data:
// URI images from summaries, so the summary shows the chart as text and
// names the SVG file (also in the artifact) for the picture.
import { renderMarkdownReport, renderTextChart } from '../bench/index.js';
import { stoppingNote, type BenchResult } from '../engine/bench.js';
import { code } from './summary.js';

export interface BenchSummaryInput {
  result: BenchResult;
  failOnRegression: boolean;
  artifact: { name: string; uploaded: boolean; url?: string } | null;
}

export function renderBenchSummary(s: BenchSummaryInput): string {
  const r = s.result;
  const mark = r.regressed ? (s.failOnRegression ? '❌' : '⚠️') : '✅';
  const report = renderMarkdownReport(r.comparison, {
    title: `${mark} vmstep bench: ${r.head.label}`,
    baselineLabel: r.baseline?.label ?? '',
    headLabel: r.head.label,
    warnings: r.warnings,
    stopping: r.stop.mode === 'auto' ? stoppingNote(r.stop, r.settings) : undefined,
    chartMarkdown: `${renderTextChart(r.comparison)}\n\n_Every run as an image: ${code(r.files.chart)} (output \`bench-chart\`)._`,
  });
  const set = r.settings;
  const measured = r.runs.filter((x) => !x.warmup).length;
  const lines = [
    report,
    ...(r.history ? [r.history.trend] : []),
    '| | |',
    '| --- | --- |',
    `| Runs | ${measured} measured${set.warmup > 0 ? ` after ${r.runs.length - measured} warm-up` : ''}, each in a fresh VM${r.baseline && set.baseline?.kind === 'image' ? ', baseline and head alternating' : ''} |`,
    ...(r.stop.mode === 'auto' && set.autoRepeat
      ? [`| Repeat | auto (${set.autoRepeat.minRepeat} to ${set.autoRepeat.maxRepeat} per side): ${r.stop.runs.head} head${set.baseline?.kind === 'image' ? ` and ${r.stop.runs.baseline} baseline` : ''} runs; ${r.stop.kind === 'decided' ? 'stopped when every metric was decided' : 'stopped at max-repeat'} |`]
      : []),
    `| Baseline | ${set.baseline === null ? 'none' : set.baseline.kind === 'image' ? `${set.baseline.image === null ? 'same image, other volumes:' : 'image'} ${code(r.baseline?.label ?? set.baseline.image ?? '')}` : `results file ${code(set.baseline.path)}`} |`,
    `| vCPU pinning | ${r.pinning.pinned ? `pinned to host CPU ${r.pinning.cpus.join(', ')}` : `not pinned: ${r.pinning.reason.replace(/\|/g, '\\|')}`} |`,
    ...(r.history ? [`| History | ${code(r.history.file)}: ${r.history.entries} runs, this one appended |`] : []),
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
