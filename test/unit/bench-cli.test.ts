// `vmstep bench` through main(), on the real engine with guest init in its
// test mode standing in for the VM (see bench-engine.test.ts): the report on
// stdout, progress on stderr, and the exit status a CI script acts on.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { capacityStatus, reserveCapacity } from '../../src/engine/capacity.js';
import { runImage } from '../../src/engine/run.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { testModeHost, testModeVm as makeTestModeVm } from '../helpers/guest-init.js';
import { Capture } from '../helpers/capture.js';

const testModeVm = makeTestModeVm();

let work: string;
let base: string;
let slow: string;

function image(name: string, seconds: number): string {
  const dir = join(work, 'images', name);
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/hostname', content: `${name}\n` }] }], config: { Entrypoint: ['sh', '-c'], Cmd: [`sleep ${seconds}`] } });
  return `oci:${dir}`;
}

async function vmstep(...argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = {
    stdout,
    stderr,
    cwd: work,
    env: { PATH: process.env.PATH, VMSTEP_CACHE: join(work, 'cache') },
    runImage: (o, e, c) => runImage({ ...o, scratchRoot: join(work, 'scratch') }, e, { ...c, launchVm: testModeVm }),
  };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

beforeAll(() => {
  ({ work } = testModeHost('vmstep-bench-cli-'));
  base = image('base', 0.1);
  slow = image('slow', 0.3);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const common = ['--kernel', 'vmlinux', '--vcpus', '1', '--repeat', '3', '--warmup', '0', '--test', 't-test', '--threshold', '20'];

describe('vmstep bench', () => {
  it('prints its options, the bench ones and those of run', async () => {
    const r = await vmstep('bench', '--help');
    expect(r.code).toBe(0);
    for (const o of ['--repeat N', '--warmup N', '--baseline-image IMAGE', '--baseline-file FILE', '--metrics-file GUEST_PATH', '--metrics-format FORMAT', '--test TEST', '--threshold PERCENT', '--fail-on-regression', '--memory SIZE', '--env K=V']) {
      expect(r.stdout).toContain(o);
    }
    expect(r.stdout).not.toContain('--output-dir');
    expect((await vmstep('--help')).stdout).toMatch(/^ {2}bench {4}/m);
  });

  it('exits 1 with --fail-on-regression when the head takes three times as long, with the report on stdout', async () => {
    const r = await vmstep('bench', ...common, '--fail-on-regression', '--baseline-image', base, '--results-dir', 'slow-results', slow);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^### vmstep benchmark\n\n\*\*1 regression\*\*/);
    expect(r.stdout).toMatch(/\| wall time \| \d+\.\d ms ±\d+\.\d% \| \d+\.\d ms ±\d+\.\d% \| \+\d+\.\d% \|/);
    expect(r.stderr.match(/^vmstep: run \d\/6: (baseline|head) \.\.\. \d+/gm)!.map((l) => l.split(': ')[2]!.split(' ')[0])).toEqual(['baseline', 'head', 'baseline', 'head', 'baseline', 'head']);
    expect(r.stderr).toMatch(/^vmstep: 1 benchmark metric regressed beyond the 20% threshold \(t-test\): wall time \(\+\d+\.\d%\)/m);
    for (const f of ['results.json', 'bmf.json', 'report.md', 'chart.svg', 'github-action-benchmark-smaller.json']) expect(existsSync(join(work, 'slow-results', f))).toBe(true);
  }, 60_000);

  it('exits 0 for an identical pair, and without --fail-on-regression only says so for a regression', async () => {
    const same = await vmstep('bench', ...common, '--fail-on-regression', '--baseline-image', base, '--results-dir', 'same-results', base);
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toMatch(/^no regressions · 0 improvements · 1 unchanged$/m);
    const file = await vmstep('bench', ...common, '--baseline-file', 'same-results/results.json', '--results-dir', 'file-results', slow);
    expect(file.code).toBe(0);
    expect(file.stderr).toMatch(/regressed beyond the 20% threshold .* \(not failing: no --fail-on-regression\)/);
  }, 60_000);

  it('takes --threshold per metric, repeated, and only warns for a change past --warn-threshold within it', async () => {
    const r = await vmstep(
      'bench', '--kernel', 'vmlinux', '--vcpus', '1', '--repeat', '3', '--warmup', '0', '--test', 't-test', '--alpha', '0.1', '--correction', 'bh',
      '--threshold', '500', '--threshold', 'wall time=1000', '--warn-threshold', '20', '--fail-on-regression',
      '--baseline-image', base, '--results-dir', 'warn-results', slow,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^no regressions · 1 warning · 0 improvements · 0 unchanged$/m);
    expect(r.stdout).toMatch(/^Welch's t-test on means, threshold 500% \(some metrics their own\), warn at 20%, α = 0\.1 over all metrics \(Benjamini-Hochberg\), /m);
    expect(r.stderr).toMatch(/^vmstep: warning: 1 benchmark metric worsened beyond the 20% warn threshold \(t-test\): wall time \(\+\d+\.\d%\), within the threshold: not failing$/m);
  }, 60_000);

  it('refuses, before any VM, a Mann-Whitney comparison with too few runs to ever be significant', async () => {
    const r = await vmstep('bench', '--kernel', 'vmlinux', '--repeat', '3', '--baseline-image', base, '--results-dir', 'never-made', slow);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(
      "vmstep: error: --repeat 3 is too few for mann-whitney: with 3 baseline and 3 head runs Mann-Whitney's smallest possible p is 0.10, not below alpha 0.05; set --repeat to at least 4, or --test to percentage\n",
    );
    expect(existsSync(join(work, 'never-made'))).toBe(false);
  });

  it('with --repeat auto says after how many runs a side it stopped and why, on stderr and in the report', async () => {
    const r = await vmstep('bench', '--kernel', 'vmlinux', '--vcpus', '1', '--repeat', 'auto', '--min-repeat', '3', '--max-repeat', '6', '--warmup', '0', '--test', 't-test', '--threshold', '20', '--baseline-image', base, '--results-dir', 'auto-results', slow);
    expect(r.code, r.stderr).toBe(0);
    const line = /^vmstep: repeat auto: (\d) baseline and \1 head runs, stopped: (.*); verdicts at α = 0\.0125, the 0\.05 spread over every look$/m.exec(r.stderr);
    expect(line, r.stderr).not.toBeNull();
    const pairs = Number(line![1]);
    expect(r.stderr.match(/^vmstep: run \d+\/12: (baseline|head)/gm)).toHaveLength(2 * pairs);
    // 4 looks, one metric (wall time): the interval first reaches 0.0125 at 5 runs a side (2/C(10,5) = 0.0079); a slow run on a busy host can cost the last pair.
    expect(pairs).toBeGreaterThanOrEqual(5);
    expect(line![2]).toMatch(pairs < 6 ? /^every metric decided at the threshold after 5 runs per side \(min-repeat 3, max-repeat 6\)$/ : /^(every metric decided at the threshold after 6 runs per side|reached max-repeat 6 with 1 metric still inconclusive)/);
    expect(r.stdout).toMatch(/^_repeat auto: \d baseline and \d head runs, stopped: /m);
  }, 60_000);

  it('appends each run to --history-file, and vmstep report draws the trend as a page', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await vmstep('bench', ...common, '--history-file', 'hist/history.json', '--results-dir', 'hist-results', base);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`vmstep: history ${join(work, 'hist', 'history.json')}: ${i + 1} runs, this one appended`);
      expect(r.stdout).toMatch(new RegExp(`^#### Trend over the last ${i + 1} of ${i + 1} runs in the history$`, 'm'));
    }
    const report = await vmstep('report', '--history', 'hist/history.json', '--html', 'site');
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/^\| wall time \| 2 \| /m);
    expect(report.stderr).toBe(`vmstep: wrote ${join(work, 'site', 'index.html')}\n`);
    expect(readFileSync(join(work, 'site', 'index.html'), 'utf8').match(/<svg class="trend"/g)).toHaveLength(1);
  }, 60_000);

  it('refuses a garbled history file in one line before any VM starts, and leaves it as it was', async () => {
    writeFileSync(join(work, 'garbled.json'), '{"format":"vmstep-bench-history","version":1,"entries":[{"date":"yesterday","metrics":[]}]}');
    const r = await vmstep('bench', ...common, '--history-file', 'garbled.json', '--results-dir', 'garbled-results', base);
    expect(r.code).toBe(125);
    expect(r.stderr.split('\n').at(-2)! + '\n').toBe(`vmstep: error: history file ${join(work, 'garbled.json')}: entries[0] "date" "yesterday" is not a date; point history-file at the file an earlier vmstep run kept, or at a new path (it is created)\n`);
    expect(existsSync(join(work, 'garbled-results'))).toBe(false);
    const report = await vmstep('report', '--history', 'garbled.json');
    expect(report.code).toBe(125);
    expect(report.stderr).toMatch(/^vmstep: error: history file .*garbled\.json: entries\[0\] "date" "yesterday" is not a date; give --history the file vmstep bench --history-file wrote\n$/);
  });

  it('fails with 125 and one line for a bad setting, before any VM', async () => {
    const r = await vmstep('bench', '--repeat', 'many', base);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe('vmstep: error: --repeat "many" is not a run count; give a whole number from 1 to 1000, or auto\n');
  });

  it('fails on a missing baseline file with the one error line, no blank line before it, and no results directory left behind', async () => {
    const resultsDir = join(work, 'results-missing-baseline');
    const r = await vmstep('bench', '--results-dir', resultsDir, '--baseline-file', join(work, 'no-such.json'), ...common, base);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^vmstep: error: cannot read the baseline file [^\n]*\n$/);
    expect(existsSync(resultsDir)).toBe(false);
  });

  it('ends its open progress line once when the first run fails, and removes the empty results directory', async () => {
    const resultsDir = join(work, 'results-no-image');
    const r = await vmstep('bench', '--results-dir', resultsDir, ...common, `oci:${join(work, 'no-such-image')}`);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/(^|\n)vmstep: run 1\/3: head \.\.\. \nvmstep: error: image oci:[^\n]*\n$/);
    expect(r.stderr).not.toContain('\n\n');
    expect(existsSync(resultsDir)).toBe(false);
  });

  it('warns that comparison settings do nothing without a baseline, and a metrics format without a metrics file', async () => {
    const r = await vmstep('bench', '--results-dir', join(work, 'results-idle'), ...common, '--fail-on-regression', '--metrics-format', 'bmf', '--repeat', '1', base);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('vmstep: warning: --test, --threshold and --fail-on-regression do nothing without a baseline to compare against; add --baseline-image, --baseline-volume or --baseline-file, or leave them out\n');
    expect(r.stderr).toContain('vmstep: warning: --metrics-format does nothing without --metrics-file; add it, or leave --metrics-format out\n');
  }, 60_000);

  it("waits in line with --wait for each run's share of the host's capacity, and fails at once without it", async () => {
    process.env.VMSTEP_MAX_VCPUS = '1';
    const web = await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'vm web' });
    try {
      const refused = await vmstep('bench', ...common, '--repeat', '1', '--results-dir', 'full-results', base);
      expect(refused.code).toBe(125);
      expect(refused.stderr).toMatch(/^vmstep: error: not enough capacity: asked 1 vCPU and 1 GiB, in use 1 of 1 vCPU and 64 MiB of [\d.]+ GiB by vm web \(\w+\); stop some of them, raise VMSTEP_MAX_VCPUS, or wait in line with --wait$/m);
      const waiting = vmstep('bench', ...common, '--repeat', '2', '--wait=30s', '--results-dir', 'wait-results', base);
      await new Promise((r) => setTimeout(r, 1000));
      const during = capacityStatus();
      web.release();
      const r = await waiting;
      expect(r.code, r.stderr).toBe(0);
      expect(during.waiting).toEqual([expect.objectContaining({ label: `vmstep bench ${base}`, vcpus: 1 })]);
      expect(r.stderr).toMatch(/^vmstep: run 1\/2: head \.\.\. \nvmstep: waiting for capacity: asked 1 vCPU and 1 GiB, in use 1 of 1 vCPU and 64 MiB of [\d.]+ GiB by vm web \(\w+\)\n/m);
    } finally {
      web.release();
      delete process.env.VMSTEP_MAX_VCPUS;
    }
  }, 60_000);
});
