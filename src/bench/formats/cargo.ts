// libtest's bench output (`cargo bench` with #[bench]):
//   test fib_20 ... bench:       1,234 ns/iter (+/- 56)
//   test copy   ... bench:       2,345 ns/iter (+/- 12) = 437 MB/s
// Newer toolchains print fractional values ("1,234.50 ns/iter"). The
// nanoseconds per iteration are the latency; the "= N MB/s" that
// Bencher::bytes adds is a throughput.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, quoteName, readName, readPrintedNumber, textLines } from './common.js';

const LINE = /^test\s+(.+?)\s+\.\.\.\s+bench:\s+([\d,.]+)\s+(\S+)\/iter\s+\(\+\/-\s+([\d,.]+)\)(?:\s*=\s*([\d,.]+)\s+(\S+))?\s*$/;

export function looksLikeCargoBench(text: string): boolean {
  return /^test\s+.+\s+\.\.\.\s+bench:\s+[\d,.]+\s+\S+\/iter/m.test(text);
}

export function parseCargoBench(text: string, source: string): MetricValue[] {
  const out: MetricValue[] = [];
  textLines(text).forEach((line, index) => {
    if (!/^test\s.*\bbench:/.test(line)) return;
    const where = `line ${index + 1}`;
    const m = LINE.exec(line.trim());
    if (!m) throw new MetricsFileError(source, `${where} is not "test NAME ... bench: N ns/iter (+/- M)"`);
    const name = readName(m[1], source, `${where} benchmark name`);
    if (m[3] !== 'ns') throw new MetricsFileError(source, `${where} (${quoteName(name)}): unit ${quoteName(m[3]!)}/iter, libtest writes ns/iter`);
    out.push({ name, measure: 'latency', unit: 'ns', direction: 'smaller', value: readPrintedNumber(m[2]!, source, where) });
    if (m[5] !== undefined) {
      out.push({ name, measure: 'throughput', unit: m[6]!, direction: 'bigger', value: readPrintedNumber(m[5], source, where) });
    }
    checkCount(out.length, source);
  });
  if (out.length === 0) {
    throw new MetricsFileError(source, 'cargo: no "test NAME ... bench: N ns/iter" lines: write the standard output of cargo bench to the metrics file');
  }
  return out;
}
