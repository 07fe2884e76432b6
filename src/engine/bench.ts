// Benchmark mode: the same run, many times, each in a fresh VM from the
// cached root filesystem, then statistics and a verdict against a baseline.
// With a baseline image the two arms alternate (A B A B ...) so that drift on
// the host lands on both; with a baseline file the earlier run's samples are
// the baseline. Every measured run records the command's wall time as the
// guest measured it, plus the metrics its metrics file holds. The faces (CLI,
// action) render what this returns; the files it writes are the same for both.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { renderHistoryPage } from '../bench/report/history-html.js';
import { appendHistory, historyEntry, renderTrendMarkdown } from '../bench/history.js';
import { readHistoryFile, writeHistoryFile } from './history-file.js';
import {
  BENCH_KERNEL_ARGS,
  type Arm,
  type Comparison,
  MAX_METRICS_FILE_BYTES,
  MetricsFileError,
  type MetricSeries,
  type MetricValue,
  ResultFileError,
  type ScheduledRun,
  collectSeries,
  compareSeries,
  createResultFile,
  interleavedSchedule,
  parseMetricsFile,
  parseResultFile,
  regressionMessage,
  unreachableSignificance,
  minimumRunsForMannWhitney,
  warningMessage,
  renderMarkdownReport,
  renderSvgChart,
  renderTextChart,
  serializeResultFile,
  toBencherMetricFormat,
  toGithubActionBenchmark,
  wallTimeValue,
} from '../bench/index.js';
import { type Look, describeStop, lookAtMetrics, perLookAlpha } from '../bench/sequential.js';
import type { BenchSettings } from './bench-options.js';
import type { Volume } from './volumes.js';
import { VmstepError } from './errors.js';
import { runImage, type RunControl } from './run.js';
import type { RunEvents, RunOptions, RunResult, VcpuPinning } from './types.js';

/** The verdict of the whole comparison, for a step output and an exit status. */
export type BenchVerdict = 'regression' | 'improvement' | 'no-change' | 'inconclusive' | 'no-baseline';

export interface BenchRun {
  arm: Arm;
  /** 0-based among the arm's runs of the same kind. */
  index: number;
  warmup: boolean;
  /** The command's wall time, as the guest measured it. */
  wallMs: number;
  /** Metrics read from the metrics file (0 without one). */
  metrics: number;
  pinning: VcpuPinning | null;
  /** Where this run's stdout, stderr and returned files are. */
  dir: string;
}

/** How many runs each side took, and why it stopped there. */
export interface BenchStop {
  mode: 'fixed' | 'auto';
  /** Measured runs per side; baseline 0 without a baseline image. */
  runs: Record<Arm, number>;
  /** fixed: the repeat asked for; decided: every metric decided; max-repeat: the limit came first. */
  kind: 'fixed' | 'decided' | 'max-repeat';
  /** One line for the report and the log. */
  reason: string;
  /** Metrics still inconclusive when max-repeat stopped the runs. */
  undecided: string[];
  /** The significance level the verdict used: alpha, or under auto alpha spent over the looks. */
  verdictAlpha: number;
}

export interface BenchArm {
  /** Image reference, or for a baseline file the image it recorded (else the file's name). */
  label: string;
  digest: string | null;
  series: MetricSeries[];
}

export interface BenchFiles {
  /** Every sample, in vmstep's results format: the next run's baseline-file. */
  results: string;
  /** Bencher Metric Format (bencher run --adapter json --file ...). */
  bmf: string;
  /** github-action-benchmark, one file per direction (tool: customSmallerIsBetter / customBiggerIsBetter). */
  smallerIsBetter: string;
  biggerIsBetter: string;
  /** The markdown report (with the chart beside it as chart.svg). */
  report: string;
  chart: string;
}

export interface BenchResult {
  settings: BenchSettings;
  head: BenchArm;
  baseline: BenchArm | null;
  comparison: Comparison;
  stop: BenchStop;
  verdict: BenchVerdict;
  regressed: boolean;
  /** The failure message under fail-on-regression, or null. */
  regressionMessage: string | null;
  /** Metrics worse beyond their warn threshold only: one line to annotate, never to fail; or null. */
  warningMessage: string | null;
  runs: BenchRun[];
  warnings: string[];
  /** How the measured runs' vCPUs ran: pinned to the same host CPUs in every run, or why not. */
  pinning: VcpuPinning;
  files: BenchFiles;
  /** history-file: where this run was appended, how many runs it holds now, and the trend section of the report. */
  history: { file: string; entries: number; trend: string; page: string } | null;
  /** The report for a pull-request comment (no chart: a comment cannot show a local file). */
  markdown: string;
  svg: string;
}

