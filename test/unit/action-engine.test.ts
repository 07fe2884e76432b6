// The action with the real engine: real image, real rootfs cache, real guest
// init (test mode standing in for the VM, as in engine-run.test.ts; the
// command runs on this host). Outputs, streaming order and big output as a
// workflow sees them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/action/main.js';
import { runImage } from '../../src/engine/run.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { guestInitBinary, testModeVm as makeTestModeVm } from '../helpers/guest-init.js';

const testModeVm = makeTestModeVm();

let work: string;
let log: string;
let savedEnv: NodeJS.ProcessEnv;
const summaryFile = join(mkdtempSync(join(tmpdir(), 'vmstep-action-engine-summary-')), 'summary');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'vmstep-action-engine-'));
  writeFileSync(join(work, 'vmlinux'), 'not booted in test mode');
});

beforeEach(() => {
  savedEnv = { ...process.env };
  const step = mkdtempSync(join(work, 'step-'));
  mkdirSync(join(step, 'temp'));
  writeFileSync(join(step, 'output'), '');
  writeFileSync(join(step, 'state'), '');
  writeFileSync(summaryFile, '');
  Object.assign(process.env, {
    GITHUB_OUTPUT: join(step, 'output'),
    GITHUB_STATE: join(step, 'state'),
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: step,
    RUNNER_TEMP: join(step, 'temp'),
    VMSTEP_CACHE: join(work, 'cache'),
    VMSTEP_INIT: guestInitBinary(),
    INPUT_KERNEL: join(work, 'vmlinux'),
  });
  log = '';
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      log += chunk.toString();
      return true;
    });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = savedEnv;
  process.exitCode = undefined;
});

// VMSTEP_CACHE and every step's RUNNER_TEMP are under work.
afterAll(() => rmSync(work, { recursive: true, force: true }));

function outputs(): Record<string, string> {
  const text = readFileSync(process.env.GITHUB_OUTPUT!, 'utf8');
  const out: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2\n/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) out[m[1]!] = m[3]!;
  return out;
}

function image(name: string, cmd: string[]): string {
  const dir = join(work, 'images', name);
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/hostname', content: 'fixture\n' }] }], config: { Cmd: cmd } });
  return `oci:${dir}`;
}

const engine: typeof runImage = (o, e, c) => runImage(o, e, { ...c, launchVm: testModeVm });

describe('the action on the real engine', () => {
  it('streams output in order, returns files and sets outputs from the real run', async () => {
    const guestDir = join(work, 'guest-files');
    process.env.INPUT_IMAGE = image('ordered', ['true']);
    process.env.INPUT_RUN = `mkdir -p ${guestDir}; echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three; printf 42 > ${guestDir}/result.txt; exit 42`;
    process.env.INPUT_OUTPUTS = `${guestDir}/result.txt`;
    process.env['INPUT_ALLOW-FAILURE'] = 'true';
    await run({ runImage: engine });
    expect(log.match(/::error::.*/g) ?? []).toEqual([]);
    expect(process.exitCode).toBeUndefined();
    const out = outputs();
    expect(out).toMatchObject({ 'exit-code': '42', 'timed-out': 'false', stdout: 'one\nthree\n', stderr: 'two\n' });
    expect(readFileSync(out['stdout-file']!, 'utf8')).toBe('one\nthree\n');
    expect(readFileSync(join(out['output-dir']!, guestDir, 'result.txt'), 'utf8')).toBe('42');
    expect(out['image-digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Number(out['boot-ms'])).toBeGreaterThan(0);
    const result = JSON.parse(readFileSync(out.result!, 'utf8'));
    expect(result).toMatchObject({ exitCode: 42, outputs: [{ guestPath: `${guestDir}/result.txt`, bytes: 2 }] });
    // The log holds the three lines in the order the command wrote them.
    expect(log.indexOf('one\n')).toBeLessThan(log.indexOf('two\n'));
    expect(log.indexOf('two\n')).toBeLessThan(log.indexOf('three\n'));
    expect(readFileSync(summaryFile, 'utf8')).toContain('exited with 42');
  });

  it('cuts a 1 MiB stdout in the output and keeps all of it in the file', async () => {
    process.env.INPUT_IMAGE = image('big', ['sh', '-c', 'head -c 1048576 /dev/zero | tr "\\0" x; echo; echo LAST']);
    await run({ runImage: engine });
    const out = outputs();
    expect(out['exit-code']).toBe('0');
    expect(out.stdout).toMatch(/^\[vmstep: stdout cut to its last 32768 of 1048582 bytes; all of it is in the stdout-file output\]\nx+\nLAST\n?$/);
    expect(readFileSync(out['stdout-file']!).length).toBe(1048582);
  });

  it('exits with 124 when the timeout stops the run', async () => {
    process.env.INPUT_IMAGE = image('slow', ['sh', '-c', 'sleep 30']);
    process.env.INPUT_TIMEOUT = '1';
    await run({ runImage: engine });
    expect(outputs()).toMatchObject({ 'exit-code': '124', 'timed-out': 'true' });
    expect(process.exitCode).toBe(1);
  });
});
