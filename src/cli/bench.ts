// `vmstep bench [OPTIONS] IMAGE [COMMAND [ARG...]]`: the run, repeated in
// fresh VMs, compared against a baseline. The report (markdown) goes to
// stdout, so that `vmstep bench ... > report.md` makes a PR comment; progress
// goes to stderr. Each run's stdout and stderr are kept as files in the
// results directory rather than printed: twenty runs of the same output help
// nobody. Exit status 1 on a regression with --fail-on-regression.
import { METRICS_FORMATS } from '../bench/index.js';
import { idleBenchSettings, validateBenchInput, type BenchInput } from '../engine/bench-options.js';
import { runBench } from '../engine/bench.js';
import { RunCancelledError } from '../engine/run.js';
import { formatMs } from '../engine/units.js';
import { validateRunInput } from '../engine/validate.js';
import { formatOptions, listValue, parseCommandLine, stringValue, type OptionSpec } from './args.js';
import { type CliIo } from './io.js';
import { RUN_OPTIONS, runInputFrom } from './run.js';

/** Exit status for a regression under --fail-on-regression (vmstep itself worked: not 125). */
export const EXIT_REGRESSION = 1;

const BENCH_ONLY: OptionSpec[] = [
  { key: 'repeat', long: 'repeat', short: 'n', value: 'N', help: 'Measured runs per image, each in a fresh VM (default 10)' },
  { key: 'warmup', long: 'warmup', value: 'N', help: 'Runs per image before those, discarded (default 1)' },
  { key: 'baselineImage', long: 'baseline-image', value: 'IMAGE', help: 'Run this image too, interleaved (A B A B ...), as the baseline' },
  { key: 'baselineVolume', long: 'baseline-volume', value: 'HOST:GUEST', repeatable: true, help: 'The baseline runs get these volumes instead of --volume: two source trees, one image, interleaved' },
  { key: 'baselineFile', long: 'baseline-file', value: 'FILE', help: "Compare against an earlier run's results.json" },
  { key: 'metricsFile', long: 'metrics-file', value: 'GUEST_PATH', help: 'A metrics file the benchmark writes in every run' },
  { key: 'metricsFormat', long: 'metrics-format', value: 'FORMAT', help: `${METRICS_FORMATS.join(', ')} (default auto)` },
  { key: 'test', long: 'test', value: 'TEST', help: 'percentage, t-test or mann-whitney (default mann-whitney)' },
  {
    key: 'threshold',
    long: 'threshold',
    value: 'PERCENT',
    repeatable: true,
    help: 'Smallest change that fails (default 5%); NAME=PERCENT for one metric, repeatable',
  },
  { key: 'warnThreshold', long: 'warn-threshold', value: 'PERCENT', repeatable: true, help: 'Below --threshold: a significant worsening beyond it only warns; NAME=PERCENT too' },
  { key: 'alpha', long: 'alpha', value: 'P', help: 'Significance level for t-test and mann-whitney (default 0.05)' },
  { key: 'correction', long: 'correction', value: 'HOW', help: 'holm, bh or none: multiple-comparison correction over the metrics (default holm)' },
  { key: 'failOnRegression', long: 'fail-on-regression', help: 'Exit with status 1 on a significant regression beyond the threshold' },
  { key: 'resultsDir', long: 'results-dir', value: 'DIR', help: 'Where results, report, chart and every run\'s files go (default ./vmstep-bench)' },
];

// The run's options, less those that name a single run's files or its stdin (read once, it cannot feed every run).
export const BENCH_OPTIONS: OptionSpec[] = [...BENCH_ONLY, ...RUN_OPTIONS.filter((o) => o.key !== 'outputDir' && o.key !== 'result' && o.key !== 'interactive')];

