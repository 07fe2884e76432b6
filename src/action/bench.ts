// The action in benchmark mode: runBench instead of one run, a line per run
// in the log, the verdict and file paths as outputs, the report and chart in
// the job summary, and the step failed on a regression when asked. Guest
// output is not streamed into the log here (each run's stdout and stderr are
// files in the results directory), so no workflow command can come from it.
import { join } from 'node:path';
import * as core from '@actions/core';
import { validateBenchInput, type BenchInput } from '../engine/bench-options.js';
import { runBench, type BenchResult } from '../engine/bench.js';
import type { runImage } from '../engine/run.js';
import type { RunOptions, RunResources } from '../engine/types.js';
import { formatMs } from '../engine/units.js';
import { artifactUrl, canUploadArtifacts, type ArtifactUploader } from './artifact.js';
import { renderBenchSummary } from './bench-summary.js';
import { listFiles } from './main.js';

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
  const settings = validateBenchInput({ ...step.input, resultsDir: join(step.runDir, 'bench') }, {
    style: 'action',
    cwd: step.env.GITHUB_WORKSPACE || process.cwd(),
  });
  core.info(
    `vmstep: benchmark: ${settings.repeat} runs per image after ${settings.warmup} warm-up, ` +
      `${settings.baseline === null ? 'no baseline' : settings.baseline.kind === 'image' ? `baseline ${describeBaselineArm(settings.baseline)}, interleaved` : `baseline file ${settings.baseline.path}`}, ` +
      `${settings.test} at ${settings.thresholdPercent}%`,
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
        warning: (message) => core.warning(message),
        resources: (r) => step.onResources(r),
      },
      warning: (message) => core.warning(message),
    },
    { runImage: step.engine, context, ...(step.signal ? { signal: step.signal } : {}) },
  );
  core.info(`vmstep: ${result.pinning.pinned ? `vCPUs pinned to host CPU ${result.pinning.cpus.join(', ')}` : `vCPUs not pinned: ${result.pinning.reason}`}`);
  setBenchOutputs(result);

  const artifact = step.artifactName ? await uploadResults(step, result) : null;
  await core.summary.addRaw(renderBenchSummary({ result, failOnRegression: settings.failOnRegression, artifact })).write();

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

async function uploadResults(step: BenchStep, result: BenchResult): Promise<{ name: string; uploaded: boolean; url?: string }> {
  const name = step.artifactName!;
  const dir = result.settings.resultsDir;
  if (!canUploadArtifacts(step.env)) {
    core.notice(`vmstep: artifact upload skipped: not running on GitHub Actions (no ACTIONS_RUNTIME_TOKEN); the files are in ${dir}`);
    return { name, uploaded: false };
  }
  try {
    const files = listFiles(dir);
    const { id } = await step.upload(name, files, dir);
    const url = artifactUrl(step.env, id);
    core.info(`vmstep: uploaded ${files.length} files as the artifact "${name}"${url ? ` (${url})` : ''}`);
    return { name, uploaded: true, ...(url ? { url } : {}) };
  } catch (e) {
    core.warning(`vmstep: uploading the artifact "${name}" failed: ${(e as Error).message}; the files are in ${dir}`);
    return { name, uploaded: false };
  }
}

/** "image bench:main", "volumes ../base at /src", or both. */
function describeBaselineArm(b: { image: string | null; volumes: { hostPath: string; guestPath: string }[] | null }): string {
  const parts: string[] = [];
  if (b.image !== null) parts.push(`image ${b.image}`);
  if (b.volumes !== null) parts.push(`volumes ${b.volumes.map((v) => `${v.hostPath}:${v.guestPath}`).join(' ')}`);
  return parts.join(' with ');
}
