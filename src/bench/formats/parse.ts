// One entry point for metrics files: picks the format (or detects it), runs
// its parser, and applies the checks every format shares.
import { parseChoice } from '../choice.js';
import { type MetricValue, metricKey, metricLabel } from '../metric.js';
import { MetricsFileError, decodeText, parseJson } from './common.js';
import { looksLikeBenchmarkDotNet, parseBenchmarkDotNet } from './benchmarkdotnet.js';
import { looksLikeBenchmarkJs, parseBenchmarkJs } from './benchmarkjs.js';
import { looksLikeBmf, parseBmf } from './bmf.js';
import { looksLikeCargoBench, parseCargoBench } from './cargo.js';
import { looksLikeCatch2, parseCatch2 } from './catch2.js';
import { looksLikeCriterion, parseCriterion } from './criterion.js';
import { looksLikeGithubActionBenchmark, parseGithubActionBenchmark } from './github-action-benchmark.js';
import { looksLikeGoBench, parseGoBench } from './go.js';
import { looksLikeGoogleBenchmark, parseGoogleBenchmark } from './googlebench.js';
import { looksLikeHyperfine, parseHyperfine } from './hyperfine.js';
import { looksLikeJmh, parseJmh } from './jmh.js';
import { looksLikePytestBenchmark, parsePytestBenchmark } from './pytest-benchmark.js';

export const METRICS_FORMATS = [
  'auto',
  'bmf',
  'customSmallerIsBetter',
  'customBiggerIsBetter',
  'hyperfine',
  'cargo',
  'criterion',
  'go',
  'pytest-benchmark',
  'googlebench',
  'catch2',
  'jmh',
  'benchmarkdotnet',
  'benchmarkjs',
] as const;
export type MetricsFormat = (typeof METRICS_FORMATS)[number];
export type ResolvedMetricsFormat = Exclude<MetricsFormat, 'auto'>;

export interface ParseMetricsOptions {
  format?: MetricsFormat;
  /** How the file is named in errors: the guest path the user configured. */
  source?: string;
}

export interface ParsedMetrics {
  format: ResolvedMetricsFormat;
  metrics: MetricValue[];
  /** Problems worth telling the user that do not make the run fail. */
  warnings: string[];
}

/** Accepts the spellings a user may type for `metrics-format`; throws naming the valid ones. */
export function parseMetricsFormat(text: string): MetricsFormat {
  const aliases: Record<string, MetricsFormat> = {
    auto: 'auto',
    bmf: 'bmf',
    bencher: 'bmf',
    json: 'bmf',
    hyperfine: 'hyperfine',
    customsmallerisbetter: 'customSmallerIsBetter',
    'custom-smaller-is-better': 'customSmallerIsBetter',
    custombiggerisbetter: 'customBiggerIsBetter',
    'custom-bigger-is-better': 'customBiggerIsBetter',
    cargo: 'cargo',
    libtest: 'cargo',
    criterion: 'criterion',
    go: 'go',
    gotest: 'go',
    'pytest-benchmark': 'pytest-benchmark',
    pytest: 'pytest-benchmark',
    googlebench: 'googlebench',
    'google-benchmark': 'googlebench',
    googlebenchmark: 'googlebench',
    catch2: 'catch2',
    jmh: 'jmh',
    benchmarkdotnet: 'benchmarkdotnet',
    'benchmark-dotnet': 'benchmarkdotnet',
    benchmarkjs: 'benchmarkjs',
    'benchmark.js': 'benchmarkjs',
  };
  return parseChoice('metrics-format', text, aliases, METRICS_FORMATS);
}

/** Formats read from the tool's text output rather than from JSON. */
const TEXT_FORMATS = new Set<ResolvedMetricsFormat>(['cargo', 'criterion', 'go', 'catch2', 'benchmarkjs']);

/** The format of a JSON document, or null when no JSON format matches. */
function detectJsonFormat(json: unknown): ResolvedMetricsFormat | null {
  if (looksLikeHyperfine(json)) return 'hyperfine';
  if (looksLikePytestBenchmark(json)) return 'pytest-benchmark';
  if (looksLikeGoogleBenchmark(json)) return 'googlebench';
  if (looksLikeBenchmarkDotNet(json)) return 'benchmarkdotnet';
  if (looksLikeJmh(json)) return 'jmh';
  if (looksLikeGithubActionBenchmark(json)) return 'customSmallerIsBetter';
  if (looksLikeBmf(json)) return 'bmf';
  return null;
}

