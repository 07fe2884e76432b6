// Every sample as text, for places that show no images: GitHub's job summary
// drops images given as data: URIs, so the summary carries this chart and
// the SVG travels as a file. One block per metric, one lane per arm on a
// shared axis, a dot per run and a bar at the median:
//
//   wall time
//     baseline  |··┃·                                        |  median 1.05 s
//     head      |                                     ·┃··  |  median 2.3 s
//               1.02 s                                  2.41 s
import { metricLabel } from '../metric.js';
import type { Comparison, MetricComparison } from '../verdict.js';
import { cleanText, formatValue } from './format.js';

export interface TextChartOptions {
  /** Most metrics drawn; the rest are counted in a last line. */
  maxMetrics?: number;
}

const LANE_WIDTH = 48;
const LABEL_WIDTH = 10;

/** A fenced code block with the chart, or '' when no metric has samples. */
export function renderTextChart(comparison: Comparison, options: TextChartOptions = {}): string {
  const max = options.maxMetrics ?? 40;
  const drawn = comparison.metrics.filter((m) => m.baselineValues.length + m.headValues.length > 0);
  if (drawn.length === 0) return '';
  // The lanes are named by role; the report's table above names the images.
  const labels = { baseline: 'baseline'.padEnd(LABEL_WIDTH), head: 'head'.padEnd(LABEL_WIDTH) };
  const blocks = drawn.slice(0, max).map((m) => metricBlock(m, labels));
  if (drawn.length > max) blocks.push(`(${drawn.length - max} more metrics in the SVG chart)`);
  // Names come from the guest: nothing in them may close the fence.
  return ['```text', ...blocks.join('\n\n').split('\n').map((l) => l.replace(/`/g, "'")), '```'].join('\n');
}

function metricBlock(m: MetricComparison, labels: { baseline: string; head: string }): string {
  const all = [...m.baselineValues, ...m.headValues].filter(Number.isFinite);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const unit = m.metric.unit;
  const row = (label: string, values: number[], median: number | undefined) => {
    const cells = Array<string>(LANE_WIDTH).fill(' ');
    const at = (v: number) => Math.min(LANE_WIDTH - 1, Math.max(0, Math.round(((v - lo) / (hi - lo)) * (LANE_WIDTH - 1))));
    for (const v of values) if (Number.isFinite(v)) cells[at(v)] = '·';
    if (median !== undefined && Number.isFinite(median)) cells[at(median)] = '┃';
    return `  ${label}|${cells.join('')}|  median ${median === undefined ? 'n/a' : formatValue(median, unit)}`;
  };
  const lines = [cleanText(metricLabel(m.metric))];
  if (m.baselineValues.length > 0) lines.push(row(labels.baseline, m.baselineValues, m.baseline?.median));
  if (m.headValues.length > 0) lines.push(row(labels.head, m.headValues, m.head?.median));
  const left = formatValue(lo, unit);
  const right = formatValue(hi, unit);
  lines.push(`  ${' '.repeat(LABEL_WIDTH)} ${left}${' '.repeat(Math.max(1, LANE_WIDTH - left.length - right.length))}${right}`);
  return lines.join('\n');
}
