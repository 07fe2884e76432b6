// The history file and its page: what a run appends, how a garbled or
// hostile file is refused, the trend in the report, and the static page as
// headless Chromium (Debian's package) renders it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HISTORY_FORMAT,
  type History,
  HistoryFileError,
  MAX_HISTORY_ENTRIES,
  appendHistory,
  emptyHistory,
  historyEntry,
  historyTrends,
  parseHistory,
  renderTrendMarkdown,
  serializeHistory,
  sparkline,
} from '../../src/bench/history.js';
import { type MetricSeries, WALL_TIME } from '../../src/bench/metric.js';
import { renderHistoryPage } from '../../src/bench/report/history-html.js';
import { createRng } from '../../src/bench/stats/random.js';

const wall = (values: number[]): MetricSeries => ({ ...WALL_TIME, values });
const ops = (values: number[]): MetricSeries => ({ name: 'parse', measure: 'throughput', unit: 'ops/s', direction: 'bigger', values });

/** Thirty nightly runs: wall time creeping up, throughput flat, and a metric with a name that tries to be markup. */
function nightly(): History {
  const rng = createRng('nightly');
  let h = emptyHistory();
  for (let day = 0; day < 30; day++) {
    const jitter = () => 1 + (rng() - 0.5) * 0.04;
    const series = [
      wall(Array.from({ length: 10 }, () => (100 + day) * jitter())),
      ops(Array.from({ length: 10 }, () => 5000 * jitter())),
      { name: '<script>alert(1)</script>', measure: 'latency', unit: 'ns', direction: 'smaller' as const, values: Array.from({ length: 10 }, () => 250 * jitter()) },
    ];
    h = appendHistory(h, historyEntry(series, { date: new Date(Date.UTC(2026, 0, day + 1, 3)), commit: `${day.toString(16).padStart(2, '0')}${'a'.repeat(38)}`, ref: 'refs/heads/main', image: 'bench:main' }));
  }
  return h;
}

