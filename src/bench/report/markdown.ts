// The markdown report: the job summary table and the PR comment body. One
// row per metric (metric, baseline, head, change, interval, verdict), a
// headline that says what failed, and the noise call-outs below it. GitHub
// renders it; a terminal shows it readably as plain text too.
import { metricLabel } from '../metric.js';
import type { Summary } from '../stats/describe.js';
import type { Comparison, MetricComparison, TestName, VerdictKind } from '../verdict.js';
import { escapeMarkdown, formatPercent, formatValue } from './format.js';

export interface MarkdownReportOptions {
  /** Heading of the report; none when empty. */
  title?: string;
  /** Names of the two arms, e.g. image references or "main" / "this PR". */
  baselineLabel?: string;
  headLabel?: string;
  /** Markdown for the chart (an image link), placed under the table. */
  chartMarkdown?: string;
  /** How many runs adaptive repeats took and why they stopped; one line under the settings. */
  stopping?: string | undefined;
  /** Extra lines for the notes (collection warnings, parse warnings). */
  warnings?: readonly string[];
}

const VERDICT_TEXT: Record<VerdictKind, string> = {
  regression: '🔴 **regression**',
  warning: '🟠 warning',
  improvement: '🟢 improvement',
  'no-change': '⚪ no change',
  inconclusive: '🟡 inconclusive',
  new: '🆕 new',
  missing: '⚫ missing',
};

export const TEST_TITLES: Record<TestName, string> = {
  percentage: 'change of medians',
  't-test': "Welch's t-test on means",
  'mann-whitney': 'Mann-Whitney U on medians',
};

/** The centre the test compares: the mean for t-test, the median otherwise. */
function centre(s: Summary, test: TestName): number {
  return test === 't-test' ? s.mean : s.median;
}

function armCell(s: Summary | null, m: MetricComparison, test: TestName): string {
  if (!s) return '—';
  const value = formatValue(centre(s, test), m.metric.unit);
  const spread = s.n >= 2 && Number.isFinite(s.cv) ? ` ±${(s.cv * 100).toFixed(1)}%` : '';
  return `${escapeMarkdown(value)}${spread}`;
}

function intervalCell(m: MetricComparison): string {
  if (!m.interval) return '—';
  return `${formatPercent(m.interval.lower)} … ${formatPercent(m.interval.upper)}`;
}

function verdictCell(m: MetricComparison): string {
  // The p compared with alpha: after the family's correction where one applies.
  const shown = m.adjustedPValue ?? m.pValue;
  const label = m.adjustedPValue !== null && m.adjustedPValue !== m.pValue ? 'adjusted p' : 'p';
  const p = shown !== null ? ` (${label} ${shown < 0.001 ? '< 0.001' : `= ${shown.toFixed(3)}`})` : '';
  return `${VERDICT_TEXT[m.verdict]}${p}${m.noisy ? ' ⚠️ noisy' : ''}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function renderHeadline(c: Comparison): string {
  const parts = [
    c.counts.regression > 0 ? `**${plural(c.counts.regression, 'regression')}**` : 'no regressions',
    ...(c.counts.warning > 0 ? [plural(c.counts.warning, 'warning')] : []),
    plural(c.counts.improvement, 'improvement'),
    `${c.counts['no-change']} unchanged`,
  ];
  if (c.counts.inconclusive > 0) parts.push(`${c.counts.inconclusive} inconclusive`);
  if (c.counts.new > 0) parts.push(`${c.counts.new} new`);
  if (c.counts.missing > 0) parts.push(`${c.counts.missing} missing`);
  return parts.join(' · ');
}

function runCounts(c: Comparison): string {
  const ns = (pick: (m: MetricComparison) => Summary | null): string => {
    const set = [...new Set(c.metrics.map(pick).filter((s): s is Summary => s !== null).map((s) => s.n))];
    return set.length === 1 ? String(set[0]) : set.length === 0 ? '0' : `${Math.min(...set)}–${Math.max(...set)}`;
  };
  return `${ns((m) => m.baseline)} baseline and ${ns((m) => m.head)} head runs`;
}

export function renderMarkdownReport(c: Comparison, options: MarkdownReportOptions = {}): string {
  const hasBaseline = c.metrics.some((m) => m.baseline !== null);
  if (!hasBaseline) return renderMarkdownStatistics(c, options);
  const o = c.options;
  const lines: string[] = [];
  if (options.title) lines.push(`### ${escapeMarkdown(options.title)}`, '');
  lines.push(
    renderHeadline(c),
    '',
    `${TEST_TITLES[o.test]}, threshold ${o.thresholdPercent}%` +
      (Object.keys(o.thresholds).length > 0 ? ' (some metrics their own)' : '') +
      (o.warnThresholdPercent !== null ? `, warn at ${o.warnThresholdPercent}%` : '') +
      (o.test === 'percentage' ? '' : `, α = ${o.alpha}${o.correction === 'none' ? '' : ` over all metrics (${o.correction === 'holm' ? 'Holm' : 'Benjamini-Hochberg'})`}`) +
      `, ${runCounts(c)}, ${Math.round(o.confidence * 100)}% intervals`,
    '',
  );
  if (options.stopping) lines.push(`_${escapeMarkdown(options.stopping, 600)}_`, '');
  const base = options.baselineLabel ? `Baseline (${escapeMarkdown(options.baselineLabel, 60)})` : 'Baseline';
  const head = options.headLabel ? `Head (${escapeMarkdown(options.headLabel, 60)})` : 'Head';
  lines.push(`| Metric | ${base} | ${head} | Change | Interval | Verdict |`, '| :-- | --: | --: | --: | :-: | :-- |');
  for (const m of c.metrics) {
    const change = m.changePercent === null ? '—' : formatPercent(m.changePercent);
    lines.push(
      `| ${escapeMarkdown(metricLabel(m.metric))} | ${armCell(m.baseline, m, o.test)} | ${armCell(m.head, m, o.test)} | ${change} | ${intervalCell(m)} | ${verdictCell(m)} |`,
    );
  }
  lines.push('');
  if (options.chartMarkdown) lines.push(options.chartMarkdown, '');
  lines.push(...notes(c, options.warnings ?? []));
  return `${lines.join('\n').trimEnd()}\n`;
}

