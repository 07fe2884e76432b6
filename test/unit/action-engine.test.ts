// The action with the real engine: real image, real rootfs cache, real guest
// init (test mode standing in for the VM, as in engine-run.test.ts; the
// command runs on this host). Outputs, streaming order and big output as a
// workflow sees them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/action/main.js';
import { runImage } from '../../src/engine/run.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { inProcessStep, type InProcessStep } from '../helpers/action-step.js';
import { guestInitBinary, testModeVm as makeTestModeVm } from '../helpers/guest-init.js';

const testModeVm = makeTestModeVm();

let work: string;
let step: InProcessStep;
const summaryFile = join(mkdtempSync(join(tmpdir(), 'vmstep-action-engine-summary-')), 'summary');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'vmstep-action-engine-'));
  writeFileSync(join(work, 'vmlinux'), 'not booted in test mode');
});

beforeEach(() => {
  step = inProcessStep(work, summaryFile, {
    VMSTEP_CACHE: join(work, 'cache'),
    VMSTEP_INIT: guestInitBinary(),
    INPUT_KERNEL: join(work, 'vmlinux'),
  });
});

afterEach(() => step.restore());

// VMSTEP_CACHE and every step's RUNNER_TEMP are under work.
afterAll(() => rmSync(work, { recursive: true, force: true }));

const outputs = () => step.outputs();

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
    expect(step.log.match(/::error::.*/g) ?? []).toEqual([]);
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
    expect(step.log.indexOf('one\n')).toBeLessThan(step.log.indexOf('two\n'));
    expect(step.log.indexOf('two\n')).toBeLessThan(step.log.indexOf('three\n'));
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
