// cargo-criterion's machine-readable messages (`cargo criterion
// --message-format=json`): one JSON object per line. Those with
// "reason": "benchmark-complete" carry a benchmark's "id" and its "typical"
// estimate { estimate, lower_bound, upper_bound, unit }, the number Criterion
// itself reports first; "group-complete" and other reasons are skipped.
import { type MetricValue, guessDirection } from '../metric.js';
import { MetricsFileError, canonicalUnit, checkCount, describeJson, isPlainObject, quoteName, readName, readNumber, textLines } from './common.js';

export function looksLikeCriterion(text: string): boolean {
  const first = textLines(text).find((l) => l.trim() !== '');
  return first !== undefined && /^\s*\{.*"reason"\s*:\s*"(benchmark-complete|group-complete)"/.test(first);
}

export function parseCriterion(text: string, source: string): MetricValue[] {
  const out: MetricValue[] = [];
  textLines(text).forEach((line, index) => {
    if (line.trim() === '') return;
    const where = `line ${index + 1}`;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      throw new MetricsFileError(source, `criterion: ${where} is not a JSON message (${(error as Error).message})`);
    }
    if (!isPlainObject(message)) throw new MetricsFileError(source, `criterion: ${where} must be a JSON object, found ${describeJson(message)}`);
    if (message.reason !== 'benchmark-complete') return;
    const name = readName(message.id, source, `criterion: ${where} "id"`);
    const typical = message.typical;
    if (!isPlainObject(typical)) throw new MetricsFileError(source, `criterion: ${where} (${quoteName(name)}) has no "typical" estimate object`);
    const value = readNumber(typical.estimate, source, `criterion: ${where} (${quoteName(name)}) "typical.estimate"`);
    const rawUnit = typical.unit ?? message.unit;
    if (typeof rawUnit !== 'string' || rawUnit.trim() === '') {
      throw new MetricsFileError(source, `criterion: ${where} (${quoteName(name)}) has no "unit" for its estimate`);
    }
    const unit = canonicalUnit(rawUnit).slice(0, 64);
    out.push({ name, measure: 'latency', unit, direction: guessDirection('latency', unit), value });
    checkCount(out.length, source);
  });
  if (out.length === 0) {
    throw new MetricsFileError(source, 'criterion: no "benchmark-complete" messages: write the standard output of cargo criterion --message-format=json to the metrics file');
  }
  return out;
}