describe('the history file', () => {
  it('appends a run as the medians and intervals of its metrics, with commit and date, and reads back what it wrote', () => {
    const entry = historyEntry([wall([10, 11, 12, 13, 14, 15, 16, 17, 18, 19])], { date: new Date('2026-02-01T03:00:00Z'), commit: 'c0ffee', ref: 'refs/heads/main', image: 'bench:main' });
    expect(entry).toEqual({
      date: '2026-02-01T03:00:00.000Z',
      commit: 'c0ffee',
      ref: 'refs/heads/main',
      image: 'bench:main',
      metrics: [{ ...WALL_TIME, n: 10, median: 14.5, lower: 11, upper: 18, mean: 14.5, stddev: expect.closeTo(3.0277, 3) }],
    });
    const h = appendHistory(appendHistory(emptyHistory(), entry), { ...entry, commit: 'beef' });
    const text = serializeHistory(h);
    expect(text.split('\n').filter((l) => l.startsWith('    {'))).toHaveLength(2);
    expect(parseHistory(text, 'h.json')).toEqual(h);
  });

  it(`keeps the newest ${MAX_HISTORY_ENTRIES} runs`, () => {
    const e = historyEntry([wall([1])], { date: new Date(0) });
    let h: History = { ...emptyHistory(), entries: Array.from({ length: MAX_HISTORY_ENTRIES }, (_, i) => ({ ...e, commit: String(i) })) };
    h = appendHistory(h, { ...e, commit: 'new' });
    expect(h.entries).toHaveLength(MAX_HISTORY_ENTRIES);
    expect(h.entries[0]!.commit).toBe('1');
    expect(h.entries.at(-1)!.commit).toBe('new');
  });

  const refused: [string, string | Uint8Array, RegExp][] = [
    ['empty', '  \n', /the file is empty: delete it and a run starts a new one$/],
    ['not UTF-8', Uint8Array.of(0xff, 0xfe, 0x00), /the file is not UTF-8 text$/],
    ['not JSON', '{"format":', /not valid JSON \(/],
    ['a results file', '{"format":"vmstep-bench-results","version":1,"metrics":[]}', /not a vmstep history file \(no "format": "vmstep-bench-history"\)/],
    ['a newer version', `{"format":"${HISTORY_FORMAT}","version":9,"entries":[]}`, /written by a newer vmstep \(history version 9; this one reads up to 1\): update vmstep$/],
    ['entries not a list', `{"format":"${HISTORY_FORMAT}","version":1,"entries":{}}`, /"entries" must be an array, found an object/],
    ['a bad date', `{"format":"${HISTORY_FORMAT}","version":1,"entries":[{"date":"soon","metrics":[]}]}`, /entries\[0\] "date" "soon" is not a date$/],
    ['a string for a number', `{"format":"${HISTORY_FORMAT}","version":1,"entries":[{"date":"2026-01-01","metrics":[{"name":"a","measure":"latency","unit":"ms","direction":"smaller","n":1,"median":"1","lower":1,"upper":1,"mean":1,"stddev":0}]}]}`, /entries\[0\]\.metrics\[0\] "median" must be a finite number, found a string$/],
    ['a zero run count', `{"format":"${HISTORY_FORMAT}","version":1,"entries":[{"date":"2026-01-01","metrics":[{"name":"a","measure":"latency","unit":"ms","direction":"smaller","n":0,"median":1,"lower":1,"upper":1,"mean":1,"stddev":0}]}]}`, /"n" must be a whole number of 1 or more, found 0$/],
    ['a bad direction', `{"format":"${HISTORY_FORMAT}","version":1,"entries":[{"date":"2026-01-01","metrics":[{"name":"a","measure":"latency","unit":"ms","direction":"up"}]}]}`, /"direction" must be "smaller" or "bigger"$/],
    ['a prototype key', `{"format":"${HISTORY_FORMAT}","version":1,"__proto__":{"entries":[]},"entries":null}`, /"entries" must be an array, found null/],
  ];
  for (const [what, content, message] of refused) {
    it(`refuses a file that is ${what} with one line naming where`, () => {
      let err: unknown;
      try {
        parseHistory(content, 'h.json');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HistoryFileError);
      expect((err as Error).message).toMatch(/^history file h\.json: /);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('never crashes on 2,000 random corruptions of a real file: each one parses or is refused with a HistoryFileError', () => {
    const text = serializeHistory(nightly());
    const rng = createRng('corrupt');
    const alphabet = '{}[]",:0-9eE.+-nulltruefalse \\\u0000\u00ff';
    for (let i = 0; i < 2000; i++) {
      const chars = [...text.slice(0, 4000)];
      for (let k = 0; k < 1 + Math.floor(rng() * 5); k++) chars[Math.floor(rng() * chars.length)] = alphabet[Math.floor(rng() * alphabet.length)]!;
      try {
        parseHistory(chars.join(''), 'h.json');
      } catch (e) {
        expect(e).toBeInstanceOf(HistoryFileError);
      }
    }
  });
});

describe('the trend', () => {
  it('draws one trend per metric, points in run order, and a metric whose unit changed as a trend of its own', () => {
    const h = nightly();
    const trends = historyTrends(h);
    expect(trends.map((t) => [t.metric.name, t.points.length])).toEqual([
      ['wall time', 30],
      ['parse', 30],
      ['<script>alert(1)</script>', 30],
    ]);
    expect(trends[0]!.points[29]!.median).toBeGreaterThan(trends[0]!.points[0]!.median);
    const e = historyEntry([{ ...wall([5]), unit: 's' }], { date: new Date() });
    expect(historyTrends(appendHistory(h, e)).map((t) => `${t.metric.name} ${t.metric.unit}`)).toEqual(['wall time ms', 'parse ops/s', '<script>alert(1)</script> ns', 'wall time s']);
  });

  it('shows per metric the runs, the previous and this median, the change and a text sparkline in the report', () => {
    const md = renderTrendMarkdown(nightly(), 10);
    expect(md).toMatch(/^#### Trend over the last 10 of 30 runs in the history\n/);
    expect(md).toMatch(/^\| wall time \| 30 \| 1[23]\d\.\d ms \| 1[23]\d\.\d ms \| [+−-]\d\.\d% \| [▁▂▃▄▅▆▇█]{10} \|$/m);
    expect(md).toContain('| &lt;script&gt;alert(1)&lt;/script&gt; |');
    expect(sparkline([1, 2, 3, 4, 5, 6, 7, 8])).toBe('▁▂▃▄▅▆▇█');
    expect(sparkline([3, 3])).toBe('▄▄');
    expect(renderTrendMarkdown(emptyHistory())).toBe('');
  });
});

describe('the history page', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmstep-history-page-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is self-contained: one inline SVG chart per metric, no script, nothing fetched, every name escaped', () => {
    const html = renderHistoryPage(nightly(), { title: 'nightly <b>' });
    expect(html.match(/<svg class="trend"/g)).toHaveLength(3);
    expect(html).not.toMatch(/<script|src=|href=|url\(|@import/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<title>nightly &lt;b&gt;</title>');
    expect(html).toContain("default-src 'none'");
  });

  const chromium = ['chromium', 'chromium-browser'].find((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status === 0);

  /** Headless Chromium on a file: the DOM after load, its console lines, and a screenshot. */
  function render(file: string, screenshot?: string) {
    const args = ['--headless', '--disable-gpu', '--no-sandbox', `--user-data-dir=${join(dir, 'profile')}`, '--enable-logging=stderr', '--v=0', '--hide-scrollbars'];
    const dom = spawnSync(chromium!, [...args, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 90_000 });
    if (screenshot) spawnSync(chromium!, [...args, '--window-size=900,1800', `--screenshot=${screenshot}`, `file://${file}`], { encoding: 'utf8', timeout: 90_000 });
    return { dom: dom.stdout, console: dom.stderr.split('\n').filter((l) => /:CONSOLE[:(]/.test(l)), status: dom.status };
  }

  it.skipIf(!chromium)('renders in headless Chromium with a chart per metric and no console message', () => {
    const file = join(dir, 'index.html');
    writeFileSync(file, renderHistoryPage(nightly()));
    const shot = join(process.env.VMSTEP_SCREENSHOT_DIR ?? dir, 'history-page.png');
    const r = render(file, shot);
    expect(r.status).toBe(0);
    expect(r.dom.match(/<svg class="trend"/g)).toHaveLength(3);
    expect(r.dom.match(/<polyline /g)).toHaveLength(3);
    expect(r.dom.match(/<circle /g)).toHaveLength(90);
    expect(r.console).toEqual([]);
    expect(existsSync(shot) && statSync(shot).size).toBeGreaterThan(10_000);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
  }, 200_000);

  it.skipIf(!chromium)('would see a console message: a page whose script the policy blocks is caught (the check above can fail)', () => {
    const file = join(dir, 'blocked.html');
    writeFileSync(file, renderHistoryPage(nightly()).replace('</body>', '<script>console.log(1)</script></body>'));
    expect(render(file).console.length).toBeGreaterThan(0);
  }, 200_000);

  it.runIf(!chromium)('skips the Chromium checks: chromium is not installed (apt-get install chromium, or npm test installs it)', () => {
    expect(chromium).toBeUndefined();
  });
});
