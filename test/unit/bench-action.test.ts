// The action in benchmark mode on the real engine, with guest init in its test
// mode standing in for the VM (as in action-engine.test.ts): the outputs a
// workflow reads, the job summary with its table and embedded chart, and the
// step failing on a regression only when asked to.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/action/main.js';
import { runImage } from '../../src/engine/run.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { inProcessStep, type InProcessStep } from '../helpers/action-step.js';
import { type CommentsApi, startCommentsApi } from '../helpers/github-api.js';
import { guestInitBinary, testModeVm as makeTestModeVm } from '../helpers/guest-init.js';

const testModeVm = makeTestModeVm();
const engine: typeof runImage = (o, e, c) => runImage(o, e, { ...c, launchVm: testModeVm });

let work: string;
let step: InProcessStep;
// One file for every test: @actions/core's summary keeps the path it first wrote to.
const summaryFile = join(mkdtempSync(join(tmpdir(), 'vmstep-bench-action-summary-')), 'summary');

function image(name: string, script: string): string {
  const dir = join(work, 'images', name);
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/hostname', content: `${name}\n` }] }], config: { Entrypoint: ['sh', '-c'], Cmd: [script] } });
  return `oci:${dir}`;
}

const outputs = () => step.outputs();

let base: string;
let slow: string;
let metrics: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'vmstep-bench-action-'));
  writeFileSync(join(work, 'vmlinux'), 'not booted in test mode');
  metrics = join(work, 'guest', 'bmf.json');
  const writer = (ms: number) => `mkdir -p ${join(work, 'guest')} && sleep ${ms / 1000} && printf '{"step":{"latency":{"value":${ms}}}}' > ${metrics}`;
  base = image('base', writer(100));
  slow = image('slow', writer(300));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(join(summaryFile, '..'), { recursive: true, force: true });
});

beforeEach(() => {
  // The defaults a runner passes for the inputs action.yml gives one.
  step = inProcessStep(work, summaryFile, {
    VMSTEP_CACHE: join(work, 'cache'),
    VMSTEP_INIT: guestInitBinary(),
    INPUT_KERNEL: join(work, 'vmlinux'),
    INPUT_VCPUS: '1',
    'INPUT_METRICS-FORMAT': 'auto',
    INPUT_TEST: 'mann-whitney',
    INPUT_THRESHOLD: '5',
    INPUT_ALPHA: '0.05',
    INPUT_CORRECTION: 'holm',
    'INPUT_FAIL-ON-REGRESSION': 'false',
  });
});

afterEach(() => step.restore());

