// `go test -bench` output: one line per benchmark,
//   BenchmarkName-8   1000000   1234 ns/op   56.7 MB/s   128 B/op   2 allocs/op
// after the iteration count come value-unit pairs: ns/op always, MB/s with
// b.SetBytes, B/op and allocs/op with -benchmem or b.ReportAllocs, and any
// b.ReportMetric units. Every pair becomes a metric of the benchmark. The
// "-8" GOMAXPROCS suffix stays in the name: it is part of what was measured.
import { type MetricValue, guessDirection } from '../metric.js';
import { MetricsFileError, canonicalUnit, checkCount, quoteName, readName, readPrintedNumber, textLines } from './common.js';

const LINE = /^(Benchmark\S*)\s+(\d+)\s+(\S.*)$/;

export function looksLikeGoBench(text: string): boolean {
  return /^Benchmark\S*\s+\d+\s+[\d.e+-]+ ns\/op/m.test(text);
}

/** What a go unit measures, its unit as vmstep writes it, and which way is better. */
function goMeasure(unit: string): Pick<MetricValue, 'measure' | 'unit' | 'direction'> {
  switch (unit) {
    case 'ns/op':
      return { measure: 'latency', unit: 'ns', direction: 'smaller' };
    case 'MB/s':
      return { measure: 'throughput', unit: 'MB/s', direction: 'bigger' };
    case 'B/op':
      return { measure: 'memory', unit: 'bytes', direction: 'smaller' };
    case 'allocs/op':
      return { measure: 'allocations', unit: 'allocs', direction: 'smaller' };
    default:
      // A b.ReportMetric unit such as "widgets/op" or "hits/s": its own measure.
      return { measure: unit, unit: canonicalUnit(unit), direction: guessDirection(unit, unit) };
  }
}

export function parseGoBench(text: string, source: string): MetricValue[] {
  const out: MetricValue[] = [];
  textLines(text).forEach((line, index) => {
    const m = LINE.exec(line.trim());
    if (!m) return;
    const where = `line ${index + 1}`;
    const name = readName(m[1], source, `${where} benchmark name`);
    const fields = m[3]!.trim().split(/\s+/);
    if (fields.length % 2 !== 0) {
      throw new MetricsFileError(source, `${where} (${quoteName(name)}): go benchmark results come in value-unit pairs, found ${fields.length} fields`);
    }
    for (let i = 0; i < fields.length; i += 2) {
      const value = readPrintedNumber(fields[i]!, source, `${where} (${quoteName(name)})`);
      out.push({ name, ...goMeasure(fields[i + 1]!), value });
    }
    checkCount(out.length, source);
  });
  if (out.length === 0) {
    throw new MetricsFileError(source, 'go: no "BenchmarkName  N  T ns/op" lines: run go test with -bench and write its standard output to the metrics file');
  }
  return out;
}
