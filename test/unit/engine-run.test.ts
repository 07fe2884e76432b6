// runImage end to end without KVM: the real image reader, the real rootfs
// cache and the real guest init (in its Unix-socket test mode, standing in
// for the VM; the command then runs on this host). Only the VMM is replaced,
// by a launcher that starts guest init as a process.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capacityStatus, reserveCapacity } from '../../src/engine/capacity.js';
import { VmstepError } from '../../src/engine/errors.js';
import { RunCancelledError, runImage } from '../../src/engine/run.js';
import type { RunEvents, RunInput, RunResources } from '../../src/engine/types.js';
import { validateRunInput } from '../../src/engine/validate.js';
import type { LaunchVm, VmExit } from '../../src/engine/vm-port.js';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { guestInitBinary, testModeHost } from '../helpers/guest-init.js';

let work: string;
let kernel: string;
const launched: { pid: number; killed: boolean }[] = [];

/** A "VM" that is guest init in test mode, connected to the run's vsock socket. */
const testModeVm: LaunchVm = async (o) => {
  const child = spawn(guestInitBinary(), [], { env: { VMSTEP_INIT_SOCKET: `${o.vsockUdsPath}_1024` }, stdio: ['ignore', 'ignore', 'pipe'] });
  let console = '';
  child.stderr.on('data', (d: Buffer) => (console += d.toString()));
  const record = { pid: child.pid!, killed: false };
  launched.push(record);
  const exited = new Promise<VmExit>((resolve) =>
    child.on('close', (code, signal) => resolve({ reason: signal ? 'killed' : code === 0 ? 'poweroff' : 'error', detail: signal ?? `exit ${code}`, consoleTail: console })),
  );
  return {
    pid: child.pid!,
    exited,
    kill: () => {
      record.killed = true;
      child.kill('SIGKILL');
    },
  };
};

/** A "VM" whose guest never connects: the VMM dies during boot. */
const crashingVm: LaunchVm = async () => {
  const child = spawn('sh', ['-c', 'exit 3']);
  return {
    pid: child.pid!,
    exited: new Promise((resolve) => child.on('close', () => resolve({ reason: 'panic', detail: 'Kernel panic - not syncing: VFS: Unable to mount root fs', consoleTail: 'booting\nKernel panic - not syncing: VFS\n' }))),
    kill: () => child.kill('SIGKILL'),
  };
};

function image(name: string, config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[] }): string {
  const dir = join(work, 'images', name);
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/os-release', content: 'ID=fixture\n' }] }], config });
  return `oci:${dir}`;
}

function options(input: Partial<RunInput> & { image: string }) {
  return validateRunInput({ cacheDir: join(work, 'cache'), scratchRoot: join(work, 'scratch'), kernel, outputDir: join(work, 'out'), ...input }, { style: 'cli', cwd: work });
}

function recorder() {
  const log: string[] = [];
  let stdout = '';
  let stderr = '';
  const resources: (RunResources | null)[] = [];
  const events: RunEvents = {
    phaseStart: (p) => log.push(`start ${p}`),
    phaseEnd: (p) => log.push(`end ${p}`),
    stdout: (c) => void (stdout += c.toString()),
    stderr: (c) => void (stderr += c.toString()),
    resources: (r) => resources.push(r),
  };
  return { events, log, resources, out: () => stdout, err: () => stderr };
}