export interface BenchEvents {
  /** Before each run; `position` counts from 1 over all runs, warm-ups included. */
  runStart?(run: ScheduledRun, position: number, total: number): void;
  runEnd?(run: ScheduledRun, result: RunResult): void;
  /** The engine's events of every run (phases, guest output). */
  run?: RunEvents;
  warning?(message: string): void;
}

export interface BenchControl extends RunControl {
  /** The engine; tests may wrap it. */
  runImage?: typeof runImage;
  /** Facts recorded in the results file (commit, ref, runner). */
  context?: Record<string, string>;
}

const ARM_TITLE: Record<Arm, string> = { baseline: 'baseline', head: 'head' };

export async function runBench(head: RunOptions, settings: BenchSettings, events: BenchEvents = {}, control: BenchControl = {}): Promise<BenchResult> {
  const engine = control.runImage ?? runImage;
  const warnings: string[] = [];
  const warn = (message: string) => {
    if (warnings.includes(message)) return;
    warnings.push(message);
    quietly(() => events.warning?.(message));
  };
  // A baseline file is read before the first VM: a bad one should not cost the runs.
  const fileBaseline = settings.baseline?.kind === 'file' ? readBaselineFile(settings.baseline.path) : null;
  const auto = settings.autoRepeat;
  const verdictAlpha = auto && settings.baseline !== null ? perLookAlpha(settings.alpha, auto) : settings.alpha;
  if (fileBaseline && settings.baseline?.kind === 'file') {
    const baselineRuns = Math.max(0, ...fileBaseline.metrics.map((m) => m.values.length));
    const why = unreachableSignificance(settings.test, verdictAlpha, baselineRuns, settings.repeat);
    if (why) {
      throw new VmstepError(
        `the baseline file ${basename(settings.baseline.path)} is too small a sample for ${settings.test}: ${why}`,
        `record the baseline with more repeats (${minimumRunsForMannWhitney(settings.alpha)} or more for mann-whitney), or use test percentage`,
      );
    }
  }
  // The history too: a garbled one is refused before the runs, not after.
  const history = settings.historyFile !== null ? readHistoryFile(settings.historyFile, { missing: 'empty', fix: 'point history-file at the file an earlier vmstep run kept, or at a new path (it is created)' }) : null;
  const arms: Arm[] = settings.baseline?.kind === 'image' ? ['baseline', 'head'] : ['head'];
  // Under repeat auto the schedule starts at min-repeat and grows a pair at a time while a metric is undecided.
  const schedule = interleavedSchedule({ repeat: auto ? auto.minRepeat : settings.repeat, warmup: settings.warmup, arms });
  const mostRuns = settings.warmup * arms.length + settings.repeat * arms.length;
  let lastLook: Look | null = null;

  rmSync(join(settings.resultsDir, 'runs'), { recursive: true, force: true });
  const madeResultsDir = !existsSync(settings.resultsDir);
  mkdirSync(settings.resultsDir, { recursive: true });
  const measured: Record<Arm, MetricValue[][]> = { baseline: [], head: [] };
  const images: Partial<Record<Arm, { reference: string; digest: string }>> = {};
  const runs: BenchRun[] = [];
  try {
    for (let i = 0; i < schedule.length; i++) {
      const planned = schedule[i]!;
      if (control.signal?.aborted) break; // runImage below says so with its own error
      const dir = join(settings.resultsDir, 'runs', `${planned.arm}-${planned.warmup ? 'warmup-' : ''}${planned.index + 1}`);
      const options = runOptionsFor(head, settings, planned.arm, dir);
      quietly(() => events.runStart?.(planned, i + 1, auto ? mostRuns : schedule.length));
      const result = await engine(options, events.run ?? {}, control);
      quietly(() => events.runEnd?.(planned, result));
      const what = `${ARM_TITLE[planned.arm]} ${planned.warmup ? 'warm-up ' : ''}run ${planned.index + 1}`;
      checkRunSucceeded(result, what, options);
      images[planned.arm] ??= result.image;
      const values = [wallTimeValue(result.timings.commandMs)];
      if (settings.metricsFile !== null) {
        const parsed = readMetrics(result, settings, what);
        for (const w of parsed.warnings) warn(w);
        values.push(...parsed.metrics);
      }
      runs.push({ arm: planned.arm, index: planned.index, warmup: planned.warmup, wallMs: result.timings.commandMs, metrics: values.length - 1, pinning: result.vcpuPinning ?? null, dir });
      if (!planned.warmup) measured[planned.arm].push(values);
      if (auto && i === schedule.length - 1) {
        const pairs = measured.head.length;
        lastLook = lookNow(measured, fileBaseline?.metrics ?? null, settings);
        if (!lastLook.decided && pairs < auto.maxRepeat) for (const arm of arms) schedule.push({ arm, warmup: false, index: pairs });
      }
    }
  } catch (err) {
    // A benchmark that failed before any run wrote a file leaves no empty
    // results directory behind; the files of the runs that did stay.
    if (madeResultsDir) removeEmptyDirs(settings.resultsDir);
    throw err;
  }

  const collect = (arm: Arm) => {
    try {
      const c = collectSeries(measured[arm], ARM_TITLE[arm]);
      for (const w of c.warnings) warn(w);
      return c.series;
    } catch (err) {
      throw new VmstepError((err as Error).message, 'make the benchmark report the same metrics, in the same units, in every run', { cause: err });
    }
  };
  const headSeries = collect('head');
  // Two source trees in one image: the arms are told apart by their trees.
  const trees = settings.baseline?.kind === 'image' && settings.baseline.volumes !== null;
  // The trees first: reports shorten long labels from the end, and the image is often the same.
  const treeLabel = (volumes: readonly Volume[]) => (trees ? `[${volumes.map((v) => basename(v.hostPath)).join(', ') || 'no volumes'}] ` : '');
  const headArm: BenchArm = { label: `${treeLabel(head.volumes)}${images.head?.reference ?? head.image}`, digest: images.head?.digest ?? null, series: headSeries };
  let baseline: BenchArm | null = null;
  if (settings.baseline?.kind === 'image') {
    const label = `${treeLabel(settings.baseline.volumes ?? head.volumes)}${images.baseline?.reference ?? settings.baseline.image ?? head.image}`;
    baseline = { label, digest: images.baseline?.digest ?? null, series: collect('baseline') };
  } else if (fileBaseline && settings.baseline?.kind === 'file') {
    baseline = { label: fileBaseline.context.image ?? basename(settings.baseline.path), digest: fileBaseline.context.digest ?? null, series: fileBaseline.metrics };
  }

  let comparison: Comparison;
  try {
    comparison = compareSeries(baseline?.series ?? [], headSeries, {
      test: settings.test,
      thresholdPercent: settings.thresholdPercent,
      thresholds: settings.thresholds,
      warnThresholdPercent: settings.warnThresholdPercent,
      warnThresholds: settings.warnThresholds,
      alpha: verdictAlpha,
      correction: settings.correction,
    });
  } catch (err) {
    throw new VmstepError((err as Error).message, 'check the test and threshold settings', { cause: err });
  }
  const verdict = overallVerdict(comparison, baseline !== null);
  const runsPerArm = { baseline: measured.baseline.length, head: measured.head.length };
  const stop: BenchStop =
    auto && lastLook
      ? {
          mode: 'auto',
          runs: runsPerArm,
          kind: lastLook.decided ? 'decided' : 'max-repeat',
          reason: describeStop(lastLook, measured.head.length, auto, baseline !== null),
          undecided: lastLook.undecided,
          verdictAlpha,
        }
      : { mode: 'fixed', runs: runsPerArm, kind: 'fixed', reason: `repeat ${settings.repeat}`, undecided: [], verdictAlpha };
  const labels = { baselineLabel: baseline?.label ?? '', headLabel: headArm.label };
  const title = 'vmstep benchmark';
  const stopping = stop.mode === 'auto' ? stoppingNote(stop, settings) : undefined;
  let historyResult: BenchResult['history'] = null;
  if (history && settings.historyFile !== null) {
    const ctx = control.context ?? {};
    const updated = appendHistory(history, historyEntry(headSeries, { date: new Date(), commit: ctx.commit, ref: ctx.ref, image: headArm.label }));
    writeHistoryFile(settings.historyFile, updated);
    // The page too, so that a workflow can publish it without the CLI.
    const page = join(settings.resultsDir, 'history', 'index.html');
    mkdirSync(dirname(page), { recursive: true });
    writeFileSync(page, renderHistoryPage(updated));
    historyResult = { file: settings.historyFile, entries: updated.entries.length, trend: renderTrendMarkdown(updated), page };
  }
  const trend = historyResult ? `\n${historyResult.trend}` : '';
  const markdown = renderMarkdownReport(comparison, { title, ...labels, warnings, stopping }) + trend;
  const svg = renderSvgChart(comparison, { title, ...labels });

  const pinning = pinningOf(runs.filter((r) => !r.warmup));
  // Whether the vCPUs had cores of their own travels with the samples: a baseline measured otherwise is worth knowing about.
  const facts = { image: headArm.label, ...(headArm.digest ? { digest: headArm.digest } : {}), vcpuPinning: pinning.pinned ? `host CPU ${pinning.cpus.join(', ')}` : `none: ${pinning.reason}` };
  const files = writeFiles(settings.resultsDir, {
    results: serializeResultFile({ ...createResultFile(headSeries, { ...facts, ...control.context }), stopping: { repeat: stop.mode === 'auto' ? 'auto' : settings.repeat, runs: stop.runs, stoppedBecause: stop.kind, reason: stop.reason } }),
    bmf: `${JSON.stringify(toBencherMetricFormat(headSeries), null, 2)}\n`,
    ...splitGab(headSeries),
    report: renderMarkdownReport(comparison, { title, ...labels, warnings, stopping, chartMarkdown: `${renderTextChart(comparison)}\n\n_Every run as an image: chart.svg, beside this report._` }) + trend,
    chart: svg,
  });

  return {
    settings,
    head: headArm,
    baseline,
    comparison,
    stop,
    verdict,
    regressed: comparison.regressed,
    regressionMessage: regressionMessage(comparison),
    warningMessage: warningMessage(comparison),
    runs,
    warnings,
    pinning,
    files,
    history: historyResult,
    markdown,
    svg,
  };
}

