// One entry point for metrics files: picks the format (or detects it), runs
// its parser, and applies the checks every format shares.
import { type MetricValue, metricKey, metricLabel } from '../metric.js';
import { MetricsFileError, decodeText, parseJson } from './common.js';
import { looksLikeBmf, parseBmf } from './bmf.js';
import { looksLikeGithubActionBenchmark, parseGithubActionBenchmark } from './github-action-benchmark.js';
import { looksLikeHyperfine, parseHyperfine } from './hyperfine.js';

export const METRICS_FORMATS = ['auto', 'bmf', 'customSmallerIsBetter', 'customBiggerIsBetter', 'hyperfine'] as const;
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
  const normal = text.trim();
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
  };
  const found = aliases[normal.toLowerCase()];
  if (!found) {
    throw new Error(`unknown metrics-format ${JSON.stringify(text)}: use one of ${METRICS_FORMATS.join(', ')}`);
  }
  return found;
}

export function detectMetricsFormat(json: unknown, source: string): ResolvedMetricsFormat {
  if (looksLikeHyperfine(json)) return 'hyperfine';
  if (looksLikeGithubActionBenchmark(json)) return 'customSmallerIsBetter';
  if (looksLikeBmf(json)) return 'bmf';
  throw new MetricsFileError(
    source,
    'not a metrics format vmstep knows: expected Bencher Metric Format ({"bench": {"latency": {"value": 1}}}), ' +
      'a github-action-benchmark array ([{"name", "unit", "value"}]) or hyperfine --export-json ({"results": [...]}); ' +
      'set metrics-format to say which',
  );
}

/**
 * Parses a metrics file the benchmark wrote. With format `auto` a
 * github-action-benchmark array gets directions guessed from its units;
 * name customSmallerIsBetter or customBiggerIsBetter to state them.
 */
export function parseMetricsFile(content: string | Uint8Array, options: ParseMetricsOptions = {}): ParsedMetrics {
  const source = options.source ?? 'metrics file';
  const requested = options.format ?? 'auto';
  const json = parseJson(decodeText(content, source), source);
  const format = requested === 'auto' ? detectMetricsFormat(json, source) : requested;
  let metrics: MetricValue[];
  let warnings: string[] = [];
  switch (format) {
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