describe('the action in benchmark mode', () => {
  it('fails the step with fail-on-regression when the head takes three times as long, and reports it all', async () => {
    Object.assign(process.env, {
      INPUT_IMAGE: slow,
      'INPUT_BASELINE-IMAGE': base,
      INPUT_REPEAT: '3',
      INPUT_WARMUP: '0',
      'INPUT_METRICS-FILE': metrics,
      INPUT_TEST: 't-test',
      INPUT_THRESHOLD: '20%',
      'INPUT_FAIL-ON-REGRESSION': 'true',
    });
    await run({ runImage: engine });
    expect(process.exitCode).toBe(1);
    expect(step.log.match(/^::error::.*/gm)).toEqual([expect.stringMatching(/^::error::vmstep: 2 benchmark metrics regressed beyond the 20%25 threshold \(t-test\): wall time \(\+\d+\.\d%25\), step \(\+200\.0%25\)/)]);
    expect(step.log.match(/^vmstep: run \d\/6: \w+$/gm)).toEqual(['baseline', 'head', 'baseline', 'head', 'baseline', 'head'].map((a, i) => `vmstep: run ${i + 1}/6: ${a}`));

    const out = outputs();
    expect(out).toMatchObject({ 'exit-code': '0', 'bench-verdict': 'regression', 'bench-regressed': 'true' });
    expect(out['bench-report']).toMatch(/^### vmstep benchmark\n\n\*\*2 regressions\*\*/);
    expect(out['bench-report']).not.toContain('<img');
    expect(JSON.parse(readFileSync(out['bench-results']!, 'utf8')).metrics).toHaveLength(2);
    expect(JSON.parse(readFileSync(out['bench-bmf']!, 'utf8')).step.latency.value).toBe(300);
    expect(JSON.parse(readFileSync(out['bench-github-action-benchmark']!, 'utf8'))[1]).toMatchObject({ name: 'step', unit: 'ns', value: 300 });
    expect(readFileSync(out['bench-github-action-benchmark-bigger']!, 'utf8')).toBe('[]\n');

    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toMatch(/^### ❌ vmstep bench: oci:/);
    expect(summary).toMatch(/^\| step \| 100\.0 ns ±0\.0% \| 300\.0 ns ±0\.0% \| \+200\.0% \| .* \| 🔴 \*\*regression\*\*/m);
    // The chart as text (GitHub drops data: images from summaries): a lane per arm, the head's runs to the right.
    expect(summary).toMatch(/^```text\nwall time\n {2}baseline {2}\|[·┃][·┃ ]* \|  median /m);
    expect(summary).toMatch(/^ {2}head {6}\| [·┃ ]*[·┃]\|  median /m);
    expect(summary).toContain(`_Every run as an image: \`${out['bench-chart']}\` (output \`bench-chart\`)._`);
    expect(summary).not.toContain('data:image');
    const svg = readFileSync(out['bench-chart']!, 'utf8');
    expect(summary).toMatch(/^\| Runs \| 6 measured, each in a fresh VM, baseline and head alternating \|$/m);
    expect(summary).toMatch(/^\| vCPU pinning \| not pinned: /m);
    // The chart renders: rsvg-convert (librsvg2-bin) turns it into a PNG.
    const png = execFileSync('rsvg-convert', ['--format', 'png'], { input: svg });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  }, 60_000);

  it('baseline-volumes: two source trees in one image, interleaved, the head tree doing twice the work is a regression', async () => {
    // Guest init's test mode mounts no disks: this stand-in hands the run the tree's host path instead, which is where the command finds it in test mode.
    const seen: { arm: string; volumes: string[] }[] = [];
    const treeEngine: typeof runImage = (o, e, c) => {
      seen.push({ arm: o.logDir!.split('/').pop()!, volumes: o.volumes.map((v) => `${v.hostPath}:${v.guestPath}`) });
      return runImage({ ...o, volumes: [], env: [...o.env, `SRC=${o.volumes[0]!.hostPath}`] }, e, { ...c, launchVm: testModeVm });
    };
    const workspace = process.env.GITHUB_WORKSPACE!;
    for (const [tree, ms] of [['head', 400], ['base', 200]] as const) {
      mkdirSync(join(workspace, '..', `${tree}-tree`), { recursive: true });
      writeFileSync(join(workspace, '..', `${tree}-tree`, 'work.sh'), `sleep ${ms / 1000}\n`);
    }
    Object.assign(process.env, {
      INPUT_IMAGE: image('toolchain', 'sh "$SRC/work.sh"'),
      INPUT_VOLUMES: '../head-tree:/src\n',
      'INPUT_BASELINE-VOLUMES': '# the base branch\n../base-tree:/src\n',
      INPUT_REPEAT: '3',
      INPUT_WARMUP: '0',
      INPUT_TEST: 'percentage',
      INPUT_THRESHOLD: '20',
      'INPUT_FAIL-ON-REGRESSION': 'true',
    });
    await run({ runImage: treeEngine });
    expect(process.exitCode).toBe(1);
    expect(step.log).toMatch(/^::error::vmstep: 1 benchmark metric regressed beyond the 20%25 threshold \(percentage\): wall time/m);
    const headTree = join(workspace, '..', 'head-tree');
    const baseTree = join(workspace, '..', 'base-tree');
    expect(seen.map((r) => `${r.arm} ${r.volumes.join(' ')}`)).toEqual(
      ['baseline-1', 'head-1', 'baseline-2', 'head-2', 'baseline-3', 'head-3'].map((arm) => `${arm} ${arm.startsWith('head') ? headTree : baseTree}:/src`),
    );
    expect(outputs()).toMatchObject({ 'bench-verdict': 'regression', 'bench-regressed': 'true' });
    expect(readFileSync(summaryFile, 'utf8')).toMatch(/^\| Baseline \| same image, other volumes: `\[base-tree\] oci:.*toolchain` \|$/m);
  }, 60_000);

  it('only warns about a regression without fail-on-regression, and passes an identical pair', async () => {
    Object.assign(process.env, { INPUT_IMAGE: slow, 'INPUT_BASELINE-IMAGE': base, INPUT_REPEAT: '3', INPUT_WARMUP: '0', INPUT_TEST: 'percentage', INPUT_THRESHOLD: '20' });
    await run({ runImage: engine });
    expect(process.exitCode).toBeUndefined();
    expect(step.log).toMatch(/^::warning::vmstep: 1 benchmark metric regressed .*\(set fail-on-regression: true to fail the step\)$/m);

    Object.assign(process.env, { INPUT_IMAGE: base, 'INPUT_FAIL-ON-REGRESSION': 'true' });
    writeFileSync(process.env.GITHUB_OUTPUT!, '');
    await run({ runImage: engine });
    expect(process.exitCode).toBeUndefined();
    expect(outputs()).toMatchObject({ 'bench-verdict': 'no-change', 'bench-regressed': 'false' });
  }, 60_000);

  it('reads threshold lines per metric and annotates a change past warn-threshold without failing the step', async () => {
    Object.assign(process.env, {
      INPUT_IMAGE: slow,
      'INPUT_BASELINE-IMAGE': base,
      'INPUT_METRICS-FILE': metrics,
      INPUT_REPEAT: '3',
      INPUT_WARMUP: '0',
      INPUT_TEST: 'percentage',
      INPUT_THRESHOLD: '500%\nstep=1000%\n',
      'INPUT_WARN-THRESHOLD': '20',
      'INPUT_FAIL-ON-REGRESSION': 'true',
    });
    await run({ runImage: engine });
    expect(process.exitCode).toBeUndefined();
    expect(outputs()).toMatchObject({ 'bench-regressed': 'false' });
    expect(step.log).toMatch(/^::warning::vmstep: 2 benchmark metrics worsened beyond the 20%25 warn threshold \(percentage\): wall time \(\+\d+\.\d%25\), step \(\+200\.0%25\), within the threshold: not failing$/m);
    expect(step.log).not.toMatch(/^::error::/m);
  }, 60_000);

  it('runs the command once, as without benchmark mode, when repeat is 1 and nothing asks for a comparison', async () => {
    Object.assign(process.env, { INPUT_IMAGE: base, INPUT_REPEAT: '1' });
    await run({ runImage: engine });
    const out = outputs();
    expect(out['exit-code']).toBe('0');
    expect(Object.keys(out).filter((k) => k.startsWith('bench-'))).toEqual([]);
    expect(readFileSync(summaryFile, 'utf8')).toContain('#### Timings');
  });
});

describe('the action with comment-on-pr, repeat auto and history-file', () => {
  let api: CommentsApi;
  beforeAll(async () => {
    api = await startCommentsApi();
  });
  afterAll(() => api.close());
  afterEach(() => api.reset());

  /** A pull_request job of o/r #7 against the local API, benchmarking `image` against the baseline adaptively. */
  function pullRequestJob(): void {
    const event = join(process.env.GITHUB_WORKSPACE!, 'event.json');
    writeFileSync(event, JSON.stringify({ pull_request: { number: 7 } }));
    Object.assign(process.env, {
      INPUT_IMAGE: slow,
      'INPUT_BASELINE-IMAGE': base,
      'INPUT_METRICS-FILE': metrics,
      INPUT_REPEAT: 'auto',
      'INPUT_MIN-REPEAT': '3',
      'INPUT_MAX-REPEAT': '8',
      INPUT_WARMUP: '0',
      INPUT_TEST: 'percentage',
      INPUT_THRESHOLD: '20',
      'INPUT_COMMENT-ON-PR': 'true',
      'INPUT_GITHUB-TOKEN': 'ghs_job_token',
      'INPUT_HISTORY-FILE': 'history.json',
      GITHUB_API_URL: api.url,
      GITHUB_EVENT_PATH: event,
      GITHUB_EVENT_NAME: 'pull_request',
      GITHUB_REPOSITORY: 'o/r',
      GITHUB_WORKFLOW: 'bench',
      GITHUB_SHA: 'c0ffee',
    });
  }

  it('comments the report once and edits that comment on the next push; stops the runs once decided; appends to the history', async () => {
    pullRequestJob();
    await run({ runImage: engine });
    expect(api.comments).toHaveLength(1);
    expect(api.comments[0]!.body).toMatch(/^<!-- vmstep-bench-comment workflow="bench" -->\n### vmstep benchmark\n\n\*\*2 regressions\*\*/);
    expect(api.calls.every((c) => c.auth === 'token ghs_job_token')).toBe(true);
    expect(step.log).toContain('vmstep: created the report comment on pull request #7: https://github.example/o/r/pull/7#issuecomment-1000');
    expect(step.log.split('\n').filter((l) => l.includes('ghs_job_token'))).toEqual(['::add-mask::ghs_job_token']);
    const out = outputs();
    // The intervals work at 0.05 / 6 looks / 2 metrics = 0.0042: 2/C(10,5) = 0.0079 is not below it, 2/C(12,6) = 0.0022 is,
    // so 6 pairs at the earliest; wall time is real, and a slow run on a busy host can cost a pair more.
    const pairs = Number(out['bench-head-runs']);
    expect(pairs).toBeGreaterThanOrEqual(6);
    expect(pairs).toBeLessThanOrEqual(8);
    expect(out).toMatchObject({ 'bench-baseline-runs': String(pairs), 'bench-comment-url': 'https://github.example/o/r/pull/7#issuecomment-1000' });
    if (pairs < 8) expect(out['bench-stop-reason']).toBe('decided');
    const summary = readFileSync(summaryFile, 'utf8');
    expect(summary).toMatch(new RegExp(`^\\| Repeat \\| auto \\(3 to 8 per side\\): ${pairs} head and ${pairs} baseline runs; stopped ${out['bench-stop-reason'] === 'decided' ? 'when every metric was decided' : 'at max-repeat'} \\|$`, 'm'));
    expect(summary).toMatch(/^#### Trend over the last 1 of 1 runs in the history$/m);
    expect(JSON.parse(readFileSync(join(process.env.GITHUB_WORKSPACE!, 'history.json'), 'utf8')).entries[0].commit).toBe('c0ffee');
    expect(readFileSync(out['bench-history-page']!, 'utf8').match(/<svg class="trend"/g)).toHaveLength(2);

    step.restore();
    step = inProcessStep(work, summaryFile, { VMSTEP_CACHE: join(work, 'cache'), VMSTEP_INIT: guestInitBinary(), INPUT_KERNEL: join(work, 'vmlinux'), INPUT_VCPUS: '1' });
    pullRequestJob();
    await run({ runImage: engine });
    expect(api.comments).toHaveLength(1);
    expect(api.calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`)).toEqual(['POST /repos/o/r/issues/7/comments', 'PATCH /repos/o/r/issues/comments/1000']);
    expect(step.log).toContain('vmstep: updated the report comment on pull request #7');
  }, 120_000);

  it('turns the 403 of a read-only token into one warning line and leaves the verdict alone', async () => {
    pullRequestJob();
    api.readOnly = true;
    await run({ runImage: engine });
    expect(process.exitCode).toBeUndefined();
    expect(step.log.match(/^::warning::vmstep: not commenting.*$/gm)).toEqual([
      '::warning::vmstep: not commenting on pull request #7: the token may not write comments (HTTP 403; pull requests from forks get a read-only token). Give the job "permissions: pull-requests: write", or comment from a workflow_run workflow (see the README)',
    ]);
    expect(outputs()).toMatchObject({ 'bench-verdict': 'regression', 'bench-comment-url': '' });
  }, 120_000);
});
