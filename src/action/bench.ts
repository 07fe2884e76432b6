// The action in benchmark mode: runBench instead of one run, a line per run
// in the log, the verdict and file paths as outputs, the report and chart in
// the job summary, and the step failed on a regression when asked. Guest
// output is not streamed into the log here (each run's stdout and stderr are
// files in the results directory), so no workflow command can come from it.
import { join } from 'node:path';
import * as core from '@actions/core';
import { idleBenchSettings, validateBenchInput, type BenchInput } from '../engine/bench-options.js';
import { runBench, type BenchResult } from '../engine/bench.js';
import type { runImage } from '../engine/run.js';
import type { RunOptions, RunResources } from '../engine/types.js';
import { formatMs } from '../engine/units.js';
import { listFiles, uploadArtifact, type ArtifactUploader } from './artifact.js';
import { renderBenchSummary } from './bench-summary.js';

export interface BenchStep {
  input: BenchInput;
  head: RunOptions;
  runDir: string;
  artifactName: string | null;
  env: NodeJS.ProcessEnv;
  engine: typeof runImage;
  upload: ArtifactUploader;
  signal?: AbortSignal;
  onResources(r: RunResources | null): void;
}

export async function runBenchStep(step: BenchStep): Promise<void> {
  const settings = validateBenchInput({ ...step.input, resultsDir: join(step.runDir, 'bench') }, { style: 'action', cwd: step.env.GITHUB_WORKSPACE || process.cwd() });
  for (const warning of idleBenchSettings(settings, 'action')) core.warning(`vmstep: ${warning}`);
  core.info(
    `vmstep: benchmark: ${settings.repeat} runs per image after ${settings.warmup} warm-up, ` +
      `${settings.baseline === null ? 'no baseline' : settings.baseline.kind === 'image' ? `baseline ${describeBaselineArm(settings.baseline)}, interleaved` : `baseline file ${settings.baseline.path}`}, ` +
      `${settings.test} at ${settings.thresholdPercent}%${settings.test === 'percentage' ? '' : `, alpha ${settings.alpha} (${settings.correction} correction)`}`,
  );
  const context: Record<string, string> = {};
  for (const [key, name] of [
    ['commit', 'GITHUB_SHA'],
    ['ref', 'GITHUB_REF'],
    ['runner', 'RUNNER_NAME'],
  ] as const) {
    if (step.env[name]) context[key] = step.env[name]!;
  }
  const result = await runBench(
    step.head,
    settings,
    {
      runStart: (run, position, total) => core.info(`vmstep: run ${position}/${total}: ${run.arm}${run.warmup ? ' (warm-up)' : ''}`),
      runEnd: (_run, r) => core.info(`vmstep:   command ${formatMs(r.timings.commandMs)} (boot ${formatMs(r.timings.bootMs)})`),
      run: {
        progress: (message) => core.info(message),
        waiting: (message) => core.info(`vmstep: ${message}`),
        warning: (message) => core.warning(message),
        resources: (r) => step.onResources(r),
      },
      warning: (message) => core.warning(message),
    },
    { runImage: step.engine, context, ...(step.signal ? { signal: step.signal } : {}) },
  );
  core.info(`vmstep: ${result.pinning.pinned ? `vCPUs pinned to host CPU ${result.pinning.cpus.join(', ')}` : `vCPUs not pinned: ${result.pinning.reason}`}`);
  setBenchOutputs(result);

  const dir = result.settings.resultsDir;
  const artifact = step.artifactName ? await uploadArtifact(step.artifactName, dir, listFiles(dir), step.env, step.upload) : null;
  await core.summary.addRaw(renderBenchSummary({ result, failOnRegression: settings.failOnRegression, artifact })).write();

  if (result.warningMessage) core.warning(`vmstep: ${result.warningMessage}`);
  if (!result.regressed) return;
  if (settings.failOnRegression) core.setFailed(`vmstep: ${result.regressionMessage}`);
  else core.warning(`vmstep: ${result.regressionMessage} (set fail-on-regression: true to fail the step)`);
}

function setBenchOutputs(r: BenchResult): void {
  core.setOutput('exit-code', '0');
  core.setOutput('timed-out', 'false');
  core.setOutput('output-dir', r.settings.resultsDir);
  core.setOutput('image-digest', r.head.digest ?? '');
  core.setOutput('bench-verdict', r.verdict);
  core.setOutput('bench-regressed', String(r.regressed));
  core.setOutput('bench-report', r.markdown);
  core.setOutput('bench-results', r.files.results);
  core.setOutput('bench-bmf', r.files.bmf);
  core.setOutput('bench-github-action-benchmark', r.files.smallerIsBetter);
  core.setOutput('bench-github-action-benchmark-bigger', r.files.biggerIsBetter);
  core.setOutput('bench-chart', r.files.chart);
}

/** "image bench:main", "volumes ../base at /src", or both. */
function describeBaselineArm(b: { image: string | null; volumes: { hostPath: string; guestPath: string }[] | null }): string {
  const parts: string[] = [];
  if (b.image !== null) parts.push(`image ${b.image}`);
  if (b.volumes !== null) parts.push(`volumes ${b.volumes.map((v) => `${v.hostPath}:${v.guestPath}`).join(' ')}`);
  return parts.join(' with ');
}
