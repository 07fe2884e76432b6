import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { reserveCapacity } from '../../src/engine/capacity.js';
import { VmstepError } from '../../src/engine/errors.js';
import { RunCancelledError } from '../../src/engine/run.js';
import type { RunEvents, RunOptions, RunResult } from '../../src/engine/types.js';
import { Capture } from '../helpers/capture.js';

function result(over: Partial<RunResult> = {}): RunResult {
  return {
    exitCode: 0,
    signal: null,
    timedOut: false,
    image: { reference: 'docker.io/library/alpine:3.20', digest: 'sha256:' + 'a'.repeat(64) },
    command: ['ls', '-la'],
    outputs: [],
    outputIssues: [],
    timings: { imageMs: 10, rootfsMs: 2, bootMs: 90, commandMs: 12.5, totalMs: 130 },
    stdoutFile: null,
    stderrFile: null,
    stdoutBytes: 0,
    stderrBytes: 0,
    outputDir: '/work/vmstep-output',
    ...over,
  };
}

type Script = (options: RunOptions, events: RunEvents) => Promise<RunResult>;

function harness(script: Script = async () => result()) {
  const stdout = new Capture();
  const stderr = new Capture();
  const seen: RunOptions[] = [];
  const cwd = mkdtempSync(join(tmpdir(), 'vmstep-cli-'));
  const h = { lastSignal: undefined as AbortSignal | undefined };
  const io: CliIo = {
    stdout,
    stderr,
    cwd,
    env: { PATH: process.env.PATH, HOST_VAR: 'from-host' },
    runImage: async (options, events = {}, control = {}) => {
      seen.push(options);
      h.lastSignal = control.signal;
      return script(options, events);
    },
  };
  return Object.assign(h, { io, stdout, stderr, seen, cwd, run: (...argv: string[]) => main(argv, io) });
}

describe('vmstep run: docker run semantics', () => {
  it('keeps the flags after the image for the command', async () => {
    const h = harness();
    expect(await h.run('run', 'alpine:3.20', 'ls', '-la')).toBe(0);
    expect(h.seen[0]).toMatchObject({ image: 'alpine:3.20', command: ['ls', '-la'], entrypoint: null });
  });

  it('reads options only before the image, in every spelling', async () => {
    const h = harness();
    await h.run('run', '-e', 'A=1', '-eB=2', '--env=C=3', '--env', 'HOST_VAR', '-m', '2G', '--vcpus=1', '-qw', '/src', 'img', 'sh', '-c', 'echo $A', '--memory', '5', '-e', 'X=1');
    expect(h.seen[0]).toMatchObject({ image: 'img', env: ['A=1', 'B=2', 'C=3', 'HOST_VAR=from-host'], memoryMiB: 2048, vcpus: 1, workdir: '/src', command: ['sh', '-c', 'echo $A', '--memory', '5', '-e', 'X=1'] });
  });

  it('treats everything after -- as the image and its command', async () => {
    const h = harness();
    await h.run('run', '--', 'img', '--help');
    expect(h.seen[0]).toMatchObject({ image: 'img', command: ['--help'] });
  });

  it('takes --entrypoint as one program, and "" as clearing it', async () => {
    const h = harness();
    await h.run('run', '--entrypoint', '/bin/sh', 'img', '-c', 'true');
    await h.run('run', '--entrypoint', '', 'img', 'true');
    expect(h.seen.map((o) => [o.entrypoint, o.command])).toEqual([
      [['/bin/sh'], ['-c', 'true']],
      [[], ['true']],
    ]);
  });

  it.each([
    [['--wait'], Infinity],
    [['--wait=0'], Infinity],
    [['--wait=90s'], 90_000],
    [['--wait=1.5'], 1500],
    [[], undefined],
  ])('takes %j as how long to wait in line for capacity, never the image as its value', async (flags, ms) => {
    const h = harness();
    expect(await h.run('run', ...flags, 'img', 'true')).toBe(0);
    expect(h.seen[0]!.capacityWaitMs).toBe(ms);
    expect(h.seen[0]).toMatchObject({ image: 'img', command: ['true'] });
  });

  it('refuses a --wait that is not a duration in one line', async () => {
    const h = harness();
    expect(await h.run('run', '--wait=soon', 'img')).toBe(125);
    expect(h.stderr.text).toBe('vmstep: error: --wait "soon" is not a duration; write seconds (30, 1.5) or a number with units (500ms, 90s, 5m, 1h30m); 0 means no limit\n');
  });

  it('says on stderr what a run waits for while it waits in line', async () => {
    const h = harness(async (_o, ev) => {
      ev.waiting?.('waiting for capacity: asked 2 vCPUs and 1 GiB, in use 8 of 8 vCPUs and 2 GiB of 21 GiB by vm web (alice)');
      return result();
    });
    expect(await h.run('run', '--wait', 'img')).toBe(0);
    expect(h.stderr.text).toContain('vmstep: waiting for capacity: asked 2 vCPUs and 1 GiB, in use 8 of 8 vCPUs and 2 GiB of 21 GiB by vm web (alice)\n');
  });

  it('passes every other option through typed', async () => {
    const h = harness();
    await h.run('run', '--disk', '1G', '--timeout', '5m', '--output', '/out/a.json', '--output', '/out/*.txt', '--output-dir', 'res', '--privileged', '--debug', '-u', 'bench', '--rm', 'img');
    expect(h.seen[0]).toMatchObject({ diskBytes: 2 ** 30, timeoutMs: 300_000, outputs: ['/out/a.json', '/out/*.txt'], outputDir: join(h.cwd, 'res'), privileged: true, debug: true, user: 'bench' });
  });
});

