// The action: inputs -> engine -> outputs, live log, job summary, artifact.
// Everything GitHub-specific lives here and in its neighbours; the engine
// only reports events. Tests call run() with a stand-in engine; the entry
// (src/index.ts) calls it with the real one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as core from '@actions/core';
import { EXIT_VMSTEP_FAILED, describeFailure } from '../engine/errors.js';
import { writeResultFile } from '../engine/result.js';
import { drained } from '../engine/streams.js';
import { RunCancelledError, runImage } from '../engine/run.js';
import type { Phase, RunOptions, RunResources, RunResult } from '../engine/types.js';
import { formatMs } from '../engine/units.js';
import { validateRunInput } from '../engine/validate.js';
import { VMSTEP_VERSION } from '../engine/version.js';
import { listFiles, uploadArtifact, uploadWithActionsArtifact, type ArtifactUploader } from './artifact.js';
import { runBenchStep } from './bench.js';
import { readActionInputs } from './inputs.js';
import { LinePrefixer } from './line-prefixer.js';
import { STATE_KEY, defaultStateFile, runnerTemp, writeStateFile } from './state.js';
import { renderFailureSummary, renderSummary } from './summary.js';
import { OUTPUT_TEXT_LIMIT, tailOfFile } from './truncate.js';

export interface ActionDeps {
  /** The engine; production uses the real one. */
  runImage?: typeof runImage;
  uploadArtifact?: ArtifactUploader;
  env?: NodeJS.ProcessEnv;
  /** Aborted when the job is cancelled (SIGINT/SIGTERM from the runner). */
  signal?: AbortSignal;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

const PHASE_TITLE: Record<Phase, string> = {
  image: 'Resolve image',
  rootfs: 'Prepare root filesystem',
  volumes: 'Copy volumes',
  boot: 'Boot the VM',
  command: 'Run',
};

export async function run(deps: ActionDeps = {}): Promise<void> {
  const env = deps.env ?? process.env;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const engine = deps.runImage ?? runImage;
  let image = '';
  // Workflow commands in guest output are switched off while it streams
  // (the guest is untrusted: it must not set outputs, masks or annotations).
  const guard = new CommandGuard(stdout);
  try {
    // Named in the failure summary even when another input is the bad one.
    image = core.getInput('image');
    const inputs = readActionInputs((name) => core.getInput(name, { trimWhitespace: false }), env);
    for (const secret of inputs.secrets) core.setSecret(secret);
    for (const warning of inputs.warnings) core.warning(`vmstep: ${warning}`);

    const runDir = mkdtempSync(join(runnerTemp(env), 'vmstep-'));
    const options = validateRunInput(
      // Scratch (with the VM's Unix sockets) stays in the OS temp dir: socket paths must be short.
      // A job on a host whose capacity other jobs hold waits its turn rather than
      // fail: the job's timeout-minutes and cancellation bound the wait.
      { ...inputs.run, outputDir: join(runDir, 'output'), logDir: runDir, wait: true, ...(env.VMSTEP_CACHE ? { cacheDir: env.VMSTEP_CACHE } : {}) },
      { style: 'action', cwd: env.GITHUB_WORKSPACE || process.cwd(), hostEnv: env },
    );
    options.capacityLabel = `vmstep action ${options.image}`;
    const stateFile = defaultStateFile(env);
    core.saveState(STATE_KEY, stateFile);
    if (inputs.bench) {
      const upload = deps.uploadArtifact ?? uploadWithActionsArtifact;
      const onResources = (r: RunResources | null) => writeStateFile(stateFile, r);
      await runBenchStep({ input: inputs.bench, head: options, runDir, artifactName: inputs.artifactName, env, engine, upload, onResources, ...(deps.signal ? { signal: deps.signal } : {}) });
      return;
    }

    const warnings: string[] = [];
    const console = new LinePrefixer('console: ', (text) => void stderr.write(text));
    let group: Phase | null = null;
    let result: RunResult;
    try {
      result = await engine(
        options,
        {
          phaseStart: (phase, detail) => {
            if (phase === 'command') {
              core.info(`vmstep: running ${detail}`);
              guard.stop();
              return;
            }
            core.startGroup(`${PHASE_TITLE[phase]}: ${detail}`);
            group = phase;
          },
          phaseEnd: (phase, ms, detail) => {
            if (phase === 'command') {
              guard.resume();
              core.info(`vmstep: ${detail} after ${formatMs(ms)}`);
              return;
            }
            core.info(`${detail} (${formatMs(ms)})`);
            if (group === phase) core.endGroup();
            group = null;
            core.info(`vmstep: ${PHASE_TITLE[phase].toLowerCase()} done in ${formatMs(ms)}`);
          },
          progress: (message) => core.info(message),
          waiting: (message) => core.info(`vmstep: ${message}`),
          stdout: (chunk) => guard.write(stdout, chunk),
          stderr: (chunk) => guard.write(stderr, chunk),
          console: (chunk) => console.push(chunk),
          warning: (message) => {
            warnings.push(message);
            if (guard.stopped) stderr.write(`vmstep: warning: ${message}\n`);
            else core.warning(message);
          },
          resources: (r) => writeStateFile(stateFile, r),
        },
        deps.signal ? { signal: deps.signal } : {},
      );
    } finally {
      console.flush();
      guard.resume();
      if (group !== null) core.endGroup();
    }
    // Warnings raised while commands were off are repeated as annotations now.
    if (warnings.length > 0 && guard.wasStopped) for (const w of warnings) core.warning(w);

    await report(result, options, inputs.allowFailure, inputs.artifactName, runDir, env, deps.uploadArtifact ?? uploadWithActionsArtifact);
  } catch (err) {
    guard.resume();
    core.setOutput('exit-code', String(EXIT_VMSTEP_FAILED));
    core.setOutput('timed-out', 'false');
    const cancelled = err instanceof RunCancelledError;
    const line = describeFailure(err);
    await core.summary.addRaw(renderFailureSummary(image, line)).write().catch(() => {});
    if (cancelled) core.warning('vmstep: the run was cancelled; the VM was stopped');
    // setFailed writes the error annotation: the cause and the fix, in one line.
    core.setFailed(`vmstep: ${line}`);
  }
}

async function report(result: RunResult, options: RunOptions, allowFailure: boolean, artifactName: string | null, runDir: string, env: NodeJS.ProcessEnv, upload: ArtifactUploader): Promise<void> {
  const resultPath = join(runDir, 'result.json');
  writeResultFile(resultPath, result, VMSTEP_VERSION);
  const out = tailOfFile(result.stdoutFile, OUTPUT_TEXT_LIMIT, 'stdout');
  const err = tailOfFile(result.stderrFile, OUTPUT_TEXT_LIMIT, 'stderr');
  core.setOutput('exit-code', String(result.exitCode));
  core.setOutput('timed-out', String(result.timedOut));
  core.setOutput('stdout', out.text);
  core.setOutput('stderr', err.text);
  core.setOutput('stdout-file', result.stdoutFile ?? '');
  core.setOutput('stderr-file', result.stderrFile ?? '');
  core.setOutput('output-dir', result.outputDir);
  core.setOutput('result', resultPath);
  core.setOutput('duration-ms', String(Math.round(result.timings.totalMs)));
  core.setOutput('boot-ms', String(Math.round(result.timings.bootMs)));
  core.setOutput('command-ms', String(Math.round(result.timings.commandMs * 1000) / 1000));
  core.setOutput('image-digest', result.image.digest);
  if (out.truncated) core.notice(`vmstep: the stdout output holds the last ${OUTPUT_TEXT_LIMIT} of ${out.totalBytes} bytes; all of it is in ${result.stdoutFile}`);

  const artifact = artifactName ? await uploadArtifact(artifactName, runDir, listFiles(runDir).filter((f) => !relative(runDir, f).startsWith('vmstep-run-')), env, upload) : null;

  await core.summary
    .addRaw(renderSummary({ result, stdoutTail: tailOfFile(result.stdoutFile, OUTPUT_TEXT_LIMIT, 'stdout').text.replace(/^\[vmstep: [^\n]*\n/, ''), stdoutTruncated: out.truncated, timeoutMs: options.timeoutMs, allowFailure, artifact }))
    .write();

  const failure = result.timedOut
    ? `the command ran past the time limit of ${formatMs(options.timeoutMs)} and the VM was stopped (exit code ${result.exitCode})`
    : result.exitCode !== 0
      ? `the command exited with ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}`
      : null;
  if (failure === null) return;
  if (allowFailure) core.warning(`vmstep: ${failure}; allowed to fail (allow-failure: true)`);
  else core.setFailed(`vmstep: ${failure}; see the step log and the stdout/stderr outputs (set allow-failure: true to let the job go on)`);
}

/**
 * Turns workflow commands off while untrusted output streams, with a token
 * the guest cannot guess (`::stop-commands::TOKEN` ... `::TOKEN::`).
 */
class CommandGuard {
  private token: string | null = null;
  private endsWithNewline = true;
  wasStopped = false;

  constructor(private readonly stdout: NodeJS.WritableStream) {}

  get stopped(): boolean {
    return this.token !== null;
  }

  stop(): void {
    if (this.token) return;
    this.token = randomBytes(16).toString('hex');
    this.wasStopped = true;
    this.stdout.write(`::stop-commands::${this.token}\n`);
    this.endsWithNewline = true;
  }

  write(stream: NodeJS.WritableStream, chunk: Buffer): void | Promise<void> {
    if (stream === this.stdout && chunk.length > 0) this.endsWithNewline = chunk[chunk.length - 1] === 0x0a;
    if (stream.write(chunk)) return;
    return drained(stream);
  }

  resume(): void {
    if (!this.token) return;
    // The resume command must start a line of its own to be seen.
    this.stdout.write(`${this.endsWithNewline ? '' : '\n'}::${this.token}::\n`);
    this.token = null;
  }
}
