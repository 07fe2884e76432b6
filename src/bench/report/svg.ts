// The chart of every sample: one row per metric, one lane per arm, one dot
// per run, a bar at each arm's median, and the band of the baseline median ±
// threshold that head's median must stay in. Showing every run, not just a
// bar, is the point: a reader sees at once whether two arms overlap, whether
// one run was an outlier and whether the noise dwarfs the threshold.
//
// The SVG is self-contained (no scripts, external fonts, images or styles),
// uses only presentation attributes that every renderer knows (GitHub,
// browsers, librsvg), and escapes every name the guest chose.
import { metricKey, metricLabel } from '../metric.js';
import { createRng } from '../stats/random.js';
import type { Comparison, MetricComparison, VerdictKind } from '../verdict.js';
import { cleanText, escapeXml, formatPercent, timeScaleFor } from './format.js';

export interface SvgChartOptions {
  title?: string;
  baselineLabel?: string;
  headLabel?: string;
  /** Most metrics drawn; the rest are counted in a footnote. */
  maxMetrics?: number;
}

export const MAX_CHART_METRICS = 40;
/** Most dots drawn per arm and metric (repeat is bounded well below this). */
const MAX_DOTS = 1000;

const WIDTH = 820;
const LEFT = 16;
const LABEL_CHARS = 28;
const PLOT_X0 = 290;
const PLOT_X1 = WIDTH - 28;
const HEADER = 78;
const FOOTER = 34;
const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

const COLOURS = {
  baseline: { fill: '#4c78a8', median: '#1d3f66' },
  head: { fill: '#f58518', median: '#8a4200' },
  text: '#1f2328',
  muted: '#59636e',
  grid: '#d8dee4',
  band: '#8fbc8f',
  stripe: '#f6f8fa',
};

const VERDICT_COLOURS: Record<VerdictKind, string> = {
  regression: '#cf222e',
  warning: '#bc4c00',
  improvement: '#1a7f37',
  'no-change': '#59636e',
  inconclusive: '#9a6700',
  new: '#0969da',
  missing: '#59636e',
};

const VERDICT_WORDS: Record<VerdictKind, string> = {
  regression: 'regression',
  warning: 'warning (beyond the warn threshold)',
  improvement: 'improvement',
  'no-change': 'no change',
  inconclusive: 'inconclusive',
  new: 'new (no baseline)',
  missing: 'missing in head',
};

/** Round numbers for an axis: 1, 2 or 5 times a power of ten. */
export function niceStep(span: number, targetTicks: number): number {
  const raw = span / Math.max(1, targetTicks);
  const power = 10 ** Math.floor(Math.log10(raw));
  const f = raw / power;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * power;
}

const fmt = (n: number): string => (Math.round(n * 100) / 100).toString();