describe('vmstep run: output and exit status', () => {
  it('streams guest stdout and stderr to its own, and its phases to stderr', async () => {
    const h = harness(async (_o, ev) => {
      ev.phaseEnd?.('image', 812, 'sha256:abc');
      ev.phaseEnd?.('boot', 95, 'VMM pid 1');
      await ev.stdout?.(Buffer.from('out 1\n'));
      await ev.stderr?.(Buffer.from('err 1\n'));
      await ev.stdout?.(Buffer.from('out 2\n'));
      return result({ exitCode: 3 });
    });
    expect(await h.run('run', 'img')).toBe(3);
    expect(h.stdout.text).toBe('out 1\nout 2\n');
    expect(h.stderr.text).toMatch(/^vmstep: image   sha256:abc \(812 ms\)\nvmstep: boot    VMM pid 1 \(95 ms\)\nerr 1\nvmstep: exit 3; command 13 ms, boot 90 ms, total 130 ms\n$/);
  });

  it('prints nothing of its own with --quiet', async () => {
    const h = harness(async (_o, ev) => {
      ev.phaseEnd?.('image', 1, 'x');
      await ev.stdout?.(Buffer.from('only this'));
      return result({ exitCode: 42 });
    });
    expect(await h.run('run', '-q', 'img')).toBe(42);
    expect(h.stdout.text).toBe('only this');
    expect(h.stderr.text).toBe('');
  });

  it('exits 124 on a timeout and says so even when quiet', async () => {
    const h = harness(async () => result({ exitCode: 124, timedOut: true }));
    expect(await h.run('run', '-q', '--timeout', '2', 'img')).toBe(124);
    expect(h.stderr.text).toBe('vmstep: the command ran past the time limit of 2 s and the VM was stopped (exit status 124)\n');
  });

  it('exits 125 with one line when the engine fails', async () => {
    const h = harness(async () => {
      throw new VmstepError('permission denied on /dev/kvm', 'add the user to the kvm group (sudo usermod -aG kvm USER)');
    });
    expect(await h.run('run', 'img')).toBe(125);
    expect(h.stderr.text).toBe('vmstep: error: permission denied on /dev/kvm; add the user to the kvm group (sudo usermod -aG kvm USER)\n');
  });

  it('exits 130 when cancelled', async () => {
    const h = harness(async () => {
      throw new RunCancelledError();
    });
    expect(await h.run('run', 'img')).toBe(130);
    expect(h.stderr.text).toContain('cancelled');
  });

  it("starts its own lines on a new line when the guest's stderr or console stopped mid-line", async () => {
    const h = harness(async (_o, events) => {
      events.stderr?.(Buffer.from('partial'));
      events.warning?.('slow host');
      events.console?.(Buffer.from('vmstep-init: the host'));
      throw new RunCancelledError();
    });
    expect(await h.run('run', '--debug', 'img')).toBe(130);
    expect(h.stderr.text).toBe('partial\nvmstep: warning: slow host\nvmstep-init: the host\nvmstep: cancelled; the VM was stopped\n');
  });

  it('stops the run and exits 141 when the reader of its stdout goes away', async () => {
    let aborted = false;
    const h = harness(async (_o, ev) => {
      await ev.stdout?.(Buffer.from('y\n'));
      h.stdout.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      aborted = h.lastSignal!.aborted;
      throw new RunCancelledError();
    });
    expect(await h.run('run', 'img', 'yes')).toBe(141);
    expect(aborted).toBe(true);
    expect(h.stderr.text).not.toContain('error');
  });

  it('writes the result JSON with the documented fields', async () => {
    const h = harness(async () =>
      result({ exitCode: 42, outputs: [{ guestPath: '/out/r.json', hostPath: '/work/vmstep-output/out/r.json', bytes: 17 }], stdoutBytes: 5 }),
    );
    expect(await h.run('run', '-q', '--result', 'res/result.json', 'img')).toBe(42);
    const doc = JSON.parse(readFileSync(join(h.cwd, 'res', 'result.json'), 'utf8'));
    expect(doc).toEqual({
      vmstep: { version: expect.any(String), schema: 1 },
      exitCode: 42,
      signal: null,
      timedOut: false,
      image: { reference: 'docker.io/library/alpine:3.20', digest: 'sha256:' + 'a'.repeat(64) },
      command: ['ls', '-la'],
      outputs: [{ guestPath: '/out/r.json', hostPath: '/work/vmstep-output/out/r.json', bytes: 17 }],
      outputIssues: [],
      outputDir: '/work/vmstep-output',
      stdout: { file: null, bytes: 5 },
      stderr: { file: null, bytes: 0 },
      timings: { imageMs: 10, rootfsMs: 2, bootMs: 90, commandMs: 12.5, totalMs: 130 },
    });
  });
});