export const BENCH_HELP = `Usage: vmstep bench [OPTIONS] IMAGE [COMMAND [ARG...]]

Run a command many times, each in a fresh microVM from the cached image, and
report the statistics of its wall time (measured in the guest) and of the
metrics in --metrics-file. With --baseline-image or --baseline-file, compare
and give a verdict per metric. Options go before IMAGE, as with vmstep run.

The report (markdown) goes to stdout. The results directory holds
results.json (the next run's --baseline-file), bmf.json (Bencher),
github-action-benchmark-{smaller,bigger}.json, report.md, chart.svg and
each run's stdout, stderr and returned files under runs/.

Options:
${formatOptions(BENCH_OPTIONS)}

Exit status: 0; 1 on a regression with --fail-on-regression; 125 when vmstep
itself or a benchmark run failed.

Examples:
  vmstep bench -n 20 --baseline-image bench:main bench:pr
  vmstep bench -v .:/src --baseline-volume ../base:/src -w /src rust:1 cargo bench
  vmstep bench --metrics-file /work/bmf.json --baseline-file main.json bench:pr
  vmstep bench --test t-test --threshold 3 --fail-on-regression bench:pr ./run.sh
  vmstep bench --threshold 5% --threshold 'BM_parse=2%' --warn-threshold 3% \
    --metrics-file /work/gb.json --baseline-image bench:main bench:pr
`;

export async function benchCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandLine(argv, BENCH_OPTIONS, { command: 'vmstep bench', stopAtPositional: true });
  if (values.help) {
    io.stdout.write(BENCH_HELP);
    return 0;
  }
  const quiet = Boolean(values.quiet);
  const note = (line: string) => {
    if (!quiet) io.stderr.write(line);
  };
  const head = validateRunInput(runInputFrom(values, positionals, io), { style: 'cli', cwd: io.cwd, hostEnv: io.env });
  const input: BenchInput = { failOnRegression: Boolean(values.failOnRegression), baselineVolumes: listValue(values, 'baselineVolume') };
  for (const key of ['repeat', 'warmup', 'baselineImage', 'baselineFile', 'metricsFile', 'metricsFormat', 'test', 'alpha', 'correction', 'resultsDir'] as const) {
    const v = stringValue(values, key);
    if (v !== undefined) input[key] = v;
  }
  input.threshold = listValue(values, 'threshold');
  input.warnThreshold = listValue(values, 'warnThreshold');
  const settings = validateBenchInput(input, { style: 'cli', cwd: io.cwd });
  for (const w of idleBenchSettings(settings, 'cli')) io.stderr.write(`vmstep: warning: ${w}\n`);

  // Progress is "run N/M ... TIME" on one line: a warning or the error that
  // interrupts it starts a line of its own, and nothing else adds one.
  let lineOpen = false;
  const endLine = () => {
    if (lineOpen) note('\n');
    lineOpen = false;
  };
  let result;
  try {
    result = await runBench(
      head,
      settings,
      {
        runStart: (run, position, total) => {
          note(`vmstep: run ${position}/${total}: ${run.arm}${run.warmup ? ' (warm-up)' : ''} ... `);
          lineOpen = !quiet;
        },
        runEnd: (_run, r) => {
          note(`${formatMs(r.timings.commandMs)}\n`);
          lineOpen = false;
        },
        run: {
          console: (chunk) => void io.stderr.write(chunk),
          warning: (message) => {
            endLine();
            note(`vmstep: warning: ${message}\n`);
          },
          waiting: (message) => {
            endLine();
            note(`vmstep: ${message}\n`);
          },
        },
        warning: (message) => io.stderr.write(`vmstep: warning: ${message}\n`),
      },
      { runImage: io.runImage, ...(io.signal ? { signal: io.signal } : {}) },
    );
  } catch (err) {
    if (err instanceof RunCancelledError) {
      io.stderr.write('vmstep: cancelled; the VM was stopped\n');
      return 130;
    }
    endLine();
    throw err;
  }

  io.stdout.write(result.markdown);
  const pin = result.pinning.pinned ? `vCPUs pinned to host CPU ${result.pinning.cpus.join(', ')}` : `vCPUs not pinned (${result.pinning.reason})`;
  note(`vmstep: ${pin}\nvmstep: results in ${settings.resultsDir} (results.json, bmf.json, report.md, chart.svg)\n`);
  if (result.warningMessage) io.stderr.write(`vmstep: warning: ${result.warningMessage}\n`);
  if (result.regressed && settings.failOnRegression) {
    io.stderr.write(`vmstep: ${result.regressionMessage}\n`);
    return EXIT_REGRESSION;
  }
  if (result.regressed) note(`vmstep: ${result.regressionMessage} (not failing: no --fail-on-regression)\n`);
  return 0;
}
