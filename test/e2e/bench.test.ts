// `vmstep bench` end to end on the real guest kernel, booted by our VMM (in
// the emulated KVM host here): two source trees in one image (--volume and
// --baseline-volume), the head's doing twice the work, are flagged as a
// regression and fail with --fail-on-regression, and an identical image pair
// is not. Each VM boot costs seconds under emulation, so the
// runs are few (6 per image after 1 warm-up) and each run is checked for
// several things: wall time from the guest, the guest's own metrics file, the
// benchmark kernel arguments and vCPU pinning. The emulated host is noisy
// (a run now and then takes half again as long), so the test is Mann-Whitney,
// which ranks runs and shrugs off such outliers, and the loop is long enough
// that the work, not start-up, is most of each run. The same trees once more
// under --repeat auto: it stops when both metrics are decided and says why.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { chooseVcpuCpus } from '../../src/engine/bench-pinning.js';
import { runImage } from '../../src/engine/run.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { builtArtifacts } from '../helpers/artifacts.js';
import { nativeBuild } from '../kvm/vm-helpers.js';
import { Capture } from '../helpers/capture.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-bench-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * A script that counts to N in the shell and writes the time it took (from
 * /proc/uptime) as a Bencher Metric Format file, and the guest kernel's
 * command line to stdout.
 */
function loopScript(n: number): string {
  return [
    "t0=$(cut -d' ' -f1 /proc/uptime)",
    `i=0; while [ $i -lt ${n} ]; do i=$((i+1)); done`,
    "t1=$(cut -d' ' -f1 /proc/uptime)",
    'mkdir -p /out',
    `awk -v a=$t0 -v b=$t1 'BEGIN { printf "{\\"loop\\": {\\"latency\\": {\\"value\\": %.0f}}}", (b - a) * 1e9 }' > /out/bmf.json`,
    'cat /proc/cmdline',
  ].join('\n');
}

/** A busybox image that runs `script`. */
function loopImage(name: string, script: string): string {
  const dir = join(work, name);
  writeOciLayout(dir, {
    layers: [
      {
        entries: [
          { path: 'bin/', type: 'dir' },
          { path: 'bin/busybox', content: readFileSync('/bin/busybox'), mode: 0o755 },
          ...['sh', 'cut', 'mkdir', 'awk', 'cat'].map((a) => ({ path: `bin/${a}`, type: 'symlink' as const, linkname: 'busybox' })),
        ],
      },
    ],
    config: { Entrypoint: ['/bin/sh', '-c'], Cmd: [script], Env: ['PATH=/bin'] },
  });
  return `oci:${dir}`;
}

async function vmstep(...argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, cwd: work, env: { PATH: process.env.PATH, VMSTEP_CACHE: join(work, 'cache') }, runImage };
  const code = await main(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

// Small VMs: the emulated KVM host has two CPUs and little memory for everything.
const common = ['--vcpus', '1', '--memory', '256M', '--repeat', '6', '--warmup', '1', '--test', 'mann-whitney', '--threshold', '25', '--metrics-file', '/out/bmf.json', '--fail-on-regression'];
const N = 50000;
let base: string;
let toolchain: string;
let baseTree: string;
let doubleTree: string;

/** A source tree whose loop.sh counts to n. */
function tree(name: string, n: number): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'loop.sh'), `${loopScript(n)}\n`);
  return dir;
}

beforeAll(async () => {
  await nativeBuild(); // the VMM and addon of this tree (sets VMSTEP_VMM, VMSTEP_ADDON)
  const built = builtArtifacts();
  process.env.VMSTEP_KERNEL = built.guestKernel;
  if (built.guestInit) process.env.VMSTEP_INIT = built.guestInit;
  base = loopImage('base', loopScript(N));
  // A stock image, the code in the trees copied into it: what a pull request and its base branch look like.
  toolchain = loopImage('toolchain', '. /src/loop.sh');
  baseTree = tree('base-tree', N);
  doubleTree = tree('double-tree', 2 * N);
}, 600_000);