describe('vmstep run: volumes and stdin', () => {
  it('resolves -v host paths against the current directory and passes each volume once', async () => {
    const h = harness();
    mkdirSync(join(h.cwd, 'tree'));
    writeFileSync(join(h.cwd, 'tree', 'f'), 'x');
    expect(await h.run('run', '-v', 'tree:/src', '--volume', `${join(h.cwd, 'tree', 'f')}:/etc/f`, 'img')).toBe(0);
    expect(h.seen[0]!.volumes).toEqual([
      { hostPath: join(h.cwd, 'tree'), guestPath: '/src', kind: 'dir' },
      { hostPath: join(h.cwd, 'tree', 'f'), guestPath: '/etc/f', kind: 'file' },
    ]);
    expect(h.seen[0]!.interactive).toBe(false);
  });

  it('-i hands the engine vmstep\'s stdin and lets go of it when the run ends; without -i stdin is never touched', async () => {
    const stdin = new PassThrough();
    let asked = 0;
    const h = harness();
    h.io.stdin = () => (asked++, stdin);
    let given: unknown;
    h.io.runImage = async (options, _events, control = {}) => {
      h.seen.push(options);
      given = control.stdin;
      return result();
    };
    expect(await h.run('run', 'img')).toBe(0);
    expect(asked).toBe(0);
    expect(await h.run('run', '-i', 'img', 'cat')).toBe(0);
    expect(h.seen[1]!.interactive).toBe(true);
    expect(given).toBe(stdin);
    expect(stdin.destroyed).toBe(true);
  });
});