/** A look between pairs: the series so far (a run that breaks collection stops the looking; the final collection says why). */
function lookNow(measured: Record<Arm, MetricValue[][]>, fileBaseline: MetricSeries[] | null, settings: BenchSettings): Look {
  const auto = settings.autoRepeat!;
  const plan = { ...auto, alpha: settings.alpha, thresholdPercent: settings.thresholdPercent, thresholds: settings.thresholds, warnThresholdPercent: settings.warnThresholdPercent, warnThresholds: settings.warnThresholds };
  try {
    const head = collectSeries(measured.head).series;
    const baseline = settings.baseline?.kind === 'image' ? collectSeries(measured.baseline, 'baseline').series : fileBaseline;
    return lookAtMetrics(baseline, head, plan);
  } catch {
    return { decided: true, metrics: [], undecided: [] };
  }
}

/** The report's line on adaptive repeats: how many runs, why they stopped, and the level the verdict used. */
export function stoppingNote(stop: BenchStop, settings: BenchSettings): string {
  const sides = settings.baseline?.kind === 'image' ? `${stop.runs.baseline} baseline and ${stop.runs.head} head runs` : `${stop.runs.head} runs`;
  const level = settings.baseline !== null && stop.verdictAlpha !== settings.alpha ? `; verdicts at α = ${+stop.verdictAlpha.toPrecision(3)}, the ${settings.alpha} spread over every look` : '';
  return `repeat auto: ${sides}, stopped: ${stop.reason}${level}`;
}

