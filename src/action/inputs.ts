// The action's inputs (action.yml), read and checked before anything runs.
// `getInput` is passed in (core.getInput in production) so that the rules can
// be tested without a runner. Sizes, durations and the rest are checked by
// the engine's validateRunInput, with the inputs named as a workflow spells
// them.
//
// Benchmark mode is on only when an input asks for more than one run or for
// a comparison (repeat over 1, warmup, a baseline image, file or volumes, a metrics file); `test`,
// `threshold`, `alpha`, `correction` and `metrics-format` have defaults the runner always passes,
// so they alone never turn it on. Without it the step runs the command once,
// and those inputs, still checked, only earn a warning when set.
import { parseEnvLines } from '../engine/env.js';
import { VmstepError } from '../engine/errors.js';
import { splitShellWords } from '../engine/shell.js';
import type { RunInput } from '../engine/types.js';
import { idleBenchSettings, validateBenchInput, type BenchInput } from '../engine/bench-options.js';

export interface ActionInputs {
  run: RunInput;
  /** The command as the user wrote it, for the summary (`run` script or args). */
  artifactName: string | null;
  allowFailure: boolean;
  /** To mask before anything is logged. */
  secrets: string[];
  /** Benchmark mode's inputs, or null when the step runs the command once. */
  bench: BenchInput | null;
  /** comment-on-pr: the token to comment with; null when off. */
  prComment: { token: string } | null;
  /** Inputs that were set but do nothing in this step, one line each. */
  warnings: string[];
}

export type GetInput = (name: string) => string;

export function parseBoolean(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false' || v === 'no' || v === 'off' || v === '0') return false;
  if (v === 'true' || v === 'yes' || v === 'on' || v === '1') return true;
  throw new VmstepError(`input "${name}" is "${value}", not true or false`, `write ${name}: true or ${name}: false`);
}

/** The non-empty lines of a multi-line input, trimmed; `#` starts a comment line. */
export function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export function readActionInputs(getInput: GetInput, hostEnv: NodeJS.ProcessEnv = process.env): ActionInputs {
  const get = (name: string) => getInput(name).trim();
  const raw = (name: string) => getInput(name);
  const image = get('image');
  if (image === '') throw new VmstepError('input "image" is required', 'set it, e.g. image: ghcr.io/owner/bench:latest');

  const script = raw('run');
  const entrypoint = get('entrypoint');
  const args = splitShellWords(raw('args'), 'input "args"');
  if (script.trim() !== '' && entrypoint !== '') {
    throw new VmstepError('inputs "run" and "entrypoint" are both set', '"run" already replaces the entrypoint (it runs with sh -c): set only one of them');
  }
  const run: RunInput = { image, privileged: parseBoolean(get('privileged'), 'privileged'), debug: parseBoolean(get('debug'), 'debug') };
  if (script.trim() !== '') {
    // `sh -c SCRIPT vmstep ARGS...`: the args become $1, $2... of the script ($0 is "vmstep").
    run.entrypoint = ['sh', '-c'];
    run.command = args.length > 0 ? [script, 'vmstep', ...args] : [script];
  } else {
    if (entrypoint !== '') run.entrypoint = [entrypoint];
    run.command = args;
  }
  run.env = parseEnvLines(raw('env'), 'input "env"', hostEnv);
  const outputs = lines(raw('outputs'));
  if (outputs.length > 0) run.outputs = outputs;
  const volumes = lines(raw('volumes'));
  if (volumes.length > 0) {
    run.volumes = volumes;
    // Relative host paths start at the checkout, wherever the step runs.
    if (hostEnv.GITHUB_WORKSPACE) run.volumeBase = hostEnv.GITHUB_WORKSPACE;
  }
  for (const [key, name] of [
    ['workdir', 'workdir'],
    ['user', 'user'],
    ['vcpus', 'vcpus'],
    ['memory', 'memory'],
    ['disk', 'disk'],
    ['timeout', 'timeout'],
    ['kernel', 'kernel'],
    ['registryUsername', 'registry-username'],
  ] as const) {
    const v = get(name);
    if (v !== '') run[key] = v;
  }
  const password = raw('registry-password');
  if (password !== '') run.registryPassword = password;

  const artifactName = get('artifact-name');
  if (artifactName !== '' && /["<>|*?\\/:\r\n]/.test(artifactName)) {
    throw new VmstepError(`input "artifact-name" "${artifactName}" holds a character artifacts cannot have`, 'use letters, digits, dots, dashes and underscores (no " : < > | * ? \\ /)');
  }
  const bench = readBenchInputs(getInput);
  const comment = parseBoolean(get('comment-on-pr'), 'comment-on-pr');
  const token = get('github-token');
  const idle = bench.on ? [] : idleBenchSettings(validateBenchInput(bench.input, { style: 'action' }), 'action', false);
  if (comment && !bench.on) idle.push('input "comment-on-pr" does nothing outside benchmark mode: there is no report to comment; turn benchmark mode on or remove it');
  return {
    run,
    artifactName: artifactName === '' ? null : artifactName,
    allowFailure: parseBoolean(get('allow-failure'), 'allow-failure'),
    secrets: [...(password !== '' ? [password] : []), ...(token !== '' ? [token] : [])],
    bench: bench.on ? bench.input : null,
    prComment: comment && bench.on ? { token } : null,
    warnings: idle,
  };
}

function readBenchInputs(getInput: GetInput): { input: BenchInput; on: boolean } {
  const get = (name: string) => getInput(name).trim();
  const repeat = get('repeat');
  const input: BenchInput = {
    repeat,
    minRepeat: get('min-repeat'),
    maxRepeat: get('max-repeat'),
    warmup: get('warmup'),
    baselineImage: get('baseline-image'),
    baselineFile: get('baseline-file'),
    baselineVolumes: lines(getInput('baseline-volumes')),
    metricsFile: get('metrics-file'),
    metricsFormat: get('metrics-format'),
    test: get('test'),
    // Lines: a default percentage and NAME=PERCENT for single metrics.
    threshold: getInput('threshold'),
    warnThreshold: getInput('warn-threshold'),
    alpha: get('alpha'),
    correction: get('correction'),
    failOnRegression: parseBoolean(get('fail-on-regression'), 'fail-on-regression'),
    historyFile: get('history-file'),
  };
  const on = (repeat !== '' && repeat !== '1') || input.warmup !== '' || input.baselineImage !== '' || input.baselineFile !== '' || input.baselineVolumes!.length > 0 || input.metricsFile !== '';
  return { input, on };
}