describe('vmstep: every bad input gives one clear line and 125', () => {
  it.each<[string[], RegExp]>([
    [[], /^Usage: vmstep COMMAND/],
    [['frob'], /^vmstep: error: unknown command "frob"; the commands are run, bench, report, pull, cache, doctor, start, exec, cp, ps, logs, stop and port/],
    [['--frob'], /^vmstep: error: unknown option --frob; options go after the command/],
    [['run'], /^vmstep: error: no image given \(IMAGE\); usage: vmstep run \[OPTIONS\] IMAGE/],
    [['run', '--frob', 'img'], /^vmstep: error: unknown option --frob for "vmstep run"; see "vmstep run --help"; options go before the image\n$/],
    [['run', '-Z', 'img'], /^vmstep: error: unknown option -Z for "vmstep run"/],
    [['run', '--memory'], /^vmstep: error: option --memory needs a value \(SIZE\)/],
    [['run', '--memory', '12X', 'img'], /^vmstep: error: --memory "12X" is not a size; write a positive number with a unit/],
    [['run', '--privileged=yes', 'img'], /^vmstep: error: option --privileged takes no value/],
    [['run', '--env-file', '/nonexistent.env', 'img'], /^vmstep: error: cannot read env file \/nonexistent\.env \(ENOENT\)/],
    [['pull'], /^vmstep: error: no image given; usage: vmstep pull IMAGE/],
    [['pull', 'a', 'b'], /^vmstep: error: "vmstep pull" takes one image, got 2/],
    [['cache', 'frob'], /^vmstep: error: unknown cache command "frob"/],
    [['cache', 'prune', '--max-size', 'big'], /^vmstep: error: --max-size "big" is not a size/],
    [['run', '-v', '/nonexistent-vmstep-dir:/src', 'img'], /^vmstep: error: --volume "\/nonexistent-vmstep-dir:\/src": the host path \/nonexistent-vmstep-dir does not exist; check the path/],
    [['run', '-v', '/tmp:src', 'img'], /^vmstep: error: --volume "\/tmp:src": the guest path "src" is not absolute; give an absolute guest path/],
    [['run', '-v', '/tmp:/', 'img'], /^vmstep: error: --volume "\/tmp:\/": a volume cannot replace the guest's root \//],
    [['run', '--volume=/tmp:/proc', 'img'], /^vmstep: error: --volume "\/tmp:\/proc": a volume cannot replace or go under \/proc/],
    [['run', '-v', '/tmp:/sys', 'img'], /^vmstep: error: --volume "\/tmp:\/sys": a volume cannot replace or go under \/sys/],
    [['run', '-v', '/tmp:/dev', 'img'], /^vmstep: error: --volume "\/tmp:\/dev": a volume cannot replace or go under \/dev/],
    [['bench', '--baseline-volume', 'missing:/src', 'img'], /^vmstep: error: --baseline-volume "missing:\/src": the host path .*missing does not exist/],
    [['bench', '-i', 'img'], /^vmstep: error: unknown option -i for "vmstep bench"/],
  ])('vmstep %j', async (argv, expected) => {
    const h = harness();
    expect(await h.run(...argv)).toBe(125);
    expect(h.stderr.text).toMatch(expected);
    expect(h.seen).toEqual([]);
    if (argv.length > 0) expect(h.stderr.text.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('vmstep: an image given as a path without its transport', () => {
  it.each<[string[], string]>([
    [['pull', './image'], 'vmstep: error: image "./image" is a directory, not an image name; for an OCI layout directory write oci:./image'],
    [['run', './image', 'true'], 'vmstep: error: image "./image" is a directory, not an image name; for an OCI layout directory write oci:./image'],
    [['pull', 'bench.tar'], 'vmstep: error: image "bench.tar" is a file, not an image name; write docker-archive:bench.tar for the output of docker save, or oci-archive:bench.tar for an OCI archive'],
    [['bench', './missing'], 'vmstep: error: image "./missing" looks like a path, and nothing is there; check the path, and name its kind: oci:DIR, oci-archive:FILE or docker-archive:FILE'],
  ])('vmstep %j says which transport to write', async (argv, line) => {
    const h = harness();
    mkdirSync(join(h.cwd, 'image'));
    writeFileSync(join(h.cwd, 'bench.tar'), '');
    expect(await h.run(...argv)).toBe(125);
    expect(h.stderr.text).toBe(`${line}\n`);
    expect(h.seen).toEqual([]);
  });
});

describe('vmstep: the cache directory', () => {
  it.each([[['cache', 'ls']], [['cache', 'prune']], [['pull', 'busybox']], [['doctor']]])('vmstep %j names VMSTEP_CACHE and the fix when it is a file', async (argv) => {
    const h = harness();
    const file = join(h.cwd, 'not-a-dir');
    writeFileSync(file, '');
    h.io.env.VMSTEP_CACHE = file;
    const code = await h.run(...argv);
    const out = h.stdout.text + h.stderr.text;
    expect(out).toContain(`the cache directory ($VMSTEP_CACHE, default ~/.cache/vmstep) cannot be used: ${file} is not a directory`);
    expect(out).toContain('point VMSTEP_CACHE at a directory (it is created when missing), or unset it');
    expect(out).not.toContain('ENOTDIR');
    if (argv[0] !== 'doctor') expect(code).toBe(125);
  });

  it('says that prune --max-size keeps the unpacked guest kernel, and how to remove it', async () => {
    const h = harness();
    const cache = join(h.cwd, 'cache');
    mkdirSync(join(cache, 'kernel', 'abc123'), { recursive: true });
    writeFileSync(join(cache, 'kernel', 'abc123', 'vmlinux'), Buffer.alloc(64 * 1024, 1));
    h.io.env.VMSTEP_CACHE = cache;
    expect(await h.run('cache', 'prune', '--max-size', '1K')).toBe(0);
    expect(h.stdout.text).toMatch(/^kept the unpacked guest kernel \(\d+(\.\d+)? KiB\) beyond --max-size: every run needs one; "vmstep cache prune" without --max-size removes it too$/m);
    h.stdout.text = '';
    expect(await h.run('cache', 'prune')).toBe(0);
    expect(h.stdout.text).not.toContain('kept the unpacked guest kernel');
  });
});

describe('vmstep: help and version', () => {
  it.each([['--help'], ['help'], ['run', '--help'], ['help', 'run'], ['pull', '-h'], ['cache', '--help'], ['doctor', '--help']])('vmstep %j prints help on stdout', async (...argv) => {
    const h = harness();
    expect(await h.run(...argv)).toBe(0);
    expect(h.stdout.text).toMatch(/^Usage: vmstep/);
  });

  it('documents every run option in the help', async () => {
    const h = harness();
    await h.run('run', '--help');
    for (const opt of ['--entrypoint', '-e, --env', '--env-file', '-w, --workdir', '-u, --user', '--vcpus', '--memory', '--disk', '--timeout', '--output ', '--output-dir', '--result', '--kernel', '--privileged', '--debug', '-q, --quiet']) {
      expect(h.stdout.text).toContain(opt);
    }
    expect(h.stdout.text).not.toContain('--rm');
  });

  it('prints the package version', async () => {
    const h = harness();
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(await h.run('--version')).toBe(0);
    expect(h.stdout.text).toBe(`vmstep ${pkg.version}\n`);
  });
});

describe('vmstep doctor and cache', () => {
  it('doctor prints a fix under every failed check and exits 1 when vmstep cannot run', async () => {
    const h = harness();
    const code = await h.run('doctor');
    const failed = h.stdout.text.split('\n').filter((l) => l.startsWith('FAIL'));
    expect(code).toBe(failed.length > 0 ? 1 : 0);
    for (const line of failed) expect(h.stdout.text.split(line)[1]!.split('\n')[1]).toMatch(/fix: /);
  });

  it('doctor shows the capacity budget, where it comes from, and who holds it', async () => {
    const h = harness();
    h.io.env.VMSTEP_CAPACITY_DIR = join(h.cwd, 'pool');
    h.io.env.VMSTEP_MAX_VCPUS = '6';
    h.io.env.VMSTEP_MAX_MEMORY = '3G';
    const web = await reserveCapacity({ vcpus: 2, memoryMiB: 1024, label: 'vm web', env: h.io.env });
    try {
      await h.run('doctor');
      expect(h.stdout.text).toMatch(/^ok +capacity +6 vCPUs \(VMSTEP_MAX_VCPUS\) and 3 GiB \(VMSTEP_MAX_MEMORY\) for all VMs of this host; in use 2 vCPUs and 1 GiB by 1 VM$/m);
      expect(h.stdout.text).toMatch(new RegExp(`^ +held by vm web: 2 vCPUs, 1 GiB \\(\\w+, pid ${process.pid}\\)\n +pool ${h.io.env.VMSTEP_CAPACITY_DIR}$`, 'm'));
      const json = new Capture();
      h.io.stdout = json;
      await h.run('doctor', '--json');
      expect(JSON.parse(json.text).capacity).toMatchObject({ budget: { vcpus: 6, memoryMiB: 3072 }, used: { vcpus: 2, memoryMiB: 1024 }, holders: [{ label: 'vm web', vcpus: 2, memoryMiB: 1024, pid: process.pid }], waiting: [] });
    } finally {
      web.release();
    }
  });

  it('doctor warns about files in the capacity pool that are not reservations', async () => {
    const h = harness();
    h.io.env.VMSTEP_CAPACITY_DIR = join(h.cwd, 'pool');
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env: h.io.env })).release();
    writeFileSync(join(h.cwd, 'pool', 'r-bad.json'), 'garbage');
    await h.run('doctor');
    expect(h.stdout.text).toMatch(new RegExp(`^warn +capacity +.*; ignoring ${join(h.cwd, 'pool', 'r-bad.json')} in the capacity pool: it is not a reservation vmstep can read\\n +fix: remove those files, or ask their owners to; they are not vmstep's$`, 'm'));
  });

  it('doctor fails the capacity check, with the fix, on a bad VMSTEP_MAX_MEMORY', async () => {
    const h = harness();
    h.io.env.VMSTEP_MAX_MEMORY = 'plenty';
    expect(await h.run('doctor')).toBe(1);
    expect(h.stdout.text).toMatch(/^FAIL +capacity +VMSTEP_MAX_MEMORY "plenty" is not a size\n +fix: write a positive number with a unit/m);
  });

  it('cache ls lists an empty cache', async () => {
    const h = harness();
    h.io.env.VMSTEP_CACHE = join(h.cwd, 'cache');
    expect(await h.run('cache', 'ls')).toBe(0);
    expect(h.stdout.text).toMatch(/^KIND +SIZE +LAST USED +NAME\n0 entries, 0 B in /);
  });
});
