// Catch2's XML reporter (`-r xml`, the same element in v2 and v3):
//   <BenchmarkResults name="fib 20" samples="100" ... >
//     <!--All values in nano seconds-->
//     <mean value="1234.5" lowerBound="..." upperBound="..." ci="0.95"/>
//     <standardDeviation .../> <outliers .../>
//   </BenchmarkResults>
// Each benchmark's mean (in nanoseconds, as the reporter says) is a latency.
// The reporter's XML is flat and regular, so it is read with patterns rather
// than a general XML parser; entities in names are decoded.
import type { MetricValue } from '../metric.js';
import { MetricsFileError, checkCount, quoteName, readName, readPrintedNumber } from './common.js';

export function looksLikeCatch2(text: string): boolean {
  return /<(Catch|Catch2TestRun)\b/.test(text.slice(0, 4096)) || /<BenchmarkResults\b/.test(text);
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (_all, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Math.min(parseInt(e.slice(2), 16), 0x10ffff));
    if (e.startsWith('#')) return String.fromCodePoint(Math.min(parseInt(e.slice(1), 10), 0x10ffff));
    return ENTITIES[e]!;
  });
}

function attribute(attributes: string, key: string): string | undefined {
  const m = new RegExp(`\\b${key}="([^"]*)"`).exec(attributes);
  return m ? decodeXml(m[1]!) : undefined;
}

export function parseCatch2(text: string, source: string): MetricValue[] {
  const out: MetricValue[] = [];
  // Catch2 leaves ">" unescaped inside attribute values, so attributes are
  // matched as quoted strings. Each element's end is found once and the
  // search resumes after it, so the scan stays linear on any input.
  const starts = /<BenchmarkResults\b((?:[^>"]|"[^"]*")*)>/g;
  for (let m = starts.exec(text); m !== null; m = starts.exec(text)) {
    const name = readName(attribute(m[1]!, 'name'), source, 'catch2: a <BenchmarkResults> "name"');
    const close = text.indexOf('</BenchmarkResults>', starts.lastIndex);
    if (close < 0) throw new MetricsFileError(source, `catch2: benchmark ${quoteName(name)} has no </BenchmarkResults>: the XML was cut short`);
    const mean = /<mean\b((?:[^>"]|"[^"]*")*)>/.exec(text.slice(starts.lastIndex, close));
    const value = mean ? attribute(mean[1]!, 'value') : undefined;
    if (value === undefined) throw new MetricsFileError(source, `catch2: benchmark ${quoteName(name)} has no <mean value="..."/>`);
    out.push({ name, measure: 'latency', unit: 'ns', direction: 'smaller', value: readPrintedNumber(value, source, `catch2: benchmark ${quoteName(name)} mean`) });
    checkCount(out.length, source);
    starts.lastIndex = close;
  }
  if (out.length === 0) {
    const failed = /<BenchmarkFailed\b/.test(text) ? ': a benchmark failed (see <BenchmarkFailed>)' : ': run the test binary with -r xml, and enable benchmarks (CATCH_CONFIG_ENABLE_BENCHMARKING in v2)';
    throw new MetricsFileError(source, `catch2: no <BenchmarkResults> elements${failed}`);
  }
  return out;
}
