// `vmstep` as a user runs it: the built dist/cli.js as its own process, the
// bundled guest kernel booted by our VMM, images written from code as OCI
// layouts and archives, and one pulled from a real registry on loopback.
// Each VM boot is slow inside the emulated KVM host, so each run below checks
// several things; the bad inputs fail before any VM starts.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { reserveCapacity } from '../../src/engine/capacity.js';
import type { BuiltImage } from '../fixtures/oci-images.js';
import { writeBusyboxArchive, writeBusyboxLayout } from '../helpers/busybox-image.js';
import { cleanEnv, lineArrivedAt, runDist, startDist, tempDirForAnyone, type DistResult } from '../helpers/dist-process.js';
import { missingRegistryTools, startRegistry, type TestRegistry } from '../helpers/registry.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-cli-'));
const cache = join(work, 'cache');
const env = { ...cleanEnv(), VMSTEP_CACHE: cache };
const layout = join(work, 'image');
let image: BuiltImage;

beforeAll(() => {
  image = writeBusyboxLayout(layout, { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo image-cmd'], WorkingDir: '/work' });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const vmstep = (...args: string[]) => runDist('cli.js', args, { env });
/** Small VMs: the emulated KVM host has 4 GiB and two CPUs for everything. */
const SMALL = ['--memory', '256M', '--vcpus', '1'];
const runsLeft = () => (existsSync(join(cache, 'runs')) ? readdirSync(join(cache, 'runs')) : []);

describe('vmstep run: a command that exits 42, with the image ENTRYPOINT, env, outputs and a result file', () => {
  let run: DistResult;
  const outDir = join(work, 'out');
  const resultFile = join(work, 'result.json');
  const script = [
    'echo "first $GREETING"',
    'sleep 3',
    'echo to-stderr >&2',
    'mkdir -p results && printf \'{"ok":1}\' > results/r.json',
    'echo "second pwd=$(pwd)"',
    'exit 42',
  ].join('\n');

  beforeAll(async () => {
    run = await vmstep('run', ...SMALL, '-e', 'GREETING=hello', '--output', 'results/*.json', '--output-dir', outDir, '--result', resultFile, `oci:${layout}`, script);
  });

  test('exits with the command exit status, 42', () => {
    expect(run.code, run.stderr).toBe(42);
  });

  test('prints the guest stdout, and nothing else, on stdout: the COMMAND replaced CMD and kept ENTRYPOINT', () => {
    expect(run.stdout).toBe('first hello\nsecond pwd=/work\n');
  });

  test('streams stdout live: the first line arrives while the command still runs', () => {
    const first = lineArrivedAt(run, 'stdout', 'first hello');
    expect(first).toBeLessThan(lineArrivedAt(run, 'stdout', 'second pwd=/work') - 2000);
    expect(lineArrivedAt(run, 'stderr', 'to-stderr')).toBeGreaterThan(first + 2000);
  });

  test('keeps guest stderr apart, on stderr, with vmstep phase lines and the final status', () => {
    expect(run.stderr).toContain('to-stderr\n');
    expect(run.stderr).toMatch(/^vmstep: image {3}oci:.* sha256:[0-9a-f]{64} \(/m);
    expect(run.stderr).toMatch(/^vmstep: rootfs /m);
    expect(run.stderr).toMatch(/^vmstep: boot {4}/m);
    expect(run.stderr).toMatch(/^vmstep: exit 42; command .*, boot .*, total /m);
    expect(run.stderr).toMatch(/^vmstep: 1 file \(8 B\) in /m);
  });

  test('brings the output file back under the output directory at its guest path', () => {
    expect(readFileSync(join(outDir, 'work', 'results', 'r.json'), 'utf8')).toBe('{"ok":1}');
  });

  test('writes the result JSON with the exit code, the image digest, the outputs and the timings', () => {
    const r = JSON.parse(readFileSync(resultFile, 'utf8'));
    expect(r).toMatchObject({ exitCode: 42, signal: null, timedOut: false, image: { digest: image.manifest.digest } });
    expect(r.image.reference).toContain(layout);
    expect(r.outputs).toEqual([{ guestPath: '/work/results/r.json', hostPath: join(outDir, 'work', 'results', 'r.json'), bytes: 8 }]);
    for (const key of ['imageMs', 'rootfsMs', 'bootMs', 'commandMs', 'totalMs']) expect(r.timings[key], key).toBeGreaterThan(0);
    expect(r.timings.commandMs).toBeGreaterThanOrEqual(3000);
    expect(r.timings.totalMs).toBeGreaterThan(r.timings.bootMs + r.timings.commandMs);
  });

  test('leaves no per-run disk copy behind', () => {
    expect(runsLeft()).toEqual([]);
  });
});

describe('vmstep run --timeout on an OCI archive', () => {
  let run: DistResult;
  const archive = join(work, 'image.tar');
  beforeAll(async () => {
    writeBusyboxArchive(archive);
    // Generous: the limit covers the boot too, which takes seconds inside the emulated host.
    run = await vmstep('run', '--quiet', ...SMALL, '--timeout', '25', `oci-archive:${archive}`, 'sh', '-c', 'echo started; sleep 600');
  });

  test('stops the VM at the limit and exits 124', () => {
    expect(run.code, run.stderr).toBe(124);
  });

  test('had streamed the output before the limit, and says in one line, even with --quiet, why it stopped', () => {
    expect(run.stdout).toBe('started\n');
    expect(run.stderr).toBe('vmstep: the command ran past the time limit of 25 s and the VM was stopped (exit status 124)\n');
  });

  test('leaves no per-run disk copy behind', () => {
    expect(runsLeft()).toEqual([]);
  });
});

describe.skipIf(missingRegistryTools().length > 0)('vmstep pull and run from a registry', () => {
  let registry: TestRegistry;
  let pull: DistResult;
  let run: DistResult;
  let absent: DistResult;
  beforeAll(async () => {
    registry = await startRegistry(join(work, 'registry'));
    await registry.push(`oci:${layout}:latest`, 'e2e/busybox:1');
    pull = await vmstep('pull', '--quiet', `${registry.host}/e2e/busybox:1`);
    run = await vmstep('run', '--quiet', ...SMALL, '--entrypoint', '', `${registry.host}/e2e/busybox:1`, 'echo', 'from-registry');
    absent = await vmstep('run', ...SMALL, `${registry.host}/e2e/absent:1`, 'true');
  });
  afterAll(() => registry?.stop());

  test('pull prints the image digest and nothing else', () => {
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout).toBe(`${image.manifest.digest}\n`);
  });

  test('run exits 0 with only the command output, the entrypoint cleared by --entrypoint ""', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('from-registry\n');
    expect(run.stderr).toBe('');
  });

  test('an image the registry does not have is one error line and exit 125', () => {
    expect(absent.code).toBe(125);
    expect(absent.stderr).toMatch(/^vmstep: error: .*e2e\/absent.*\n$/);
    expect(absent.stderr.split('\n')).toHaveLength(2);
  });
});

describe('vmstep: bad input is one error line naming the cause, and exit 125, before any VM starts', () => {
  const oneError = (r: DistResult, pattern: RegExp) => {
    expect(r.code, r.stderr).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(pattern);
  };

  test('a missing OCI layout', async () => {
    oneError(await vmstep('run', `oci:${join(work, 'no-such-layout')}`, 'true'), /^vmstep: error: .*no-such-layout/);
  });

  test('a bad memory size', async () => {
    oneError(await vmstep('run', '--memory', '12X', `oci:${layout}`, 'true'), /^vmstep: error: --memory "12X" is not a size; write a positive number with a unit/);
  });

  test('an unknown option', async () => {
    oneError(await vmstep('run', '--frob', `oci:${layout}`, 'true'), /^vmstep: error: unknown option --frob for "vmstep run"; see "vmstep run --help"/);
  });

  const nobody = 65534;
  test.skipIf(process.getuid?.() !== 0)('a /dev/kvm this user cannot open (run as nobody), where doctor names the fix', async () => {
    // The premise: /dev/kvm is not open to everyone (devtmpfs makes it 0600 root; distributions 0660 root:kvm).
    expect(statSync('/dev/kvm').mode & 0o006).toBe(0);
    const own = tempDirForAnyone('vmstep-e2e-nobody-');
    // An image this user can read: only /dev/kvm is out of reach.
    writeBusyboxLayout(join(own, 'image'));
    const asNobody = { env: { ...cleanEnv(), VMSTEP_CACHE: join(own, 'cache'), TMPDIR: own, HOME: own, USER: 'nobody', LOGNAME: 'nobody' }, uid: nobody, gid: nobody };
    try {
      const run = await runDist('cli.js', ['run', `oci:${join(own, 'image')}`, 'true'], asNobody);
      // The fix follows the device: root-only (devtmpfs's 0600 root:root) takes a udev rule, 0660 root:kvm the group.
      const dev = statSync('/dev/kvm');
      const fix = (dev.mode & 0o060) === 0o060 && dev.gid !== 0 ? 'add nobody to the \\w+ group, which may read and write /dev/kvm: sudo usermod -aG \\w+ nobody' : "only root may open it; open it to the runner with a udev rule: echo 'KERNEL==\"kvm\"";
      oneError(run, new RegExp(`^vmstep: error: permission denied on /dev/kvm \\(c[-rw]{6}--- \\w+:\\w+\\); ${fix}`));
      const doctor = await runDist('cli.js', ['doctor'], asNobody);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(new RegExp(`^FAIL +/dev/kvm +present \\(c[-rw]{6}--- \\w+:\\w+\\), but nobody cannot open it \\(EACCES\\)\\n +fix: ${fix}`, 'm'));
      expect(`${run.stderr}${doctor.stdout}`).not.toContain('$USER');
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });
});

test("a run beyond the host's capacity fails at once naming who holds it; with --wait it boots as soon as the holder lets go", async () => {
  const pool = { ...env, VMSTEP_CAPACITY_DIR: join(work, 'capacity'), VMSTEP_MAX_VCPUS: '1', VMSTEP_MAX_MEMORY: '1G' };
  const holder = await reserveCapacity({ vcpus: 1, memoryMiB: 256, label: 'e2e holder', env: pool });
  try {
    const refused = await runDist('cli.js', ['run', ...SMALL, `oci:${layout}`, 'true'], { env: pool });
    expect(refused.code, refused.stderr).toBe(125);
    expect(refused.stderr).toMatch(/^vmstep: error: not enough capacity: asked 1 vCPU and 256 MiB, in use 1 of 1 vCPU and 256 MiB of 1 GiB by e2e holder \(\w+\); stop some of them, raise VMSTEP_MAX_VCPUS, or wait in line with --wait\n$/m);
    expect(runsLeft()).toEqual([]);
    const waiting = startDist('cli.js', ['run', '--wait=5m', ...SMALL, `oci:${layout}`, 'echo ran'], { env: pool });
    await waiting.waitFor('stderr', /^vmstep: waiting for capacity: asked 1 vCPU and 256 MiB, in use 1 of 1 vCPU/m);
    holder.release();
    const r = await waiting.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('ran\n');
    // The run gave its share back.
    expect(readdirSync(pool.VMSTEP_CAPACITY_DIR).filter((n) => n.startsWith('r-'))).toEqual([]);
  } finally {
    holder.release();
  }
});

test('with --debug the guest console shows on stderr; Ctrl-C (SIGINT) stops the VM and exits 130', async () => {
  const p = startDist('cli.js', ['run', '--debug', ...SMALL, `oci:${layout}`, 'echo running; sleep 600'], { env });
  await p.waitFor('stdout', /running/);
  p.child.kill('SIGINT');
  const r = await p.done;
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr).toMatch(/^vmstep: cancelled; the VM was stopped\n$/m);
  expect(r.stderr).toMatch(/Linux version 6\.1\./);
  expect(r.stdout).toBe('running\n');
  expect(runsLeft()).toEqual([]);
});

describe('vmstep doctor, cache ls and cache prune after the runs above', () => {
  test('doctor finds a KVM that runs Linux and exits 0', async () => {
    const r = await vmstep('doctor');
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok +\/dev\/kvm +present, readable and writable by this user$/m);
    expect(r.stdout).toMatch(/^vmstep can run here/m);
  });

  test('cache ls lists the root filesystems built and the unpacked kernel; prune removes them', async () => {
    const ls = await vmstep('cache', 'ls', '--json');
    expect(ls.code, ls.stderr).toBe(0);
    const kinds = (JSON.parse(ls.stdout) as { entries: { kind: string }[] }).entries.map((e) => e.kind);
    expect(kinds).toContain('rootfs');
    expect(kinds).toContain('kernel');
    const prune = await vmstep('cache', 'prune');
    expect(prune.code, prune.stderr).toBe(0);
    expect(prune.stdout).toMatch(/^removed \d+ entries \(.*\); 0 B left in /);
    const after = JSON.parse((await vmstep('cache', 'ls', '--json')).stdout) as { entries: unknown[] };
    expect(after.entries).toEqual([]);
  });
});
