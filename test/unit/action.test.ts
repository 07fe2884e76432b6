// The action entry driven as a runner drives it: inputs in INPUT_* variables,
// outputs, state and the job summary in the files GITHUB_OUTPUT,
// GITHUB_STATE and GITHUB_STEP_SUMMARY name, the log on stdout. The engine
// is a stand-in here (test/unit/engine-run.test.ts covers the real one).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/action/main.js';
import { OUTPUT_TEXT_LIMIT } from '../../src/action/truncate.js';
import { VmstepError } from '../../src/engine/errors.js';
import type { RunEvents, RunOptions, RunResult } from '../../src/engine/types.js';
import { inProcessStep, type InProcessStep } from '../helpers/action-step.js';
import { readCommandFile } from '../helpers/dist-process.js';

type FakeRun = (options: RunOptions, events: RunEvents) => Promise<Partial<RunResult> & { stdout?: string; stderr?: string }>;

// @actions/core caches the summary file's path on first use: one file for all tests, emptied before each.
const summaryFile = join(mkdtempSync(join(tmpdir(), 'vmstep-action-summary-')), 'summary');
const parent = mkdtempSync(join(tmpdir(), 'vmstep-action-'));
let step: InProcessStep;
let dir: string;

beforeEach(() => {
  step = inProcessStep(parent, summaryFile, { GITHUB_ACTION: '__owner_vmstep' });
  dir = step.dir;
});

afterEach(() => step.restore());

function inputs(values: Record<string, string>): void {
  for (const [k, v] of Object.entries(values)) process.env[`INPUT_${k.toUpperCase()}`] = v;
}

const outputs = () => step.outputs();
const summary = () => step.summary();

function fakeEngine(script: FakeRun) {
  const calls: RunOptions[] = [];
  const runImage = async (options: RunOptions, events: RunEvents = {}): Promise<RunResult> => {
    calls.push(options);
    const r = await script(options, events);
    const stdoutFile = join(options.logDir!, 'stdout.txt');
    const stderrFile = join(options.logDir!, 'stderr.txt');
    writeFileSync(stdoutFile, r.stdout ?? '');
    writeFileSync(stderrFile, r.stderr ?? '');
    return {
      exitCode: 0,
      signal: null,
      timedOut: false,
      image: { reference: 'docker.io/library/alpine:3.20', digest: `sha256:${'d'.repeat(64)}` },
      command: ['sh', '-c', 'echo hello'],
      outputs: [],
      outputIssues: [],
      timings: { imageMs: 812.4, rootfsMs: 3.2, bootMs: 95.6, commandMs: 12.345, totalMs: 950.2 },
      stdoutFile,
      stderrFile,
      stdoutBytes: Buffer.byteLength(r.stdout ?? ''),
      stderrBytes: Buffer.byteLength(r.stderr ?? ''),
      outputDir: options.outputDir,
      ...r,
    };
  };
  return { runImage, calls };
}