const SI: [number, string][] = [
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** Tick labels: numbers only (the unit is in the text column), 640k rather than 640000. */
function axis(lo: number, hi: number, x: (v: number) => number, top: number, axisY: number, factor: number): string[] {
  const out = [`<line x1="${PLOT_X0}" y1="${axisY}" x2="${PLOT_X1}" y2="${axisY}" stroke="${COLOURS.muted}" stroke-width="1"/>`];
  const step = niceStep((hi - lo) * factor, 5) / factor;
  const magnitude = Math.max(Math.abs(lo), Math.abs(hi)) * factor;
  const [divisor, suffix] = magnitude >= 1e4 ? (SI.find(([d]) => magnitude >= d * 10) ?? [1, '']) : [1, ''];
  const decimals = Math.max(0, -Math.floor(Math.log10((step * factor) / divisor) + 1e-9));
  for (let i = Math.ceil(lo / step), n = 0; i * step <= hi + step * 1e-9 && n < 12; i++, n++) {
    const t = i * step;
    const tx = fmt(x(t));
    const text = `${((t * factor) / divisor).toFixed(Math.min(decimals, 10))}${suffix}`;
    out.push(
      `<line x1="${tx}" y1="${top + 6}" x2="${tx}" y2="${axisY}" stroke="${COLOURS.grid}" stroke-width="1"/>`,
      `<line x1="${tx}" y1="${axisY}" x2="${tx}" y2="${axisY + 4}" stroke="${COLOURS.muted}" stroke-width="1"/>`,
      `<text x="${tx}" y="${axisY + 15}" font-size="10.5" text-anchor="middle" fill="${COLOURS.muted}">${escapeXml(text, 30)}</text>`,
    );
  }
  return out;
}

interface Lane {
  arm: 'baseline' | 'head';
  values: number[];
  median: number | null;
}

function domain(values: number[]): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.02;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

export function renderSvgChart(c: Comparison, options: SvgChartOptions = {}): string {
  const limit = Math.max(1, options.maxMetrics ?? MAX_CHART_METRICS);
  const shown = c.metrics.slice(0, limit);
  const twoLanes = c.metrics.some((m) => m.baselineValues.length > 0);
  const rowHeight = twoLanes ? 86 : 64;
  const height = HEADER + rowHeight * Math.max(1, shown.length) + FOOTER;
  const title = options.title ?? (twoLanes ? 'Every run: baseline vs head' : 'Every run');

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `role="img" aria-label="${escapeXml(title)}" font-family="${FONT}">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="28" font-size="16" font-weight="bold" fill="${COLOURS.text}">${escapeXml(title)}</text>`,
  );
  out.push(...legend(twoLanes, options, c));

  if (shown.length === 0) {
    out.push(`<text x="${LEFT}" y="${HEADER + 30}" font-size="13" fill="${COLOURS.muted}">No metrics were recorded.</text>`);
  }
  shown.forEach((m, i) => out.push(...row(m, HEADER + i * rowHeight, rowHeight, twoLanes, i, c)));

  const more = c.metrics.length - shown.length;
  const foot =
    'Each dot is one run; the bar is the median' +
    (twoLanes ? `; the shaded band is the baseline median ± ${c.options.thresholdPercent}% threshold.` : '.') +
    (more > 0 ? ` ${more} more metric${more === 1 ? '' : 's'} not drawn: see the table.` : '');
  out.push(`<text x="${LEFT}" y="${height - 13}" font-size="11" fill="${COLOURS.muted}">${escapeXml(foot, 300)}</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}

function legend(twoLanes: boolean, options: SvgChartOptions, c: Comparison): string[] {
  const y = 54;
  const out: string[] = [];
  let x = LEFT;
  const item = (colour: { fill: string; median: string }, label: string): void => {
    out.push(
      `<circle cx="${x + 6}" cy="${y - 4}" r="5" fill="${colour.fill}" fill-opacity="0.75" stroke="${colour.median}" stroke-width="1"/>`,
      `<text x="${x + 16}" y="${y}" font-size="12" fill="${COLOURS.text}">${escapeXml(label, 48)}</text>`,
    );
    x += 26 + Math.min(48, [...cleanText(label, 48)].length) * 7;
  };
  if (twoLanes) item(COLOURS.baseline, options.baselineLabel ? `baseline: ${options.baselineLabel}` : 'baseline');
  item(COLOURS.head, options.headLabel ? `head: ${options.headLabel}` : twoLanes ? 'head' : 'runs');
  out.push(
    `<line x1="${x + 6}" y1="${y - 12}" x2="${x + 6}" y2="${y + 4}" stroke="${COLOURS.text}" stroke-width="3"/>`,
    `<text x="${x + 14}" y="${y}" font-size="12" fill="${COLOURS.text}">median</text>`,
  );
  x += 80;
  if (twoLanes) {
    out.push(
      `<rect x="${x}" y="${y - 12}" width="16" height="16" fill="${COLOURS.band}" fill-opacity="0.3"/>`,
      `<text x="${x + 22}" y="${y}" font-size="12" fill="${COLOURS.text}">±${escapeXml(String(c.options.thresholdPercent))}% of baseline median</text>`,
    );
  }
  return out;
}

function row(m: MetricComparison, top: number, height: number, twoLanes: boolean, index: number, c: Comparison): string[] {
  const out: string[] = [];
  if (index % 2 === 0) out.push(`<rect x="0" y="${top}" width="${WIDTH}" height="${height}" fill="${COLOURS.stripe}"/>`);

  const lanes: Lane[] = [];
  const cap = (v: number[]): number[] => v.slice(0, MAX_DOTS);
  if (twoLanes) lanes.push({ arm: 'baseline', values: cap(m.baselineValues), median: m.baseline?.median ?? null });
  lanes.push({ arm: 'head', values: cap(m.headValues), median: m.head?.median ?? null });
  const all = lanes.flatMap((l) => l.values);

  // Text column: name, axis unit and direction, verdict.
  const scale = timeScaleFor(all, m.metric.unit);
  const axisUnit = scale?.unit ?? m.metric.unit;
  const label = cleanText(metricLabel(m.metric), LABEL_CHARS).trim();
  const unitText = `${axisUnit ? `${axisUnit} · ` : ''}${m.metric.direction} is better`;
  const lineGap = twoLanes ? 18 : 16;
  out.push(
    `<text x="${LEFT}" y="${top + 22}" font-size="13" font-weight="bold" fill="${COLOURS.text}">${escapeXml(label, LABEL_CHARS)}</text>`,
    `<text x="${LEFT}" y="${top + 22 + lineGap}" font-size="11" fill="${COLOURS.muted}">${escapeXml(unitText, 44)}</text>`,
  );
  if (twoLanes) {
    const change = m.changePercent === null ? '' : ` ${formatPercent(m.changePercent)}`;
    const noisy = m.noisy ? ' · noisy' : '';
    out.push(
      `<text x="${LEFT}" y="${top + 22 + 2 * lineGap}" font-size="12" font-weight="bold" fill="${VERDICT_COLOURS[m.verdict]}">` +
        `${escapeXml(`${VERDICT_WORDS[m.verdict]}${change}${noisy}`)}</text>`,
    );
  } else if (m.head && m.head.n >= 2 && Number.isFinite(m.head.cv)) {
    out.push(`<text x="${LEFT}" y="${top + 22 + 2 * lineGap}" font-size="11" fill="${COLOURS.muted}">CV ${(m.head.cv * 100).toFixed(1)}% over ${m.head.n} runs</text>`);
  }
  if (all.length === 0) return out;

  const [lo, hi] = domain(all);
  const bandLo = m.baseline ? m.baseline.median * (1 - m.thresholdPercent / 100) : null;
  const bandHi = m.baseline ? m.baseline.median * (1 + m.thresholdPercent / 100) : null;
  const x = (v: number): number => PLOT_X0 + ((v - lo) / (hi - lo)) * (PLOT_X1 - PLOT_X0);
  const clampX = (v: number): number => Math.min(PLOT_X1, Math.max(PLOT_X0, x(v)));
  const laneY = (i: number): number => top + (twoLanes ? 20 + i * 24 : 24);
  const axisY = laneY(lanes.length - 1) + 16;

  // Grid and ticks, in one display unit for the whole row, named in the text column.
  out.push(...axis(lo, hi, x, top, axisY, scale?.factor ?? 1));

  // The band head's median must stay inside for "no change" (percentage terms).
  if (bandLo !== null && bandHi !== null && twoLanes) {
    const x0 = clampX(Math.min(bandLo, bandHi));
    const x1 = clampX(Math.max(bandLo, bandHi));
    if (x1 > x0) {
      out.push(`<rect x="${fmt(x0)}" y="${laneY(1) - 11}" width="${fmt(x1 - x0)}" height="22" fill="${COLOURS.band}" fill-opacity="0.3"/>`);
    }
  }

  // Dots, jittered vertically by a PRNG seeded with the metric, so the same data draws the same picture.
  const rng = createRng(metricKey(m.metric));
  lanes.forEach((lane, i) => {
    const colour = COLOURS[lane.arm];
    const y = laneY(i);
    if (twoLanes) {
      out.push(`<text x="${PLOT_X0 - 8}" y="${y + 4}" font-size="10.5" text-anchor="end" fill="${colour.median}">${lane.arm === 'baseline' ? 'base' : 'head'}</text>`);
    }
    for (const v of lane.values) {
      const jitter = (rng() - 0.5) * 12;
      out.push(
        `<circle cx="${fmt(x(v))}" cy="${fmt(y + jitter)}" r="4" fill="${colour.fill}" fill-opacity="0.6" stroke="${colour.median}" stroke-width="0.8"/>`,
      );
    }
    if (lane.median !== null) {
      const mx = fmt(x(lane.median));
      out.push(`<line x1="${mx}" y1="${y - 10}" x2="${mx}" y2="${y + 10}" stroke="${colour.median}" stroke-width="3" stroke-linecap="round"/>`);
    }
  });
  return out;
}
