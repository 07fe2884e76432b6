// benchmark.js's String(bench), printed per cycle by most suites:
//   RegExp#test x 43,295,547 ops/sec ±0.56% (91 runs sampled)
// Each line is one throughput metric in operations per second.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, readName, readPrintedNumber, textLines } from './common.js';

const LINE = /^(.+?) x ([\d,.]+) ops\/sec (?:±|\+\/-)\s*([\d.]+)% \((\d+) runs? sampled\)\s*$/;

export function looksLikeBenchmarkJs(text: string): boolean {
  return /^.+ x [\d,.]+ ops\/sec \S+% \(\d+ runs? sampled\)/m.test(text);
}

export function parseBenchmarkJs(text: string, source: string): MetricValue[] {
  const out: MetricValue[] = [];
  textLines(text).forEach((line, index) => {
    if (!/ ops\/sec /.test(line)) return;
    const where = `line ${index + 1}`;
    const m = LINE.exec(line.trim());
    if (!m) throw new MetricsFileError(source, `${where} is not benchmark.js's "NAME x N ops/sec ±P% (R runs sampled)"`);
    const name = readName(m[1], source, `${where} benchmark name`);
    out.push({ name, measure: 'throughput', unit: 'ops/s', direction: 'bigger', value: readPrintedNumber(m[2]!, source, where) });
    checkCount(out.length, source);
  });
  if (out.length === 0) {
    throw new MetricsFileError(source, 'benchmarkjs: no "NAME x N ops/sec ±P% (R runs sampled)" lines: write each cycle event\'s String(event.target) to the metrics file');
  }
  return out;
}