describe('the action', () => {
  it("waits its turn for the host's capacity (the job's timeout bounds the wait), and says what it waits for", async () => {
    inputs({ image: 'alpine:3.20', run: 'true' });
    const engine = fakeEngine(async (_o, ev) => {
      ev.waiting?.('waiting for capacity: asked 2 vCPUs and 1 GiB, in use 8 of 8 vCPUs and 4 GiB of 6 GiB by vmstep action alpine:3.20 (runner)');
      return {};
    });
    await run({ runImage: engine.runImage });
    expect(engine.calls[0]).toMatchObject({ capacityWaitMs: Infinity, capacityLabel: 'vmstep action alpine:3.20' });
    expect(step.log).toContain('vmstep: waiting for capacity: asked 2 vCPUs and 1 GiB, in use 8 of 8 vCPUs and 4 GiB of 6 GiB by vmstep action alpine:3.20 (runner)\n');
  });

  it('runs the script, streams the log in groups and sets every output', async () => {
    inputs({ image: 'alpine:3.20', run: 'echo hello', memory: '2G', vcpus: '1', env: 'A=1\nB=two words\n', outputs: '/out/*.json\n\nresults/\n' });
    const engine = fakeEngine(async (_o, ev) => {
      ev.phaseStart?.('image', 'alpine:3.20');
      ev.progress?.('downloaded sha256:abcd');
      ev.phaseEnd?.('image', 812, `sha256:${'d'.repeat(64)}`);
      ev.phaseStart?.('command', "sh -c 'echo hello'");
      await ev.stdout?.(Buffer.from('hello\n'));
      ev.phaseEnd?.('command', 12, 'exit 0');
      return { stdout: 'hello\n' };
    });
    await run({ runImage: engine.runImage });

    expect(process.exitCode).toBeUndefined();
    expect(engine.calls[0]).toMatchObject({ image: 'alpine:3.20', entrypoint: ['sh', '-c'], command: ['echo hello'], memoryMiB: 2048, vcpus: 1, env: ['A=1', 'B=two words'], outputs: ['/out/*.json', 'results/'] });
    const out = outputs();
    const runDir = engine.calls[0]!.logDir!;
    expect(out).toEqual({
      'exit-code': '0',
      'timed-out': 'false',
      stdout: 'hello\n',
      stderr: '',
      'stdout-file': join(runDir, 'stdout.txt'),
      'stderr-file': join(runDir, 'stderr.txt'),
      'output-dir': join(runDir, 'output'),
      result: join(runDir, 'result.json'),
      'duration-ms': '950',
      'boot-ms': '96',
      'command-ms': '12.345',
      'image-digest': `sha256:${'d'.repeat(64)}`,
    });
    expect(runDir.startsWith(join(dir, 'temp'))).toBe(true);
    expect(JSON.parse(readFileSync(out.result!, 'utf8'))).toMatchObject({ exitCode: 0, image: { digest: `sha256:${'d'.repeat(64)}` }, timings: { bootMs: 95.6 } });

    // Set-up phases are groups with their duration; the command's output is not grouped.
    expect(step.log).toMatch(/::group::Resolve image: alpine:3\.20\ndownloaded sha256:abcd\nsha256:d+ \(812 ms\)\n::endgroup::\nvmstep: resolve image done in 812 ms\n/);
    expect(step.log).toMatch(/vmstep: running sh -c 'echo hello'\n::stop-commands::([0-9a-f]{32})\nhello\n::\1::\nvmstep: exit 0 after 12 ms\n/);
  });

  it('writes a job summary with image, digest, command, exit code, timings, files and the tail of stdout', async () => {
    inputs({ image: 'alpine:3.20', args: "-c 'echo hi'" });
    const engine = fakeEngine(async () => ({
      stdout: Array.from({ length: 100 }, (_, i) => `line ${i + 1}`).join('\n') + '\n',
      outputs: [{ guestPath: '/out/r|1.json', hostPath: '/x', bytes: 2048 }],
      outputIssues: [{ request: '/missing', path: null, reason: 'missing', message: '/missing: no such file' }],
    }));
    await run({ runImage: engine.runImage });
    const md = summary();
    expect(md).toContain('### ✅ vmstep: `docker.io/library/alpine:3.20` exited with 0');
    expect(md).toContain(`| Digest | \`sha256:${'d'.repeat(64)}\` |`);
    expect(md).toContain("| Command | `sh -c 'echo hello'` |");
    expect(md).toContain('| Exit code | 0 |');
    expect(md).toMatch(/\| phase \| time \| ms \|\n\| --- \| ---: \| ---: \|\n\| image \| 812 ms \| 812\.4 \|\n\| root filesystem \| 3 ms \| 3\.2 \|\n\| boot \| 96 ms \| 95\.6 \|\n\| command \| 12 ms \| 12\.3 \|\n\| total \| 950 ms \| 950\.2 \|/);
    expect(md).toContain('| `/out/r\\|1.json` | 2 KiB |');
    expect(md).toContain('- `/missing`: /missing: no such file');
    expect(md).toContain('#### stdout (last 40 lines)\n\n```text\nline 61\n');
    expect(md).toContain('line 100\n```');
    expect(engine.calls[0]).toMatchObject({ entrypoint: null, command: ['-c', 'echo hi'] });
  });

  it('volumes: one HOST_PATH:GUEST_PATH per line, relative host paths from the workspace', async () => {
    mkdirSync(join(dir, 'src'));
    inputs({ image: 'alpine:3.20', run: 'make', volumes: 'src:/src\n\n# a comment\n.:/workspace\n' });
    const engine = fakeEngine(async () => ({ timings: { imageMs: 1, rootfsMs: 2, volumesMs: 30.5, bootMs: 4, commandMs: 5, totalMs: 50 } }));
    await run({ runImage: engine.runImage });
    expect(process.exitCode).toBeUndefined();
    expect(summary()).toMatch(/^\| root filesystem \| .*\n\| volumes \| 31 ms \| 30\.5 \|\n\| boot \|/m);
    expect(JSON.parse(readFileSync(outputs().result!, 'utf8')).timings.volumesMs).toBe(30.5);
    expect(engine.calls[0]!.volumes).toEqual([
      { hostPath: join(dir, 'src'), guestPath: '/src', kind: 'dir' },
      { hostPath: dir, guestPath: '/workspace', kind: 'dir' },
    ]);
  });

  it('a bad volume fails the step with one error before any VM starts', async () => {
    inputs({ image: 'alpine:3.20', run: 'make', volumes: 'missing:/src' });
    const engine = fakeEngine(async () => ({}));
    await run({ runImage: engine.runImage });
    expect(process.exitCode).toBe(1);
    expect(engine.calls).toEqual([]);
    expect(step.log.match(/^::error::.*/gm)).toEqual([`::error::vmstep: input "volumes" "missing:/src": the host path ${join(dir, 'missing')} does not exist; check the path; relative paths start at ${dir}`]);
  });

  it('fails the step with an annotation when the command fails', async () => {
    inputs({ image: 'img' });
    await run({ runImage: fakeEngine(async () => ({ exitCode: 42 })).runImage });
    expect(process.exitCode).toBe(1);
    expect(outputs()['exit-code']).toBe('42');
    expect(step.log).toContain('::error::vmstep: the command exited with 42; see the step log and the stdout/stderr outputs (set allow-failure: true to let the job go on)\n');
    expect(summary()).toContain('### ❌ vmstep:');
  });

  it('only warns when allow-failure is set', async () => {
    inputs({ image: 'img', 'allow-failure': 'true' });
    await run({ runImage: fakeEngine(async () => ({ exitCode: 42 })).runImage });
    expect(process.exitCode).toBeUndefined();
    expect(step.log).toContain('::warning::vmstep: the command exited with 42; allowed to fail (allow-failure: true)\n');
    expect(summary()).toContain('| Exit code | 42 (allowed to fail) |');
  });

  it('reports a timeout as exit code 124 and timed-out true', async () => {
    inputs({ image: 'img', timeout: '30' });
    await run({ runImage: fakeEngine(async () => ({ exitCode: 124, timedOut: true })).runImage });
    expect(outputs()).toMatchObject({ 'exit-code': '124', 'timed-out': 'true' });
    expect(step.log).toContain('::error::vmstep: the command ran past the time limit of 30 s and the VM was stopped (exit code 124)');
    expect(summary()).toContain('timed out after 30 s (exit code 124)');
  });

  it('cuts big stdout to its last 32 KiB in the output, with a note, keeping the whole in stdout-file', async () => {
    inputs({ image: 'img' });
    const big = 'é'.repeat(40_000) + 'THE END\n'; // two-byte characters: the cut must not split one
    await run({ runImage: fakeEngine(async () => ({ stdout: big })).runImage });
    const out = outputs();
    const [note, ...rest] = out.stdout!.split('\n');
    const total = Buffer.byteLength(big);
    expect(note).toMatch(new RegExp(`^\\[vmstep: stdout cut to its last (${OUTPUT_TEXT_LIMIT}|${OUTPUT_TEXT_LIMIT - 1}) of ${total} bytes; all of it is in the stdout-file output\\]$`));
    expect(rest.join('\n')).toMatch(/^é+THE END\n?$/);
    expect(Buffer.byteLength(out.stdout!)).toBeLessThan(OUTPUT_TEXT_LIMIT + 200);
    expect(readFileSync(out['stdout-file']!, 'utf8')).toBe(big);
    expect(step.log).toContain(`::notice::vmstep: the stdout output holds the last ${OUTPUT_TEXT_LIMIT} of ${total} bytes`);
  });

  it('keeps workflow commands in guest output from taking effect, even without a final newline', async () => {
    inputs({ image: 'img' });
    await run({
      runImage: fakeEngine(async (_o, ev) => {
        ev.phaseStart?.('command', 'x');
        await ev.stdout?.(Buffer.from('::set-output name=exit-code::0\n::add-mask::x'));
        ev.phaseEnd?.('command', 1, 'exit 0');
        return {};
      }).runImage,
    });
    const m = /::stop-commands::([0-9a-f]{32})\n([\s\S]*?)::\1::\n/.exec(step.log);
    expect(m?.[2]).toBe('::set-output name=exit-code::0\n::add-mask::x\n');
  });

  it('masks the registry password before anything else and passes the credentials on', async () => {
    inputs({ image: 'ghcr.io/o/i:1', 'registry-username': 'me', 'registry-password': 's3cret' });
    const engine = fakeEngine(async () => ({}));
    await run({ runImage: engine.runImage });
    expect(step.log.startsWith('::add-mask::s3cret\n')).toBe(true);
    expect(engine.calls[0]!.credentials).toEqual({ username: 'me', password: 's3cret' });
  });

  it('records what the run holds in the state file while it runs, for the post step', async () => {
    inputs({ image: 'img' });
    let during = '';
    await run({
      runImage: fakeEngine(async (_o, ev) => {
        ev.resources?.({ scratchDir: '/tmp/vmstep-run-x', vmmPid: 4242, vmmStartTicks: 7 });
        during = readFileSync(join(dir, 'temp', 'vmstep-state', '__owner_vmstep.json'), 'utf8');
        ev.resources?.(null);
        return {};
      }).runImage,
    });
    expect(JSON.parse(during)).toEqual({ scratchDir: '/tmp/vmstep-run-x', vmmPid: 4242, vmmStartTicks: 7 });
    expect(readCommandFile(join(dir, 'state'))).toEqual({ 'state-file': join(dir, 'temp', 'vmstep-state', '__owner_vmstep.json') });
  });

  it('skips the artifact upload with a notice outside GitHub Actions', async () => {
    inputs({ image: 'img', 'artifact-name': 'bench-results' });
    const upload = vi.fn();
    await run({ runImage: fakeEngine(async () => ({ outputs: [{ guestPath: '/a', hostPath: '/x/a', bytes: 1 }] })).runImage, uploadArtifact: upload });
    expect(upload).not.toHaveBeenCalled();
    expect(step.log).toMatch(/::notice::vmstep: artifact upload skipped: not running on GitHub Actions \(no ACTIONS_RUNTIME_TOKEN\)/);
    expect(summary()).toContain('Not uploaded as an artifact');
  });

  it('uploads the returned files, logs and result as an artifact on GitHub', async () => {
    inputs({ image: 'img', 'artifact-name': 'bench-results', outputs: '/out' });
    Object.assign(process.env, { ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_RESULTS_URL: 'https://results', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '9' });
    const upload = vi.fn(async () => ({ id: 77 }));
    await run({
      runImage: fakeEngine(async (o) => {
        mkdirSync(join(o.outputDir, 'out'), { recursive: true });
        writeFileSync(join(o.outputDir, 'out', 'r.json'), '{}');
        return { outputs: [{ guestPath: '/out/r.json', hostPath: join(o.outputDir, 'out', 'r.json'), bytes: 2 }] };
      }).runImage,
      uploadArtifact: upload,
    });
    const [name, files, root] = upload.mock.calls[0] as unknown as [string, string[], string];
    expect(name).toBe('bench-results');
    expect(files.map((f) => f.slice(root.length + 1)).sort()).toEqual(['output/out/r.json', 'result.json', 'stderr.txt', 'stdout.txt']);
    expect(summary()).toContain('Uploaded as the artifact `bench-results` ([download](https://github.com/o/r/actions/runs/9/artifacts/77))');
  });

  it('fails with the cause and fix when vmstep itself fails', async () => {
    inputs({ image: 'img' });
    await run({
      runImage: async () => {
        throw new VmstepError('permission denied on /dev/kvm', 'add the runner user to the kvm group (sudo usermod -aG kvm runner) and restart the runner');
      },
    });
    expect(process.exitCode).toBe(1);
    expect(outputs()).toEqual({ 'exit-code': '125', 'timed-out': 'false' });
    expect(step.log).toContain('::error::vmstep: permission denied on /dev/kvm; add the runner user to the kvm group (sudo usermod -aG kvm runner) and restart the runner\n');
    expect(summary()).toContain('did not run');
  });

  it.each<[string, Record<string, string>, string]>([
    ['no image', {}, 'input "image" is required; set it, e.g. image: ghcr.io/owner/bench:latest'],
    ['a bad memory size', { image: 'img', memory: 'lots' }, 'input "memory" "lots" is not a size; write a positive number with a unit'],
    ['a bad vcpus count', { image: 'img', vcpus: 'two' }, 'input "vcpus" "two" is not a vCPU count; give a whole number from 1 to 32'],
    ['a bad timeout', { image: 'img', timeout: 'soon' }, 'input "timeout" "soon" is not a duration'],
    ['run and entrypoint together', { image: 'img', run: 'x', entrypoint: 'y' }, 'inputs "run" and "entrypoint" are both set'],
    ['a bad boolean', { image: 'img', 'allow-failure': 'maybe' }, 'input "allow-failure" is "maybe", not true or false; write allow-failure: true or allow-failure: false'],
    ['an unclosed quote in args', { image: 'img', args: '"abc' }, 'input "args" has an unclosed double quote'],
    ['a bad env line', { image: 'img', env: 'GOOD=1\nBAD NAME=2' }, 'input "env" line 2: variable name "BAD NAME" contains whitespace'],
    ['a password without a user name', { image: 'img', 'registry-password': 'p' }, 'registry credentials are incomplete: input "registry-username" is missing'],
    ['a relative workdir', { image: 'img', workdir: 'src' }, 'input "workdir" "src" is not an absolute path'],
    ['a bad artifact name', { image: 'img', 'artifact-name': 'a/b' }, 'input "artifact-name" "a/b" holds a character artifacts cannot have'],
    ['a bad threshold outside benchmark mode', { image: 'img', threshold: 'abc' }, 'input "threshold" "abc" is not a threshold; write a percentage such as 5%25, and NAME=PERCENT lines for single metrics'],
    ['a bad test outside benchmark mode', { image: 'img', test: 'chi' }, 'input "test" "chi" is not a test; use one of percentage, t-test, mann-whitney'],
  ])('refuses %s with one annotation and runs nothing', async (_what, values, message) => {
    inputs(values);
    const engine = fakeEngine(async () => ({}));
    await run({ runImage: engine.runImage });
    expect(engine.calls).toEqual([]);
    expect(process.exitCode).toBe(1);
    const errors = step.log.split('\n').filter((l) => l.startsWith('::error::'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`::error::vmstep: ${message}`);
    expect(outputs()['exit-code']).toBe('125');
  });

  it('names the image in the failure summary when another input is the bad one', async () => {
    inputs({ image: 'ghcr.io/o/bench:pr', 'allow-failure': 'maybe' });
    await run({ runImage: fakeEngine(async () => ({})).runImage });
    expect(process.exitCode).toBe(1);
    expect(summary()).toContain('`ghcr.io/o/bench:pr` did not run');
    expect(summary()).not.toContain('(no image)');
  });

  it('warns that benchmark settings do nothing when benchmark mode is off, and runs the command once', async () => {
    inputs({ image: 'img', test: 'mann-whitney', threshold: '10%', 'metrics-format': 'bmf', 'fail-on-regression': 'true' });
    const engine = fakeEngine(async () => ({}));
    await run({ runImage: engine.runImage });
    expect(engine.calls).toHaveLength(1);
    expect(step.log.split('\n').filter((l) => l.startsWith('::warning::'))).toEqual([
      '::warning::vmstep: input "threshold", input "fail-on-regression" and input "metrics-format" do nothing outside benchmark mode; turn it on with input "repeat" over 1, "warmup", a baseline or "metrics-file", or remove them',
    ]);
    expect(process.exitCode).toBeUndefined();
  });

  it('says nothing about benchmark inputs left at their defaults', async () => {
    inputs({ image: 'img', test: 'mann-whitney', threshold: '5', 'metrics-format': 'auto', 'fail-on-regression': 'false' });
    await run({ runImage: fakeEngine(async () => ({})).runImage });
    expect(step.log).not.toContain('::warning::');
  });
});