beforeAll(() => {
  ({ work, kernel } = testModeHost('vmstep-engine-run-'));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('runImage', () => {
  it('refuses a cache directory that is a file, naming VMSTEP_CACHE and the fix, before anything runs', async () => {
    const file = join(work, 'cache-is-a-file');
    writeFileSync(file, '');
    const rec = recorder();
    await expect(runImage(options({ image: image('cache-file', { Cmd: ['true'] }), cacheDir: file }), rec.events, { launchVm: testModeVm })).rejects.toThrow(
      `the cache directory ($VMSTEP_CACHE, default ~/.cache/vmstep) cannot be used: ${file} is not a directory`,
    );
    expect(rec.log).toEqual([]);
  });

  it("runs the image's command, streams its output, returns its exit code and cleans up", async () => {
    const ref = image('exit42', { Entrypoint: ['sh', '-c'], Cmd: ['echo out; echo err >&2; exit 42'], Env: ['FROM_IMAGE=1'] });
    const rec = recorder();
    const logDir = join(work, 'logs1');
    const r = await runImage(options({ image: ref, logDir }), rec.events, { launchVm: testModeVm });
    expect(r).toMatchObject({ exitCode: 42, signal: null, timedOut: false, command: ['sh', '-c', 'echo out; echo err >&2; exit 42'], stdoutBytes: 4, stderrBytes: 4 });
    expect(r.image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(rec.out()).toBe('out\n');
    expect(rec.err()).toBe('err\n');
    expect(readFileSync(r.stdoutFile!, 'utf8')).toBe('out\n');
    expect(readFileSync(r.stderrFile!, 'utf8')).toBe('err\n');
    expect(rec.log).toEqual(['start image', 'end image', 'start rootfs', 'end rootfs', 'start boot', 'end boot', 'start command', 'end command']);
    for (const k of ['imageMs', 'rootfsMs', 'bootMs', 'commandMs', 'totalMs'] as const) expect(r.timings[k]).toBeGreaterThan(0);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.imageMs + r.timings.rootfsMs + r.timings.bootMs);

    // What the run held was reported, then released: scratch dir, VMM, the disk copy.
    const held = rec.resources.find((x) => x?.vmmPid !== undefined)!;
    expect(held.vmmPid).toBe(launched.at(-1)!.pid);
    expect(rec.resources.at(-1)).toBeNull();
    expect(existsSync(held.scratchDir)).toBe(false);
    expect(readdirSync(join(work, 'cache', 'runs'))).toEqual([]);
  });

  it('replaces CMD with the command and keeps ENTRYPOINT, and applies env on top of the image', async () => {
    const ref = image('echo', { Entrypoint: ['sh', '-c'], Cmd: ['echo image cmd'], Env: ['A=image', 'B=image'] });
    const rec = recorder();
    const r = await runImage(options({ image: ref, command: ['echo "$A $B"'], env: ['B=user'] }), rec.events, { launchVm: testModeVm });
    expect(r.exitCode).toBe(0);
    expect(rec.out()).toBe('image user\n');
  });

  it('brings back requested outputs under the output directory', async () => {
    const guestDir = join(work, 'guest-out');
    const ref = image('outputs', { Cmd: ['sh', '-c', `mkdir -p ${guestDir} && printf 12345 > ${guestDir}/a.txt && printf x > ${guestDir}/b.log`] });
    const r = await runImage(options({ image: ref, outputs: [`${guestDir}/*.txt`, '/nonexistent/file'], outputDir: join(work, 'returned') }), {}, { launchVm: testModeVm });
    expect(r.outputs).toEqual([{ guestPath: `${guestDir}/a.txt`, hostPath: join(work, 'returned', guestDir, 'a.txt'), bytes: 5 }]);
    expect(readFileSync(r.outputs[0]!.hostPath, 'utf8')).toBe('12345');
    expect(r.outputIssues).toMatchObject([{ request: '/nonexistent/file', reason: 'missing' }]);
  });

  it('stops the VM at the time limit and reports 124', async () => {
    const ref = image('sleep', { Cmd: ['sh', '-c', 'echo started; sleep 30'] });
    const rec = recorder();
    const t0 = Date.now();
    const r = await runImage(options({ image: ref, timeout: '1' }), rec.events, { launchVm: testModeVm });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r).toMatchObject({ exitCode: 124, timedOut: true });
    expect(launched.at(-1)!.killed).toBe(true);
    expect(rec.resources.at(-1)).toBeNull();
  });

  it('stops the VM when cancelled', async () => {
    const ref = image('cancel', { Cmd: ['sh', '-c', 'echo ready; sleep 30'] });
    const controller = new AbortController();
    const events: RunEvents = { stdout: () => controller.abort() };
    await expect(runImage(options({ image: ref }), events, { launchVm: testModeVm, signal: controller.signal })).rejects.toBeInstanceOf(RunCancelledError);
    expect(launched.at(-1)!.killed).toBe(true);
  });

  it('does not wait for a consumer that stopped reading when the run is cancelled', async () => {
    const ref = image('stuck-reader', { Cmd: ['sh', '-c', 'yes'] });
    const controller = new AbortController();
    // A consumer that never takes more: the guest is held, as by a closed pipe.
    const events: RunEvents = {
      stdout: () => {
        setTimeout(() => controller.abort(), 100);
        return new Promise<void>(() => {});
      },
    };
    const t0 = Date.now();
    await expect(runImage(options({ image: ref }), events, { launchVm: testModeVm, signal: controller.signal })).rejects.toBeInstanceOf(RunCancelledError);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('says why when the VM stops before guest init connects', async () => {
    const ref = image('crash', { Cmd: ['true'] });
    const err = await runImage(options({ image: ref }), {}, { launchVm: crashingVm }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmstepError);
    expect((err as VmstepError).oneLine()).toBe(
      'the VM stopped before guest init connected (panic: Kernel panic - not syncing: VFS: Unable to mount root fs; console: Kernel panic - not syncing: VFS); the guest kernel panicked: run again with --debug to see its console; give it more --memory if it ran out',
    );
  });

  it('refuses an image with no command before booting anything', async () => {
    const ref = image('nocmd', {});
    const before = launched.length;
    const err = await runImage(options({ image: ref }), {}, { launchVm: testModeVm }).catch((e: unknown) => e);
    expect((err as VmstepError).oneLine()).toBe('no command to run: the image has neither ENTRYPOINT nor CMD; give a command');
    expect(launched.length).toBe(before);
  });

  it('refuses a scratch directory too deep for a Unix socket before doing anything', async () => {
    const deep = join(work, 'd'.repeat(60), 'e'.repeat(40));
    mkdirSync(deep, { recursive: true });
    const err = await runImage({ ...options({ image: 'oci:/nonexistent' }), scratchRoot: deep }, {}, { launchVm: testModeVm }).catch((e: unknown) => e);
    expect((err as VmstepError).oneLine()).toMatch(/^the scratch directory .* is too deep for a Unix socket path \(at most 107 bytes\); set TMPDIR to a shorter directory, such as \/tmp$/);
    expect(readdirSync(deep)).toEqual([]);
  });

  it('fails on a missing image with its reason and leaves no scratch directory behind', async () => {
    const err = await runImage(options({ image: `oci:${join(work, 'nope')}` }), {}, { launchVm: testModeVm }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/nope does not exist/);
    expect(readdirSync(join(work, 'scratch'))).toEqual([]);
  });

  it('names a mistyped local image path before it checks KVM, on any host', async () => {
    const missing = await runImage(options({ image: `oci-archive:${join(work, 'nope.tar')}` })).catch((e: unknown) => e);
    expect((missing as Error).message).toBe(`image oci-archive:${join(work, 'nope.tar')}: ${join(work, 'nope.tar')} does not exist; oci-archive: names an OCI archive (a tar file): check the path`);
    const directory = await runImage(options({ image: `docker-archive:${work}` })).catch((e: unknown) => e);
    expect((directory as Error).message).toContain(`${work} is not a docker save archive (a tar file)`);
  });
});

describe("runImage and the host's capacity", () => {
  /** Runs fn with a budget of 2 vCPUs and 2 GiB (this file's own pool, test/helpers/capacity-pool.ts). */
  async function withBudget(fn: () => Promise<void>): Promise<void> {
    process.env.VMSTEP_MAX_VCPUS = '2';
    process.env.VMSTEP_MAX_MEMORY = '2G';
    try {
      await fn();
    } finally {
      delete process.env.VMSTEP_MAX_VCPUS;
      delete process.env.VMSTEP_MAX_MEMORY;
    }
  }

  it("holds the VM's share while it runs, named after the image, and gives it back after", async () => {
    await withBudget(async () => {
      const ref = image('capacity-held', { Cmd: ['true'] });
      const rec = recorder();
      let during: ReturnType<typeof capacityStatus> | null = null;
      rec.events.phaseEnd = (p) => {
        if (p === 'boot') during = capacityStatus();
      };
      const r = await runImage(options({ image: ref, vcpus: 2, memory: '512M' }), rec.events, { launchVm: testModeVm });
      expect(r.exitCode).toBe(0);
      expect(during!.holders).toEqual([{ label: expect.stringMatching(/^vmstep run oci:.*capacity-held$/), vcpus: 2, memoryMiB: 512, pid: process.pid, user: expect.any(String) }]);
      expect(capacityStatus().holders).toEqual([]);
    });
  });

  it('refuses at once, before booting, a VM that does not fit, naming who holds the capacity', async () => {
    await withBudget(async () => {
      const web = await reserveCapacity({ vcpus: 1, memoryMiB: 1024, label: 'vm web' });
      try {
        const rec = recorder();
        const before = launched.length;
        const err = await runImage(options({ image: image('capacity-full', { Cmd: ['true'] }), vcpus: 2 }), rec.events, { launchVm: testModeVm }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(VmstepError);
        expect((err as VmstepError).oneLine()).toMatch(/^not enough capacity: asked 2 vCPUs and 1 GiB, in use 1 of 2 vCPUs and 1 GiB of 2 GiB by vm web \(\w+\); stop some of them, raise VMSTEP_MAX_VCPUS, or wait in line with --wait$/);
        expect(rec.log).not.toContain('start boot');
        expect(launched.length).toBe(before);
        expect(readdirSync(join(work, 'scratch'))).toEqual([]);
      } finally {
        web.release();
      }
    });
  });

  it('waits in line when asked, says so, and boots as soon as the share is free', async () => {
    await withBudget(async () => {
      const web = await reserveCapacity({ vcpus: 2, memoryMiB: 64, label: 'vm web' });
      const progress: string[] = [];
      const rec = recorder();
      rec.events.waiting = (m) => progress.push(m);
      const run = runImage(options({ image: image('capacity-wait', { Cmd: ['true'] }), vcpus: 2, wait: '30s' }), rec.events, { launchVm: testModeVm });
      await new Promise((r) => setTimeout(r, 500));
      expect(progress).toEqual([expect.stringMatching(/^waiting for capacity: asked 2 vCPUs and 1 GiB, in use 2 of 2 vCPUs and 64 MiB of 2 GiB by vm web/)]);
      expect(rec.log).not.toContain('start boot');
      const freed = Date.now();
      web.release();
      expect((await run).exitCode).toBe(0);
      // Boot and command included, well within the poll interval's reach.
      expect(Date.now() - freed).toBeLessThan(10_000);
      expect(capacityStatus().holders).toEqual([]);
    });
  });

  it('is cancelled while it waits in line, leaving no place in line behind', async () => {
    await withBudget(async () => {
      const web = await reserveCapacity({ vcpus: 2, memoryMiB: 64, label: 'vm web' });
      try {
        const controller = new AbortController();
        const run = runImage(options({ image: image('capacity-cancel', { Cmd: ['true'] }), wait: true }), {}, { launchVm: testModeVm, signal: controller.signal });
        await new Promise((r) => setTimeout(r, 500));
        expect(capacityStatus().waiting).toHaveLength(1);
        controller.abort();
        await expect(run).rejects.toBeInstanceOf(RunCancelledError);
        expect(capacityStatus().waiting).toEqual([]);
        expect(readdirSync(join(work, 'scratch'))).toEqual([]);
      } finally {
        web.release();
      }
    });
  });
});
