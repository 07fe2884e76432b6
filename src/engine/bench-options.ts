// Benchmark mode's settings, as the user wrote them (BenchInput) and checked
// (BenchSettings). Both faces share these rules and words, as they share
// validateRunInput for the run itself; only the names differ (`--repeat` on
// the command line, input "repeat" in a workflow).
import { resolve } from 'node:path';
import {
  MAX_REPEAT,
  MAX_WARMUP,
  type MetricsFormat,
  type TestName,
  TEST_NAMES,
  METRICS_FORMATS,
  parseMetricsFormat,
  parseTestName,
  parseThreshold,
} from '../bench/index.js';
import { VmstepError } from './errors.js';
import type { OptionStyle } from './validate.js';
import { parseVolumes, type Volume } from './volumes.js';

export interface BenchInput {
  repeat?: string | number;
  warmup?: string | number;
  /** Image to run interleaved with the head image, as the baseline. */
  baselineImage?: string;
  /** A results file from an earlier bench run, as the baseline. */
  baselineFile?: string;
  /** `HOST_PATH:GUEST_PATH`: the baseline runs get these volumes instead of the head's (another checkout of the same code). */
  baselineVolumes?: string[];
  /** Guest path of a metrics file the benchmark writes in every run. */
  metricsFile?: string;
  metricsFormat?: string;
  test?: string;
  threshold?: string | number;
  failOnRegression?: boolean;
  /** Where the results, report and chart are written. */
  resultsDir?: string;
}

export interface BenchSettings {
  repeat: number;
  warmup: number;
  /**
   * image: a second arm run interleaved with the head; `image` null means the
   * head's image, `volumes` null the head's volumes.
   */
  baseline: { kind: 'image'; image: string | null; volumes: Volume[] | null } | { kind: 'file'; path: string } | null;
  metricsFile: string | null;
  metricsFormat: MetricsFormat;
  test: TestName;
  thresholdPercent: number;
  failOnRegression: boolean;
  resultsDir: string;
}

export const BENCH_DEFAULTS = { repeat: 10, warmup: 1, test: 'mann-whitney' as TestName, thresholdPercent: 5, metricsFormat: 'auto' as MetricsFormat } as const;

const NAMES: Record<OptionStyle, Record<keyof BenchInput, string>> = {
  cli: {
    repeat: '--repeat',
    warmup: '--warmup',
    baselineImage: '--baseline-image',
    baselineFile: '--baseline-file',
    baselineVolumes: '--baseline-volume',
    metricsFile: '--metrics-file',
    metricsFormat: '--metrics-format',
    test: '--test',
    threshold: '--threshold',
    failOnRegression: '--fail-on-regression',
    resultsDir: '--results-dir',
  },
  action: {
    repeat: 'input "repeat"',
    warmup: 'input "warmup"',
    baselineImage: 'input "baseline-image"',
    baselineFile: 'input "baseline-file"',
    baselineVolumes: 'input "baseline-volumes"',
    metricsFile: 'input "metrics-file"',
    metricsFormat: 'input "metrics-format"',
    test: 'input "test"',
    threshold: 'input "threshold"',
    failOnRegression: 'input "fail-on-regression"',
    resultsDir: 'results directory',
  },
};

const present = (v: string | number | undefined): v is string | number => v !== undefined && String(v).trim() !== '';

function count(v: string | number | undefined, name: string, fallback: number, min: number, max: number): number {
  if (!present(v)) return fallback;
  const s = String(v).trim();
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new VmstepError(`${name} "${s}" is not a run count`, `give a whole number from ${min} to ${max}`);
  }
  return Number(s);
}

export function validateBenchInput(input: BenchInput, ctx: { style: OptionStyle; cwd?: string; volumeBase?: string }): BenchSettings {
  const name = NAMES[ctx.style];
  const cwd = ctx.cwd ?? process.cwd();
  const repeat = count(input.repeat, name.repeat, BENCH_DEFAULTS.repeat, 1, MAX_REPEAT);
  const warmup = count(input.warmup, name.warmup, BENCH_DEFAULTS.warmup, 0, MAX_WARMUP);

  if (present(input.baselineImage) && present(input.baselineFile)) {
    throw new VmstepError(`${name.baselineImage} and ${name.baselineFile} are both set`, 'compare against one baseline: an image run in this job, or a results file from an earlier run');
  }
  const volumes = parseVolumes(input.baselineVolumes ?? [], ctx.volumeBase ? resolve(cwd, ctx.volumeBase) : cwd, name.baselineVolumes);
  if (volumes.length > 0 && present(input.baselineFile)) {
    throw new VmstepError(`${name.baselineVolumes} and ${name.baselineFile} are both set`, 'baseline volumes make a baseline run in this job; a results file is an earlier one: choose one');
  }
  const baseline: BenchSettings['baseline'] =
    present(input.baselineImage) || volumes.length > 0
      ? { kind: 'image', image: present(input.baselineImage) ? input.baselineImage.trim() : null, volumes: volumes.length > 0 ? volumes : null }
      : present(input.baselineFile)
        ? { kind: 'file', path: resolve(cwd, input.baselineFile.trim()) }
        : null;

  let metricsFile: string | null = null;
  if (present(input.metricsFile)) {
    metricsFile = input.metricsFile.trim();
    // One file per run, matched by its path: a glob could bring back several.
    if (/[*?[\]\0]/.test(metricsFile)) {
      throw new VmstepError(`${name.metricsFile} "${metricsFile}" holds a glob or NUL character`, 'give the path of the one file the benchmark writes, such as /work/bench.json');
    }
  }
  const wrap = <T>(what: string, fix: string, fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      throw new VmstepError(`${what}: ${(err as Error).message}`, fix, { cause: err });
    }
  };
  const metricsFormat = present(input.metricsFormat)
    ? wrap(name.metricsFormat, `one of ${METRICS_FORMATS.join(', ')}`, () => parseMetricsFormat(String(input.metricsFormat)))
    : BENCH_DEFAULTS.metricsFormat;
  const test = present(input.test) ? wrap(name.test, `one of ${TEST_NAMES.join(', ')}`, () => parseTestName(String(input.test))) : BENCH_DEFAULTS.test;
  const thresholdPercent = present(input.threshold)
    ? wrap(name.threshold, 'a percentage such as 5 or 5%', () => parseThreshold(String(input.threshold)))
    : BENCH_DEFAULTS.thresholdPercent;

  return {
    repeat,
    warmup,
    baseline,
    metricsFile,
    metricsFormat,
    test,
    thresholdPercent,
    failOnRegression: Boolean(input.failOnRegression),
    resultsDir: resolve(cwd, present(input.resultsDir) ? String(input.resultsDir) : 'vmstep-bench'),
  };
}
