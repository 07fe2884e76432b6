// The history as one static page: a trend chart per metric (the median of
// each run, its interval as a band, one point per run), for GitHub Pages or
// any static host. Self-contained: inline SVG and CSS, no script, no font, no
// request to anywhere, so it renders the same offline and under any content
// security policy. Every name and fact came from a file the user handed in,
// and from benchmarks before it: all of it is escaped here.
import { type Trend, type History, historyTrends } from '../history.js';
import { metricLabel } from '../metric.js';
import { escapeXml, formatValue, timeScaleFor } from './format.js';
import { niceStep } from './svg.js';

export interface HistoryPageOptions {
  title?: string;
  /** Most charts on the page; the rest are named in a note. */
  maxCharts?: number;
  /** Most points per chart: the newest are kept. */
  maxPoints?: number;
}

const W = 760;
const H = 240;
const X0 = 70;
const X1 = W - 20;
const Y0 = 20;
const Y1 = H - 46;
const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

/** The page's text, escaped for an element or an attribute (both need the same five characters). */
const esc = (text: string, max = 200) => escapeXml(text, max);

export function renderHistoryPage(history: History, options: HistoryPageOptions = {}): string {
  const title = options.title ?? 'vmstep benchmark history';
  const trends = historyTrends(history);
  const maxCharts = options.maxCharts ?? 200;
  const shown = trends.slice(0, maxCharts);
  const first = history.entries[0]?.date ?? '';
  const last = history.entries.at(-1)?.date ?? '';
  const sections = shown.map((t, i) => chartSection(t, i, options.maxPoints ?? 500));
  const more = trends.length > maxCharts ? `<p class="note">${trends.length - maxCharts} more metrics are in the history file but not drawn here.</p>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>
body { font-family: ${FONT}; color: #1f2328; margin: 2rem auto; max-width: 820px; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin: 2rem 0 .3rem; word-break: break-all; }
.note, .meta { color: #59636e; font-size: .9rem; }
svg { display: block; max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>${esc(title)}</h1>
<p class="meta">${history.entries.length} run${history.entries.length === 1 ? '' : 's'}${first ? `, ${esc(first.slice(0, 10))} to ${esc(last.slice(0, 10))}` : ''}; ${trends.length} metric${trends.length === 1 ? '' : 's'}. Each point is one run's median, the band its 95% interval.</p>
${sections.join('\n')}
${more}
<p class="note">Made by vmstep report from the history file.</p>
</body>
</html>
`;
}

function chartSection(t: Trend, index: number, maxPoints: number): string {
  const label = metricLabel(t.metric);
  const points = t.points.slice(-maxPoints);
  const values = points.flatMap((p) => [p.median, p.lower, p.upper]);
  // Time units share one readable scale on the axis; other units are drawn as they are.
  const scale = timeScaleFor(values, t.metric.unit);
  const factor = scale?.factor ?? 1;
  const unit = scale?.unit ?? t.metric.unit;
  let lo = Math.min(...values) * factor;
  let hi = Math.max(...values) * factor;
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.05 || 1;
    lo -= pad;
    hi += pad;
  }
  const step = niceStep(hi - lo, 4);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const x = (i: number) => (points.length === 1 ? (X0 + X1) / 2 : X0 + ((X1 - X0) * i) / (points.length - 1));
  const y = (v: number) => Y1 - ((v * factor - lo) / (hi - lo)) * (Y1 - Y0);
  const f = (n: number) => n.toFixed(1);
  const grid: string[] = [];
  for (let v = lo, k = 0; v <= hi + step / 2 && k < 20; v += step, k++) {
    const yy = Y1 - ((v - lo) / (hi - lo)) * (Y1 - Y0);
    grid.push(`<line x1="${X0}" x2="${X1}" y1="${f(yy)}" y2="${f(yy)}" stroke="#d8dee4"/><text x="${X0 - 6}" y="${f(yy + 4)}" text-anchor="end" font-size="11" fill="#59636e">${esc(trimNumber(v))}</text>`);
  }
  const band = `${points.map((p, i) => `${f(x(i))},${f(y(p.upper))}`).join(' ')} ${points
    .map((p, i) => `${f(x(i))},${f(y(p.lower))}`)
    .reverse()
    .join(' ')}`;
  const line = points.map((p, i) => `${f(x(i))},${f(y(p.median))}`).join(' ');
  const dots = points
    .map((p, i) => `<circle cx="${f(x(i))}" cy="${f(y(p.median))}" r="3" fill="#0969da"><title>${esc(`${p.date.slice(0, 19)} ${p.commit.slice(0, 12)}: ${formatValue(p.median, t.metric.unit)} (n=${p.n})`)}</title></circle>`)
    .join('');
  const ends = [points[0]!, points.at(-1)!];
  const dateLabels = ends.map((p, k) => `<text x="${k === 0 ? X0 : X1}" y="${Y1 + 18}" text-anchor="${k === 0 ? 'start' : 'end'}" font-size="11" fill="#59636e">${esc(`${p.date.slice(0, 10)} ${p.commit.slice(0, 7)}`.trim())}</text>`);
  const better = t.metric.direction === 'smaller' ? 'lower is better' : 'higher is better';
  return `<h2 id="metric-${index + 1}">${esc(label)}</h2>
<p class="meta">${points.length} run${points.length === 1 ? '' : 's'}, ${esc(unit || 'no unit')}, ${better}; latest ${esc(formatValue(points.at(-1)!.median, t.metric.unit))}</p>
<svg class="trend" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(`trend of ${label}`)}" font-family="${FONT}">
<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>
${grid.join('\n')}
<polygon points="${band}" fill="#0969da" fill-opacity="0.15"/>
<polyline points="${line}" fill="none" stroke="#0969da" stroke-width="2"/>
${dots}
${dateLabels.join('')}
<text x="${(X0 + X1) / 2}" y="${H - 8}" text-anchor="middle" font-size="11" fill="#59636e">run (oldest to newest)</text>
<text x="14" y="${(Y0 + Y1) / 2}" font-size="11" fill="#59636e" transform="rotate(-90 14 ${(Y0 + Y1) / 2})" text-anchor="middle">${esc(unit || 'value', 20)}</text>
</svg>`;
}

function trimNumber(v: number): string {
  const r = Math.round(v * 1e6) / 1e6;
  return Math.abs(r) >= 1e4 ? r.toExponential(2) : String(r);
}