function notes(c: Comparison, warnings: readonly string[]): string[] {
  const out: string[] = [];
  const noisy = c.metrics.filter((m) => m.noisy);
  if (noisy.length > 0) {
    out.push(
      '> [!WARNING]',
      `> Run-to-run noise is above half the ${c.options.thresholdPercent}% threshold for ${plural(noisy.length, 'metric')}: ` +
        noisy
          .slice(0, 10)
          .map((m) => `${escapeMarkdown(metricLabel(m.metric), 60)} (CV ${m.noisePercent!.toFixed(1)}%)`)
          .join(', ') +
        (noisy.length > 10 ? ', …' : '') +
        '. Changes this small cannot be told from noise: raise `repeat`, quiet the host (see `vmstep doctor`), or raise the threshold.',
      '',
    );
  }
  const explained = c.metrics.filter((m) => m.verdict === 'regression' || m.verdict === 'inconclusive' || m.verdict === 'missing');
  if (explained.length > 0 || warnings.length > 0) {
    out.push('<details><summary>Details</summary>', '');
    for (const m of explained) out.push(`- ${escapeMarkdown(metricLabel(m.metric), 60)}: ${escapeMarkdown(m.reason, 400)}`);
    for (const w of warnings.slice(0, 50)) out.push(`- ${escapeMarkdown(w, 400)}`);
    out.push('', '</details>', '');
  }
  return out;
}

/** Without a baseline: the statistics of each metric. */
export function renderMarkdownStatistics(c: Comparison, options: MarkdownReportOptions = {}): string {
  const lines: string[] = [];
  if (options.title) lines.push(`### ${escapeMarkdown(options.title)}`, '');
  const conf = Math.round(c.options.confidence * 100);
  if (options.stopping) lines.push(`_${escapeMarkdown(options.stopping, 600)}_`, '');
  lines.push(
    `| Metric | Runs | Median | Mean | Std dev | CV | Min | Max | Mean ${conf}% CI | Median ${conf}% CI |`,
    '| :-- | --: | --: | --: | --: | --: | --: | --: | :-: | :-: |',
  );
  for (const m of c.metrics) {
    const s = m.head ?? m.baseline;
    if (!s) continue;
    const u = m.metric.unit;
    const v = (x: number): string => escapeMarkdown(formatValue(x, u));
    const ci = (i: Summary['meanInterval']): string => (i ? `${v(i.lower)} … ${v(i.upper)}` : '—');
    lines.push(
      `| ${escapeMarkdown(metricLabel(m.metric))} | ${s.n} | ${v(s.median)} | ${v(s.mean)} | ${v(s.stddev)} | ` +
        `${Number.isFinite(s.cv) ? `${(s.cv * 100).toFixed(1)}%` : '—'} | ${v(s.min)} | ${v(s.max)} | ${ci(s.meanInterval)} | ${ci(s.medianInterval)} |`,
    );
  }
  lines.push('');
  if (options.chartMarkdown) lines.push(options.chartMarkdown, '');
  if (options.warnings && options.warnings.length > 0) {
    lines.push('<details><summary>Details</summary>', '', ...options.warnings.slice(0, 50).map((w) => `- ${escapeMarkdown(w, 400)}`), '', '</details>', '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
