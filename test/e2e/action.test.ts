// The action as a GitHub runner runs it: `node dist/index.js` with INPUT_*
// variables and the runner's files (GITHUB_OUTPUT, GITHUB_STATE,
// GITHUB_STEP_SUMMARY, RUNNER_TEMP...), then `node dist/post.js` with the
// saved state, on the bundled guest kernel booted by our VMM. Each VM boot is
// slow inside the emulated KVM host, so each run below checks several things;
// the bad inputs fail before any VM starts.
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { processStartTicks } from '../../src/engine/leftovers.js';
import type { RunResources } from '../../src/engine/types.js';
import { OUTPUT_TEXT_LIMIT } from '../../src/action/truncate.js';
import type { BuiltImage } from '../fixtures/oci-images.js';
import { writeBusyboxLayout } from '../helpers/busybox-image.js';
import { lineArrivedAt, runDist, runnerStep, startDist, tempDirForAnyone, workflowCommands, type DistResult, type RunnerStep } from '../helpers/dist-process.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-action-'));
const cache = join(work, 'cache');
const layout = join(work, 'image');
let image: BuiltImage;
let steps = 0;

beforeAll(() => {
  image = writeBusyboxLayout(layout, { Cmd: ['/bin/sh'], WorkingDir: '/work' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Small VMs: the emulated KVM host has 4 GiB and two CPUs for everything. */
const SMALL = { memory: '256M', vcpus: '1' };
const step = (inputs: Record<string, string>) => runnerStep(join(work, `step-${++steps}`), { image: `oci:${layout}`, ...SMALL, ...inputs }, { VMSTEP_CACHE: cache });
const runsLeft = () => (existsSync(join(cache, 'runs')) ? readdirSync(join(cache, 'runs')) : []);
/** The annotations a runner would make of a step log. */
const annotations = (log: string, kind: 'error' | 'warning' | 'notice') => workflowCommands(log).filter((l) => l.startsWith(`::${kind}::`));

describe('a run that succeeds with big output, returned files and an artifact name, outside GitHub', () => {
  let s: RunnerStep;
  let run: DistResult;
  let post: DistResult;
  const LINES = 5000;
  const script = [
    'echo "first $GREETING $1"',
    'sleep 3',
    'echo warn-me >&2',
    'echo "::warning::from the guest"',
    `seq 1 ${LINES} | awk '{ printf "line %06d abcdefghijklmnopqrstuvwxyz\\n", $1 }'`,
    'mkdir -p out && printf \'{"score":7}\' > out/result.json',
    'echo last-line',
  ].join('\n');
  const bigLine = (n: number) => `line ${String(n).padStart(6, '0')} abcdefghijklmnopqrstuvwxyz\n`;
  const stdoutBytes = Buffer.byteLength('first hello arg-one\n::warning::from the guest\n') + LINES * bigLine(1).length + Buffer.byteLength('last-line\n');

  beforeAll(async () => {
    s = step({ run: script, args: 'arg-one', env: 'GREETING=hello', outputs: 'out/result.json', 'artifact-name': 'e2e-results' });
    run = await runDist('index.js', [], { env: s.env, cwd: s.workspace });
    post = await runDist('post.js', [], { env: s.postEnv(), cwd: s.workspace });
  });

  test('the step succeeds with exit-code 0 and timed-out false', () => {
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(s.outputs()).toMatchObject({ 'exit-code': '0', 'timed-out': 'false', 'image-digest': image.manifest.digest });
    expect(annotations(run.stdout, 'error')).toEqual([]);
  });

  test('the stdout output holds the last 32 KiB with a note in front; the stdout-file output all of it', () => {
    const out = s.outputs();
    const [note, ...rest] = out.stdout!.split('\n');
    const kept = rest.join('\n');
    expect(note).toBe(`[vmstep: stdout cut to its last ${Buffer.byteLength(kept)} of ${stdoutBytes} bytes; all of it is in the stdout-file output]`);
    expect(Buffer.byteLength(kept)).toBeLessThanOrEqual(OUTPUT_TEXT_LIMIT);
    expect(kept.endsWith(`${bigLine(LINES)}last-line\n`)).toBe(true);
    const full = readFileSync(out['stdout-file']!, 'utf8');
    expect(full.length).toBe(stdoutBytes);
    expect(full.startsWith(`first hello arg-one\n::warning::from the guest\n${bigLine(1)}${bigLine(2)}`)).toBe(true);
    expect(annotations(run.stdout, 'notice').join('\n')).toContain(`::notice::vmstep: the stdout output holds the last ${OUTPUT_TEXT_LIMIT} of ${stdoutBytes} bytes`);
  });

  test('stderr is its own output and file, and went to the step log stderr', () => {
    const out = s.outputs();
    expect(out.stderr).toBe('warn-me\n');
    expect(readFileSync(out['stderr-file']!, 'utf8')).toBe('warn-me\n');
    expect(run.stderr).toContain('warn-me\n');
    expect(run.stdout).not.toMatch(/^warn-me$/m);
  });

  test('guest stdout streams into the log live and in order, with workflow commands off while it does', () => {
    expect(lineArrivedAt(run, 'stdout', 'first hello arg-one')).toBeLessThan(lineArrivedAt(run, 'stdout', 'last-line') - 2000);
    const log = run.stdout;
    // Where a whole line stands in the log (the command line echoed before the run holds the same words).
    const lineAt = (line: string) => `\n${log}`.indexOf(`\n${line}\n`);
    const order = ['first hello arg-one', '::warning::from the guest', bigLine(1).trimEnd(), bigLine(LINES).trimEnd(), 'last-line'].map(lineAt);
    expect(order.every((i) => i >= 0), String(order)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const stop = /^::stop-commands::([0-9a-f]{32})$/m.exec(log);
    expect(stop).not.toBeNull();
    expect(lineAt(stop![0])).toBeLessThan(order[0]!);
    expect(lineAt(`::${stop![1]}::`)).toBeGreaterThan(order[4]!);
  });

  test('set-up phases sit in collapsible groups with their durations', () => {
    for (const title of ['Resolve image', 'Prepare root filesystem', 'Boot the VM']) expect(run.stdout).toMatch(new RegExp(`^::group::${title}: `, 'm'));
    expect(run.stdout.match(/^::endgroup::$/gm)).toHaveLength(3);
    expect(run.stdout).toMatch(/^vmstep: boot the vm done in \d/m);
  });

  test('returned files land in output-dir at their guest path; result, duration-ms and boot-ms are set', () => {
    const out = s.outputs();
    expect(readFileSync(join(out['output-dir']!, 'work', 'out', 'result.json'), 'utf8')).toBe('{"score":7}');
    const result = JSON.parse(readFileSync(out.result!, 'utf8'));
    expect(result).toMatchObject({ exitCode: 0, signal: null, timedOut: false, image: { digest: image.manifest.digest } });
    expect(result.outputs).toEqual([{ guestPath: '/work/out/result.json', hostPath: join(out['output-dir']!, 'work', 'out', 'result.json'), bytes: 11 }]);
    expect(Number(out['duration-ms'])).toBeGreaterThan(Number(out['boot-ms']));
    expect(Number(out['boot-ms'])).toBeGreaterThan(0);
  });

  test('the job summary has image, digest, command, exit code, timings, returned files and the tail of stdout', () => {
    const summary = s.summary();
    expect(summary).toContain(`### ✅ vmstep: \`oci:${layout}\``);
    expect(summary).toContain(`| Digest | \`${image.manifest.digest}\` |`);
    expect(summary).toContain('| Command | `sh -c ');
    expect(summary).toContain('| Exit code | 0 |');
    for (const phase of ['image', 'root filesystem', 'boot', 'command', 'total']) expect(summary).toMatch(new RegExp(`^\\| ${phase} \\| `, 'm'));
    expect(summary).toContain('| `/work/out/result.json` | 11 B |');
    expect(summary).toContain('Not uploaded as an artifact (not running on GitHub Actions).');
    expect(summary).toContain('#### stdout (last 40 lines)');
    expect(summary).toContain(`${bigLine(LINES)}last-line\n\`\`\``);
  });

  test('without a runtime token the artifact upload is skipped with a notice', () => {
    expect(annotations(run.stdout, 'notice').join('\n')).toContain('::notice::vmstep: artifact upload skipped: not running on GitHub Actions');
  });

  test('the guest could not issue workflow commands: its ::warning:: is no annotation', () => {
    expect(run.stdout).toMatch(/^::warning::from the guest$/m);
    expect(annotations(run.stdout, 'warning')).toEqual([]);
  });

  test('the run cleaned up after itself, and the post step finds nothing to do', () => {
    expect(runsLeft()).toEqual([]);
    expect(existsSync(join(s.runnerTemp, 'vmstep-state', 'vmstep-e2e.json'))).toBe(false);
    expect(post.code).toBe(0);
    expect(post.stdout).not.toMatch(/^::warning::/m);
    expect(post.stdout).not.toContain('stopped the VM');
  });
});

describe('a command that exits 42, reading a volume copied from the workspace', () => {
  let s: RunnerStep;
  let run: DistResult;
  beforeAll(async () => {
    s = step({ run: 'cat /data/note.txt; echo failing; exit 42', volumes: 'src:/data' });
    // A relative host path starts at GITHUB_WORKSPACE, as a checkout's files do.
    mkdirSync(join(s.workspace, 'src'));
    writeFileSync(join(s.workspace, 'src', 'note.txt'), 'from the workspace\n');
    run = await runDist('index.js', [], { env: s.env, cwd: s.workspace });
  });

  test('fails the step with one error annotation that says so', () => {
    expect(run.code).toBe(1);
    const errors = annotations(run.stdout, 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^::error::vmstep: the command exited with 42; see the step log/);
  });

  test('still sets the outputs and writes the summary', () => {
    expect(s.outputs()).toMatchObject({ 'exit-code': '42', 'timed-out': 'false', stdout: 'from the workspace\nfailing\n' });
    expect(s.summary()).toContain('exited with 42');
    expect(s.summary()).toContain('| Exit code | 42 |');
  });
});

describe('a run past its timeout, allowed to fail', () => {
  let s: RunnerStep;
  let run: DistResult;
  beforeAll(async () => {
    // Generous: the limit covers the boot too, which takes seconds inside the emulated host.
    s = step({ run: 'echo started; sleep 600', timeout: '25', 'allow-failure': 'true' });
    run = await runDist('index.js', [], { env: s.env, cwd: s.workspace });
  });

  test('sets exit-code 124 and timed-out true, and only warns', () => {
    expect(run.code, run.stdout).toBe(0);
    expect(s.outputs()).toMatchObject({ 'exit-code': '124', 'timed-out': 'true' });
    expect(annotations(run.stdout, 'error')).toEqual([]);
    expect(annotations(run.stdout, 'warning').join('\n')).toContain('::warning::vmstep: the command ran past the time limit of 25 s and the VM was stopped (exit code 124); allowed to fail (allow-failure: true)');
    expect(s.summary()).toContain('timed out after 25 s');
  });

  test('the output streamed before the limit was kept', () => {
    expect(readFileSync(s.outputs()['stdout-file']!, 'utf8')).toBe('started\n');
  });
});

describe('the post step after the main step was killed mid-run (a cancelled job)', () => {
  let s: RunnerStep;
  let held: RunResources;
  let killed: DistResult;
  let post: DistResult;
  let aliveBeforeKill = false;

  beforeAll(async () => {
    s = step({ run: 'echo running; sleep 600' });
    const main = startDist('index.js', [], { env: s.env, cwd: s.workspace });
    await main.waitFor('stdout', /^running$/m);
    held = JSON.parse(readFileSync(join(s.runnerTemp, 'vmstep-state', 'vmstep-e2e.json'), 'utf8'));
    aliveBeforeKill = held.vmmPid !== undefined && processStartTicks(held.vmmPid) === held.vmmStartTicks;
    main.child.kill('SIGKILL');
    killed = await main.done;
    post = await runDist('post.js', [], { env: s.postEnv(), cwd: s.workspace });
  });

  test('while it ran, the state file named the VMM, its scratch directory and the cache', () => {
    expect(aliveBeforeKill).toBe(true);
    expect(held.cacheDir).toBe(cache);
    expect(held.scratchDir).toMatch(/\/vmstep-run-[^/]+$/);
    expect(killed.signal).toBe('SIGKILL');
  });

  test('post exits 0 having removed the scratch files and the disk copy', () => {
    expect(post.code).toBe(0);
    expect(post.stdout).toContain(`vmstep: removed its scratch files (${held.scratchDir})`);
    expect(annotations(post.stdout, 'warning')).toEqual([]);
    expect(existsSync(held.scratchDir)).toBe(false);
    expect(runsLeft()).toEqual([]);
  });

  test('no VM is left running, and the state file is gone', () => {
    expect(processStartTicks(held.vmmPid!)).not.toBe(held.vmmStartTicks);
    expect(existsSync(join(s.runnerTemp, 'vmstep-state', 'vmstep-e2e.json'))).toBe(false);
  });
});

describe('a job cancelled while the command runs (the runner sends SIGINT)', () => {
  let s: RunnerStep;
  let held: RunResources;
  let run: DistResult;
  let post: DistResult;

  beforeAll(async () => {
    s = step({ run: 'echo running; sleep 600' });
    const main = startDist('index.js', [], { env: s.env, cwd: s.workspace });
    await main.waitFor('stdout', /^running$/m);
    held = JSON.parse(readFileSync(join(s.runnerTemp, 'vmstep-state', 'vmstep-e2e.json'), 'utf8'));
    main.child.kill('SIGINT');
    run = await main.done;
    post = await runDist('post.js', [], { env: s.postEnv(), cwd: s.workspace });
  });

  test('the step stops its VM, fails with one error, and warns that it was cancelled', () => {
    expect(run.code).toBe(1);
    expect(annotations(run.stdout, 'error')).toEqual(['::error::vmstep: the run was cancelled']);
    expect(annotations(run.stdout, 'warning')).toEqual(['::warning::vmstep: the run was cancelled; the VM was stopped']);
    expect(processStartTicks(held.vmmPid!)).not.toBe(held.vmmStartTicks);
  });

  test('the run removed its scratch files and state itself, so the post step has nothing to do', () => {
    expect(existsSync(held.scratchDir)).toBe(false);
    expect(runsLeft()).toEqual([]);
    expect(existsSync(join(s.runnerTemp, 'vmstep-state', 'vmstep-e2e.json'))).toBe(false);
    expect(post.code).toBe(0);
    expect(post.stdout).not.toContain('vmstep: removed');
  });
});

describe('bad input fails the step with one error annotation and exit-code 125, before any VM starts', () => {
  const refused = (s: RunnerStep, r: DistResult, message: RegExp) => {
    expect(r.code).toBe(1);
    const errors = annotations(r.stdout, 'error');
    expect(errors, r.stdout).toHaveLength(1);
    expect(errors[0]).toMatch(message);
    expect(s.outputs()).toEqual({ 'exit-code': '125', 'timed-out': 'false' });
    expect(s.summary()).toContain('did not run');
  };

  test('a missing image', async () => {
    const s = step({ image: `oci:${join(work, 'no-such-layout')}` });
    refused(s, await runDist('index.js', [], { env: s.env, cwd: s.workspace }), /^::error::vmstep: .*no-such-layout/);
  });

  test('a bad memory size', async () => {
    const s = step({ memory: '12X' });
    refused(s, await runDist('index.js', [], { env: s.env, cwd: s.workspace }), /^::error::vmstep: input "memory" "12X" is not a size; write a positive number with a unit/);
  });

  test('a volume whose host path is missing from the workspace', async () => {
    const s = step({ volumes: 'no-such-dir:/src' });
    refused(s, await runDist('index.js', [], { env: s.env, cwd: s.workspace }), /^::error::vmstep: input "volumes" "no-such-dir:\/src": the host path \S*\/workspace\/no-such-dir does not exist/);
  });

  test.skipIf(process.getuid?.() !== 0)('a /dev/kvm the runner user cannot open', async () => {
    expect(statSync('/dev/kvm').mode & 0o006).toBe(0);
    const nobody = 65534;
    // The runner's files and temp belong to the runner user.
    const dir = tempDirForAnyone('vmstep-e2e-nobody-');
    // An image this user can read: only /dev/kvm is out of reach.
    writeBusyboxLayout(join(dir, 'image'));
    const s = runnerStep(dir, { image: `oci:${join(dir, 'image')}` }, { VMSTEP_CACHE: join(dir, 'cache'), TMPDIR: dir, HOME: dir, USER: 'nobody', LOGNAME: 'nobody' });
    const giveAway = (p: string) => {
      chownSync(p, nobody, nobody);
      if (lstatSync(p).isDirectory()) for (const name of readdirSync(p)) giveAway(join(p, name));
    };
    giveAway(dir);
    try {
      refused(s, await runDist('index.js', [], { env: s.env, cwd: s.workspace, uid: nobody, gid: nobody }), /^::error::vmstep: permission denied on \/dev\/kvm \(c[-rw]{6}--- \w+:\w+\); (only root may open it; open it to the runner with a udev rule|add nobody to the \w+ group)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