/** The run of one arm: the head's options, the baseline's image, bench kernel arguments, its own directory. */
function runOptionsFor(head: RunOptions, settings: BenchSettings, arm: Arm, dir: string): RunOptions {
  const other = arm === 'baseline' && settings.baseline?.kind === 'image' ? settings.baseline : null;
  const image = other?.image ?? head.image;
  const volumes = other?.volumes ?? head.volumes;
  const outputs = settings.metricsFile !== null && !head.outputs.includes(settings.metricsFile) ? [...head.outputs, settings.metricsFile] : head.outputs;
  const kernelArgs = [...head.kernelArgs, ...BENCH_KERNEL_ARGS.filter((a) => !head.kernelArgs.includes(a))];
  return { ...head, image, volumes, outputs, kernelArgs, outputDir: join(dir, 'output'), logDir: dir, pinVcpus: true, capacityLabel: `vmstep bench ${image}` };
}

function checkRunSucceeded(result: RunResult, what: string, options: RunOptions): void {
  const where = result.stderrFile ? `: its stderr is in ${result.stderrFile}` : '';
  if (result.timedOut) {
    throw new VmstepError(`the ${what} ran past the time limit and was stopped`, `raise the timeout, or make the benchmark shorter${where}`);
  }
  if (result.exitCode !== 0) {
    const signal = result.signal ? ` (${result.signal})` : '';
    throw new VmstepError(`the ${what} of ${options.image} exited with ${result.exitCode}${signal}`, `a benchmark must succeed to be measured${where}`);
  }
}

