// Benchmark mode, engine-independent: everything between "the runs are done"
// and "the report is written". Pure functions over numbers and strings; the
// engine runs the VMs, reads the metrics files and writes the outputs.
//
// Typical flow for the engine:
//   const plan = interleavedSchedule({ repeat, warmup, arms });
//   per measured run: [wallTimeValue(ms), ...parseMetricsFile(bytes, { format, source }).metrics]
//   const head = collectSeries(headRuns, 'head'); baseline likewise, or
//   parseResultFile(bytes, path).metrics for baseline-file
//   const comparison = compareSeries(baseline, head.series, { test, thresholdPercent });
//   renderMarkdownReport(comparison, ...), renderSvgChart(comparison, ...)
//   serializeResultFile(createResultFile(head.series, context)),
//   toBencherMetricFormat(head.series), toGithubActionBenchmark(head.series)
//   fail the step when failOnRegression && comparison.regressed

export {
  type Direction,
  type Metric,
  type MetricId,
  type MetricSeries,
  type MetricValue,
  WALL_TIME,
  guessDirection,
  metricKey,
  metricLabel,
  wallTimeValue,
} from './metric.js';

export {
  METRICS_FORMATS,
  type MetricsFormat,
  type ParseMetricsOptions,
  type ParsedMetrics,
  type ResolvedMetricsFormat,
  detectMetricsFormat,
  parseMetricsFile,
  parseMetricsFormat,
} from './formats/parse.js';
export { MAX_METRICS_FILE_BYTES, MAX_METRICS_PER_FILE, MetricsFileError } from './formats/common.js';

export { type CollectedSeries, MAX_SERIES, collectSeries } from './collect.js';
export { type Arm, MAX_REPEAT, MAX_WARMUP, type ScheduleOptions, type ScheduledRun, interleavedSchedule, validateRunCounts } from './schedule.js';

export {
  type Comparison,
  type MetricComparison,
  TEST_NAMES,
  type TestName,
  type VerdictKind,
  type VerdictOptions,
  compareSeries,
  minimumRunsForMannWhitney,
  parseTestName,
  parseThreshold,
  parseThresholdLines,
  regressionMessage,
  unreachableSignificance,
  warningMessage,
} from './verdict.js';
export { CORRECTIONS, type Correction, adjustPValues, parseCorrection } from './stats/correction.js';
export { BENCH_KERNEL_ARGS } from './guest-settings.js';

export { type MarkdownReportOptions, renderHeadline, renderMarkdownReport, renderMarkdownStatistics } from './report/markdown.js';
export { MAX_CHART_METRICS, type SvgChartOptions, renderSvgChart } from './report/svg.js';
export { type TextChartOptions, renderTextChart } from './report/text-chart.js';
export { type BmfResults, type GithubActionBenchmarkEntry, toBencherMetricFormat, toGithubActionBenchmark } from './report/export.js';
export { escapeMarkdown, escapeXml, formatPercent, formatValue } from './report/format.js';

export {
  RESULT_FILE_FORMAT,
  RESULT_FILE_VERSION,
  type ResultFile,
  ResultFileError,
  createResultFile,
  parseResultFile,
  serializeResultFile,
} from './result-file.js';

export { type Interval, type Summary, mean, median, meanInterval, medianInterval, sampleStdDev, summarize } from './stats/describe.js';
export { type WelchResult, welchTTest } from './stats/welch.js';
export { type MannWhitneyMethod, type MannWhitneyResult, mannWhitneyU } from './stats/mann-whitney.js';
export { type BootstrapOptions, bootstrapTwoSampleInterval } from './stats/bootstrap.js';