describe('a head tree that does twice the work of the baseline tree, in one image', () => {
  let r: Awaited<ReturnType<typeof vmstep>>;
  beforeAll(async () => {
    r = await vmstep('bench', ...common, '-v', `${doubleTree}:/src`, '--baseline-volume', 'base-tree:/src', '--results-dir', 'double', toolchain);
  }, 1_200_000); // 14 boots under emulation, on a shared host

  test('fails with exit status 1 under --fail-on-regression, naming the metrics', () => {
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(1);
    expect(r.stderr).toMatch(/^vmstep: 2 benchmark metrics regressed beyond the 25% threshold \(mann-whitney\): wall time \(\+\d+\.\d%\), loop \(\+\d+\.\d%\)/m);
  });

  test('is a regression of wall time measured in the guest and of the metric the guest wrote, near +100%', () => {
    const results = JSON.parse(readFileSync(join(work, 'double', 'results.json'), 'utf8'));
    expect(results.metrics.map((m: { name: string; values: number[] }) => [m.name, m.values.length])).toEqual([
      ['wall time', 6],
      ['loop', 6],
    ]);
    const change = (name: string) => Number(new RegExp(`^\\| ${name} \\| [^|]+ \\| [^|]+ \\| \\+(\\d+\\.\\d)% \\|`, 'm').exec(r.stdout)?.[1]);
    // Twice the loop: the command's time roughly doubles (start-up of the shell and awk is the rest).
    expect(change('wall time')).toBeGreaterThan(50);
    // The emulated host's noise reaches a third of the change at times: the bound only has to tell twice the work from the same.
    expect(change('loop')).toBeGreaterThan(50);
    expect(change('loop')).toBeLessThan(160);
  });

  test('alternates baseline and head, each run in its own VM with the benchmark kernel arguments', () => {
    const order = [...r.stderr.matchAll(/^vmstep: run \d+\/14: (\w+)( \(warm-up\))? /gm)].map((m) => `${m[1]}${m[2] ? '*' : ''}`);
    expect(order).toEqual(['baseline*', 'head*', ...Array<string[]>(6).fill(['baseline', 'head']).flat()]);
    for (const run of ['baseline-warmup-1', 'baseline-1', 'head-6']) {
      const cmdline = readFileSync(join(work, 'double', 'runs', run, 'stdout.txt'), 'utf8');
      expect(cmdline).toMatch(/ nokaslr norandmaps transparent_hugepage=never/);
    }
  });

  test('tells the arms apart by their trees', () => {
    // Markdown escapes the brackets.
    expect(r.stdout).toContain('Baseline (\\[base-tree\\] oci:');
    expect(r.stdout).toContain('Head (\\[double-tree\\] oci:');
  });

  test('pins the vCPU to a host core of its own when the host has one to spare', () => {
    const choice = chooseVcpuCpus(1);
    expect(r.stderr).toContain(choice.cpus ? `vmstep: vCPUs pinned to host CPU ${choice.cpus.join(', ')}\n` : `vmstep: vCPUs not pinned (${choice.reason})\n`);
  });
});

describe('repeat auto on the same pair of trees', () => {
  test('stops once both metrics are decided (or at max-repeat), reports after how many runs a side and why, and flags the regression', async () => {
    const auto = ['--vcpus', '1', '--memory', '256M', '--repeat', 'auto', '--min-repeat', '4', '--max-repeat', '6', '--warmup', '0', '--threshold', '25', '--metrics-file', '/out/bmf.json', '--fail-on-regression'];
    const r = await vmstep('bench', ...auto, '-v', `${doubleTree}:/src`, '--baseline-volume', 'base-tree:/src', '--results-dir', 'auto', toolchain);
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(1);
    // 3 looks over 2 metrics: intervals at 0.05 / 3 / 2, which Mann-Whitney reaches from 5 runs a side on a clean separation.
    const line = /^vmstep: repeat auto: (\d) baseline and \1 head runs, stopped: (.*)$/m.exec(r.stderr);
    expect(line, r.stderr).not.toBeNull();
    const pairs = Number(line![1]);
    expect(pairs).toBeGreaterThanOrEqual(4);
    expect(pairs).toBeLessThanOrEqual(6);
    expect(line![2]).toMatch(pairs < 6 ? /^every metric decided at the threshold after \d runs per side/ : /^(every metric decided|reached max-repeat 6)/);
    const stopping = JSON.parse(readFileSync(join(work, 'auto', 'results.json'), 'utf8')).stopping;
    expect(stopping).toMatchObject({ repeat: 'auto', runs: { baseline: pairs, head: pairs } });
    expect(['decided', 'max-repeat']).toContain(stopping.stoppedBecause);
    expect(r.stdout).toMatch(/^_repeat auto: \d baseline and \d head runs, stopped: /m);
    console.log(`repeat auto end to end: ${pairs} runs a side, ${stopping.stoppedBecause}: ${stopping.reason}`);
  }, 1_200_000);
});

describe('an identical pair', () => {
  test('is no regression: exit status 0 with --fail-on-regression', async () => {
    const r = await vmstep('bench', ...common, '--baseline-image', base, '--results-dir', 'same', base);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^no regressions · 0 improvements · 2 unchanged$/m);
  }, 600_000);
});