/** The metrics file of one run: found among its returned files, bounded, parsed. */
function readMetrics(result: RunResult, settings: BenchSettings, what: string) {
  const wanted = settings.metricsFile!;
  const relative = wanted.startsWith('/') ? null : `/${posix.normalize(wanted)}`;
  const file = result.outputs.find((o) => o.guestPath === posix.normalize(wanted) || (relative !== null && o.guestPath.endsWith(relative)));
  if (!file) {
    const issue = result.outputIssues.find((i) => i.request === wanted);
    throw new VmstepError(
      `the ${what} wrote no metrics file ${wanted}${issue ? ` (${issue.message})` : ''}`,
      'make the benchmark write it in every run, or correct the metrics-file path (relative paths start at the working directory)',
    );
  }
  const size = statSync(file.hostPath).size;
  if (size > MAX_METRICS_FILE_BYTES) {
    throw new VmstepError(`the ${what} wrote a metrics file ${wanted} of ${size} bytes, over the ${MAX_METRICS_FILE_BYTES}-byte limit`, 'write only the results into it');
  }
  try {
    return parseMetricsFile(readFileSync(file.hostPath), { format: settings.metricsFormat, source: wanted });
  } catch (err) {
    if (err instanceof MetricsFileError) throw new VmstepError(`${what}: ${err.message}`, 'fix what the benchmark writes, or set the metrics format', { cause: err });
    throw err;
  }
}

function readBaselineFile(path: string) {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new VmstepError(`cannot read the baseline file ${path} (${code})`, 'point it at the results.json an earlier vmstep bench run wrote (for example restored with actions/cache), or leave it unset', {
      cause: err,
    });
  }
  try {
    return parseResultFile(bytes, path);
  } catch (err) {
    if (err instanceof ResultFileError) throw new VmstepError(err.message, '', { cause: err });
    throw err;
  }
}

export function overallVerdict(c: Comparison, hasBaseline: boolean): BenchVerdict {
  if (!hasBaseline) return 'no-baseline';
  if (c.counts.regression > 0) return 'regression';
  if (c.counts.improvement > 0) return 'improvement';
  if (c.counts.inconclusive > 0) return 'inconclusive';
  return 'no-change';
}

function splitGab(series: MetricSeries[]) {
  const gab = toGithubActionBenchmark(series);
  return { smallerIsBetter: `${JSON.stringify(gab.smallerIsBetter, null, 2)}\n`, biggerIsBetter: `${JSON.stringify(gab.biggerIsBetter, null, 2)}\n` };
}

const FILE_NAMES: Record<keyof BenchFiles, string> = {
  results: 'results.json',
  bmf: 'bmf.json',
  smallerIsBetter: 'github-action-benchmark-smaller.json',
  biggerIsBetter: 'github-action-benchmark-bigger.json',
  report: 'report.md',
  chart: 'chart.svg',
};

function writeFiles(dir: string, contents: Record<keyof BenchFiles, string>): BenchFiles {
  const files = {} as BenchFiles;
  for (const key of Object.keys(FILE_NAMES) as (keyof BenchFiles)[]) {
    files[key] = join(dir, FILE_NAMES[key]);
    writeFileSync(files[key], contents[key]);
  }
  return files;
}

/** Pinned only when every measured run had its vCPUs on the same host CPUs: anything else measured apples and oranges. */
function pinningOf(runs: BenchRun[]): VcpuPinning {
  const first = runs[0]?.pinning;
  if (!first) return { pinned: false, cpus: [], reason: 'no measured run reported its vCPU placement' };
  const unpinned = runs.find((r) => !r.pinning?.pinned);
  if (unpinned) return { pinned: false, cpus: [], reason: unpinned.pinning?.reason || 'a run was not pinned' };
  const same = runs.every((r) => r.pinning!.cpus.join(',') === first.cpus.join(','));
  return same ? first : { pinned: false, cpus: [], reason: 'the runs were pinned to different host CPUs' };
}

/** Removes `dir` and the directories below it that hold no file; true when `dir` went. */
function removeEmptyDirs(dir: string): boolean {
  let empty = true;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !removeEmptyDirs(join(dir, entry.name))) empty = false;
  }
  if (empty) rmdirSync(dir);
  return empty;
}

function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // Callbacks belong to the faces; one that throws must not break the benchmark.
  }
}