/** The format of a tool's text output, or null. */
function detectTextFormat(text: string): ResolvedMetricsFormat | null {
  if (looksLikeCriterion(text)) return 'criterion';
  if (looksLikeCatch2(text)) return 'catch2';
  if (looksLikeGoBench(text)) return 'go';
  if (looksLikeCargoBench(text)) return 'cargo';
  if (looksLikeBenchmarkJs(text)) return 'benchmarkjs';
  return null;
}

const UNKNOWN_FORMAT =
  'not a metrics format vmstep knows: expected Bencher Metric Format or github-action-benchmark JSON, hyperfine, ' +
  'pytest-benchmark, Google Benchmark, JMH or BenchmarkDotNet JSON, cargo criterion JSON messages, Catch2 XML, ' +
  'or the text output of cargo bench, go test -bench or benchmark.js; set metrics-format to say which';

/**
 * The format of a metrics file's text (or of an already parsed JSON value).
 * Text is tried as JSON first, as a single criterion message is JSON too,
 * then as each tool's text output; text that starts like JSON but is not
 * valid ends in the JSON error, which says where it broke.
 */
export function detectMetricsFormat(content: unknown, source: string): ResolvedMetricsFormat {
  let found: ResolvedMetricsFormat | null;
  if (typeof content !== 'string') found = detectJsonFormat(content);
  else {
    found = detectTextFormat(content);
    if (found !== 'criterion' && found !== 'catch2') {
      const jsonLike = /^\uFEFF?\s*[[{]/.test(content);
      if (jsonLike || found === null) {
        let json: unknown = undefined;
        try {
          json = JSON.parse(content.charCodeAt(0) === 0xfeff ? content.slice(1) : content);
        } catch {
          if (jsonLike && found === null) parseJson(content, source);
        }
        if (json !== undefined) found = detectJsonFormat(json) ?? found;
      }
    }
  }
  if (!found) throw new MetricsFileError(source, UNKNOWN_FORMAT);
  return found;
}

/**
 * Parses a metrics file the benchmark wrote. With format `auto` a
 * github-action-benchmark array gets directions guessed from its units;
 * name customSmallerIsBetter or customBiggerIsBetter to state them.
 */
export function parseMetricsFile(content: string | Uint8Array, options: ParseMetricsOptions = {}): ParsedMetrics {
  const source = options.source ?? 'metrics file';
  const requested = options.format ?? 'auto';
  const text = decodeText(content, source);
  const format = requested === 'auto' ? detectMetricsFormat(text, source) : requested;
  const json = TEXT_FORMATS.has(format) ? null : parseJson(text, source);
  let metrics: MetricValue[];
  let warnings: string[] = [];
  switch (format) {
    case 'cargo':
      metrics = parseCargoBench(text, source);
      break;
    case 'criterion':
      metrics = parseCriterion(text, source);
      break;
    case 'go':
      metrics = parseGoBench(text, source);
      break;
    case 'catch2':
      metrics = parseCatch2(text, source);
      break;
    case 'benchmarkjs':
      metrics = parseBenchmarkJs(text, source);
      break;
    case 'pytest-benchmark':
      metrics = parsePytestBenchmark(json, source);
      break;
    case 'googlebench':
      metrics = parseGoogleBenchmark(json, source);
      break;
    case 'jmh':
      metrics = parseJmh(json, source);
      break;
    case 'benchmarkdotnet':
      metrics = parseBenchmarkDotNet(json, source);
      break;
    case 'bmf':
      metrics = parseBmf(json, source);
      break;
    case 'customSmallerIsBetter':
      metrics = parseGithubActionBenchmark(json, source, requested === 'auto' ? 'guess' : 'smaller');
      break;
    case 'customBiggerIsBetter':
      metrics = parseGithubActionBenchmark(json, source, 'bigger');
      break;
    case 'hyperfine':
      ({ metrics, warnings } = parseHyperfine(json, source));
      break;
  }
  const seen = new Set<string>();
  for (const m of metrics) {
    const key = metricKey(m);
    if (seen.has(key)) throw new MetricsFileError(source, `metric ${JSON.stringify(metricLabel(m).slice(0, 80))} appears twice: give each benchmark a unique name`);
    seen.add(key);
  }
  return { format, metrics, warnings };
}
