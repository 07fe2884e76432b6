// Guest init, the real binary, in test mode: a Unix socket stands in for
// vsock and it is not PID 1, but it parses the spec, resolves the user,
// confines, runs, streams and returns files exactly as in a VM. The host side
// is the real GuestSession. (test/e2e/guest.test.ts repeats the essentials in
// a real guest kernel.)
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import { runSpecFromImage } from '../../src/session/command.js';
import { decodeError, encodeRun, type RunSpec } from '../../src/session/messages.js';
import { MessageType, encodeHello } from '../../src/session/protocol.js';
import { GuestError, startGuestSession } from '../../src/session/session.js';
import { collect, connectTestModeInit, guestInitBinary, runInTestMode } from '../helpers/guest-init.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-guest-init-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const PATH = 'PATH=/usr/local/bin:/usr/bin:/bin';
const sh = (script: string, extra: Partial<RunSpec> = {}): RunSpec => ({ argv: ['/bin/sh', '-c', script], env: [PATH], ...extra });
const text = (b: Buffer) => b.toString('utf8');

test('guest init builds as a small static binary', () => {
  const binary = guestInitBinary();
  expect(readFileSync(binary).subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  expect(statSync(binary).size).toBeLessThan(512 * 1024);
});

describe('stdin', () => {
  const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  test('without streaming, the command reads /dev/null', async () => {
    const run = await runInTestMode(sh('wc -c; readlink /proc/self/fd/0'));
    expect(text(run.stdout)).toBe('0\n/dev/null\n');
  });

  test('10 MiB of binary data arrive intact, and cat ends at their end', async () => {
    const data = randomBytes(10 * 1024 * 1024);
    const run = await runInTestMode(sh('sha256sum | cut -d" " -f1', { stdin: true }), { stdin: Readable.from([data.subarray(0, 3_000_000), data.subarray(3_000_000)]) });
    expect(text(run.stdout).trim()).toBe(hash(data));
    expect(run.result.exit.code).toBe(0);
  });

  test('flow control: a command that reads slowly gets every byte, in order', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    const run = await runInTestMode(sh('(sleep 0.5; cat) | sha256sum | cut -d" " -f1', { stdin: true }), { stdin: Readable.from([data]) });
    expect(text(run.stdout).trim()).toBe(hash(data));
  });

  test('a command that never reads its stdin ends the run while stdin stays open', async () => {
    const source = new PassThrough();
    source.write(randomBytes(4 * 1024 * 1024)); // more than the window and the pipe together
    const started = Date.now();
    const run = await runInTestMode(sh('echo done', { stdin: true }), { stdin: source });
    expect(text(run.stdout)).toBe('done\n');
    expect(Date.now() - started).toBeLessThan(5000);
    expect(source.isPaused()).toBe(true);
    source.destroy();
  }, 10_000);

  test('a command that closes its stdin early still finishes while the host keeps sending', async () => {
    const run = await runInTestMode(sh('head -c 10 | wc -c', { stdin: true }), { stdin: Readable.from([randomBytes(5 * 1024 * 1024)]) });
    expect(text(run.stdout).trim()).toBe('10');
    expect(run.result.exit.code).toBe(0);
  });

  test('volumes in test mode end the run with a clear guest error (they need the VM)', async () => {
    const err = await runInTestMode(sh('true', { volumeDevice: '/dev/vdb', volumes: [{ name: '0', guestPath: '/src' }] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestError);
    expect((err as GuestError).stage).toBe('volume');
    expect((err as Error).message).toMatch(/volumes need the VM/);
  });

  test('an empty stdin reaches the command as end of file at once', async () => {
    const run = await runInTestMode(sh('cat; echo eof', { stdin: true }), { stdin: Readable.from([]) });
    expect(text(run.stdout)).toBe('eof\n');
  });
});

describe('the command', () => {
  test('gets exactly the environment of the spec, plus HOME from the passwd entry when absent', async () => {
    const run = await runInTestMode({ argv: ['/usr/bin/env'], env: ['A=1', 'B=two words', 'EMPTY=', PATH] });
    expect(text(run.stdout).split('\n').filter(Boolean).sort()).toEqual(['A=1', 'B=two words', 'EMPTY=', 'HOME=/root', PATH].sort());
    const withHome = await runInTestMode({ argv: ['/usr/bin/env'], env: ['HOME=/custom'] });
    expect(text(withHome.stdout)).toBe('HOME=/custom\n');
  });

  test('runs in the working directory, creating it when missing', async () => {
    const dir = join(work, 'made', 'by', 'init');
    const run = await runInTestMode(sh('pwd', { workdir: dir }));
    expect(text(run.stdout)).toBe(`${dir}\n`);
    expect(statSync(dir).isDirectory()).toBe(true);
  });

  test('runs ENTRYPOINT + CMD from the image, and each override, with Docker semantics', async () => {
    const image = { Entrypoint: ['/bin/echo', 'entry'], Cmd: ['cmd1', 'cmd2'], Env: [PATH] };
    const out = async (overrides: Parameters<typeof runSpecFromImage>[1]) => text((await runInTestMode(runSpecFromImage(image, overrides))).stdout);
    expect(await out({})).toBe('entry cmd1 cmd2\n');
    expect(await out({ cmd: ['over'] })).toBe('entry over\n');
    expect(await out({ entrypoint: ['/bin/echo', 'new'] })).toBe('new\n');
    expect(await out({ entrypoint: ['/bin/echo'], cmd: ['both'] })).toBe('both\n');
    expect(await out({ entrypoint: [], cmd: ['/bin/echo', 'cleared'] })).toBe('cleared\n');
  });

  test('looks argv[0] up in the PATH of the spec, not of guest init', async () => {
    const bin = join(work, 'pathbin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'only-here'), '#!/bin/sh\necho found in $0\n', { mode: 0o755 });
    const run = await runInTestMode({ argv: ['only-here'], env: [`PATH=/nonexistent:${bin}`] });
    expect(text(run.stdout)).toBe(`found in ${bin}/only-here\n`);
  });

  test('keeps stdout and stderr apart', async () => {
    const run = await runInTestMode(sh('echo out1; echo err1 >&2; echo out2; echo err2 >&2'));
    expect(text(run.stdout)).toBe('out1\nout2\n');
    expect(text(run.stderr)).toBe('err1\nerr2\n');
  });

  test('streams output while the command runs, not at its end', async () => {
    const gate = join(work, 'gate');
    rmSync(gate, { force: true });
    const conn = await connectTestModeInit();
    try {
      const session = startGuestSession(conn.socket, sh(`echo waiting; while [ ! -e ${gate} ]; do sleep 0.02; done; echo through`));
      // The command blocks until the gate exists: its first line must arrive before that.
      const first = await new Promise<Buffer>((resolve) => session.stdout.once('data', resolve));
      expect(text(first)).toBe('waiting\n');
      writeFileSync(gate, '');
      const rest = await collect(session.stdout);
      expect(text(rest)).toBe('through\n');
      expect((await session.result).exit.code).toBe(0);
    } finally {
      await conn.cleanup();
    }
  });

  test.each([0, 1, 42])('reports exit code %i', async (code) => {
    const run = await runInTestMode(sh(`exit ${code}`));
    expect(run.result.exit).toEqual({ code, signal: null, signalName: null, error: null });
    expect(run.result.pid).toBeGreaterThan(0);
  });

  test('reports 127 with a clear error when the program does not exist', async () => {
    const run = await runInTestMode({ argv: ['no-such-program'], env: [PATH] });
    expect(run.result.exit.code).toBe(127);
    expect(run.result.exit.error).toBe("cannot run 'no-such-program': executable file not found in PATH (/usr/local/bin:/usr/bin:/bin)");
    expect(run.result.pid).toBeNull();
    const abs = await runInTestMode({ argv: ['/no/such/file'], env: [] });
    expect(abs.result.exit.code).toBe(127);
    expect(abs.result.exit.error).toContain('no such file or directory');
  });

  test('reports 126 with a clear error when the program is not executable', async () => {
    const file = join(work, 'not-executable');
    writeFileSync(file, 'echo hi\n', { mode: 0o644 });
    const run = await runInTestMode({ argv: [file], env: [PATH] });
    expect(run.result.exit.code).toBe(126);
    expect(run.result.exit.error).toContain('permission denied');
  });

  test('reports death by signal as 128+N and by name', async () => {
    const term = await runInTestMode(sh('kill -TERM $$'));
    expect(term.result.exit).toEqual({ code: 143, signal: 15, signalName: 'SIGTERM', error: null });
    const kill = await runInTestMode(sh('kill -KILL $$'));
    expect(kill.result.exit).toMatchObject({ code: 137, signal: 9, signalName: 'SIGKILL' });
  });

  test('delivers a signal from the host to the running command', async () => {
    const conn = await connectTestModeInit();
    try {
      const session = startGuestSession(conn.socket, sh('echo up; exec sleep 100'));
      await new Promise((resolve) => session.stdout.once('data', resolve));
      session.signal('SIGINT');
      session.stderr.resume();
      session.stdout.resume();
      expect((await session.exit).signalName).toBe('SIGINT');
    } finally {
      await conn.cleanup();
    }
  });

  test('returns 10 MiB of binary output intact', async () => {
    const data = randomBytes(10 * 1024 * 1024);
    const file = join(work, 'random.bin');
    writeFileSync(file, data);
    const run = await runInTestMode({ argv: ['/bin/cat', file], env: [] });
    expect(run.stdout.length).toBe(data.length);
    expect(createHash('sha256').update(run.stdout).digest('hex')).toBe(createHash('sha256').update(data).digest('hex'));
  });

  test('ends when the command exits even if it left a background process holding its stdout', async () => {
    const started = Date.now();
    const run = await runInTestMode(sh('sleep 300 & echo left a daemon'));
    expect(text(run.stdout)).toBe('left a daemon\n');
    expect(run.result.exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test('reports guest boot-clock timings in order', async () => {
    const { result } = await runInTestMode(sh('sleep 0.1'));
    const t = result.timings;
    expect(t.initStartNs).toBeGreaterThan(0);
    expect(t.initStartNs).toBeLessThanOrEqual(t.specReceivedNs);
    expect(t.specReceivedNs).toBeLessThanOrEqual(t.commandStartNs);
    expect(t.commandEndNs - t.commandStartNs).toBeGreaterThanOrEqual(100_000_000);
    expect(t.commandEndNs).toBeLessThanOrEqual(t.outputsEndNs);
  });
});

describe('the user', () => {
  const etc = join(work, 'etc');
  mkdirSync(etc, { recursive: true });
  writeFileSync(join(etc, 'passwd'), ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1000:app:/home/app:/bin/sh', 'nogroups:x:1001:1001::/srv:/bin/sh', ''].join('\n'));
  writeFileSync(join(etc, 'group'), ['root:x:0:', 'app:x:1000:', 'audio:x:29:app,other', 'video:x:44:app', 'staff:x:50:', ''].join('\n'));
  // The kernel's own list, which it keeps sorted (id -G would hide the primary group's presence).
  const ids = 'echo "$(id -u) $(id -g) $(grep ^Groups: /proc/self/status | cut -f2)$HOME"';
  const as = async (user: string) => text((await runInTestMode(sh(ids, { user }), {}, { VMSTEP_INIT_ETC: etc })).stdout).trim();

  test('by name: uid, primary gid, supplementary groups (primary first, as Docker) and HOME from the image files', async () => {
    expect(await as('app')).toBe('1000 1000 29 44 1000 /home/app');
  });

  test('by uid, with or without a passwd entry', async () => {
    expect(await as('1000')).toBe('1000 1000 29 44 1000 /home/app');
    expect(await as('4242')).toBe('4242 0 0 /');
  });

  test('with an explicit group, by name or gid, and no supplementary groups', async () => {
    expect(await as('app:staff')).toBe('1000 50 50 /home/app');
    expect(await as('1001:77')).toBe('1001 77 77 /srv');
  });

  test('root by default', async () => {
    expect(await as('')).toBe('0 0 0 /root');
  });

  test('an unknown user or group ends the run with a clear guest error', async () => {
    const err = await runInTestMode(sh('true', { user: 'ghost' }), {}, { VMSTEP_INIT_ETC: etc }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestError);
    expect((err as GuestError).stage).toBe('user');
    expect((err as Error).message).toBe(`guest init failed (user): unable to find user ghost: no matching entries in ${etc}/passwd`);
    const gerr = await runInTestMode(sh('true', { user: 'app:ghosts' }), {}, { VMSTEP_INIT_ETC: etc }).catch((e: unknown) => e);
    expect((gerr as Error).message).toContain('unable to find group ghosts');
  });
});

describe('confinement', () => {
  const status = 'grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status';

  test('drops every capability (bounding set too), sets no_new_privs and installs a seccomp filter', async () => {
    const out = text((await runInTestMode(sh(status))).stdout);
    expect(out).toMatch(/CapEff:\s+0000000000000000/);
    expect(out).toMatch(/CapPrm:\s+0000000000000000/);
    expect(out).toMatch(/CapBnd:\s+0000000000000000/);
    expect(out).toMatch(/CapAmb:\s+0000000000000000/);
    expect(out).toMatch(/NoNewPrivs:\s+1/);
    expect(out).toMatch(/Seccomp:\s+2/);
  });

  test('a privileged run keeps the capabilities and has no filter', async () => {
    const out = text((await runInTestMode(sh(status, { privileged: true }))).stdout);
    expect(out).not.toMatch(/CapEff:\s+0000000000000000/);
    expect(out).toMatch(/NoNewPrivs:\s+0/);
    expect(out).toMatch(/Seccomp:\s+0/);
  });
});

describe('output files', () => {
  test('returns files, whole directories and globs with their modes, written under the output directory', async () => {
    const dir = join(work, 'outs');
    const outputDir = join(work, 'returned');
    const script = [
      `mkdir -p ${dir}/tree/sub ${dir}/globbed`,
      `printf 'single' > ${dir}/single.txt && chmod 640 ${dir}/single.txt`,
      `printf 'a' > ${dir}/tree/a.txt && printf 'b' > ${dir}/tree/sub/b.bin && chmod 755 ${dir}/tree/sub/b.bin`,
      `printf '1' > ${dir}/globbed/r1.json && printf '2' > ${dir}/globbed/r2.json && printf 'x' > ${dir}/globbed/skip.txt`,
    ].join(' && ');
    const seen: string[] = [];
    const run = await runInTestMode(sh(script, { workdir: dir, outputs: ['single.txt', `${dir}/tree`, 'globbed/*.json'] }), {
      outputDir,
      onFile: (f) => seen.push(f.guestPath),
    });
    expect(run.result.issues).toEqual([]);
    expect(seen).toEqual([`${dir}/single.txt`, `${dir}/tree/a.txt`, `${dir}/tree/sub/b.bin`, `${dir}/globbed/r1.json`, `${dir}/globbed/r2.json`]);
    expect(run.result.files.map((f) => [f.guestPath, f.mode.toString(8), f.size])).toEqual([
      [`${dir}/single.txt`, '640', 6],
      [`${dir}/tree/a.txt`, '644', 1],
      [`${dir}/tree/sub/b.bin`, '755', 1],
      [`${dir}/globbed/r1.json`, '644', 1],
      [`${dir}/globbed/r2.json`, '644', 1],
    ]);
    const host = (p: string) => join(outputDir, p);
    expect(readFileSync(host(`${dir}/single.txt`), 'utf8')).toBe('single');
    expect(statSync(host(`${dir}/single.txt`)).mode & 0o777).toBe(0o640);
    expect(statSync(host(`${dir}/tree/sub/b.bin`)).mode & 0o777).toBe(0o755);
    expect(existsSync(host(`${dir}/globbed/skip.txt`))).toBe(false);
  });

  test('reports a missing path or an unmatched glob, and still returns the rest', async () => {
    const dir = join(work, 'missing');
    const run = await runInTestMode(sh('echo present > here.txt', { workdir: dir, outputs: ['absent.txt', 'nothing*', 'here.txt'] }), {
      outputDir: join(work, 'returned-missing'),
    });
    expect(run.result.files.map((f) => f.guestPath)).toEqual([`${dir}/here.txt`]);
    expect(run.result.issues).toEqual([
      { request: 'absent.txt', path: `${dir}/absent.txt`, reason: 'missing', message: `${dir}/absent.txt does not exist` },
      { request: 'nothing*', path: null, reason: 'missing', message: `nothing matches ${dir}/nothing*` },
    ]);
  });

  test('caps the size of each file and the number of files, reporting what it left out', async () => {
    const dir = join(work, 'limits');
    const run = await runInTestMode(
      sh('mkdir -p many && for i in 1 2 3 4 5; do echo $i > many/f$i; done && head -c 2000 /dev/zero > big', {
        workdir: dir,
        outputs: ['big', 'many'],
        maxFileBytes: 1000,
        maxFiles: 3,
      }),
      { outputDir: join(work, 'returned-limits') },
    );
    expect(run.result.files.map((f) => f.guestPath)).toEqual([`${dir}/many/f1`, `${dir}/many/f2`, `${dir}/many/f3`]);
    expect(run.result.issues.map((i) => i.reason)).toEqual(['too-large', 'limit']);
    expect(run.result.issues[0]!.message).toBe(`${dir}/big is 2000 bytes, over the limit of 1000 bytes per output file`);
    expect(run.result.issues[1]!.message).toBe('2 more output files were not returned: the limit is 3 files');
  });

  test('does not follow symbolic links inside a returned directory', async () => {
    const dir = join(work, 'links');
    const run = await runInTestMode(sh('mkdir -p d && echo x > d/real && ln -sf /etc/passwd d/link', { workdir: dir, outputs: ['d'] }), {
      outputDir: join(work, 'returned-links'),
    });
    expect(run.result.files.map((f) => f.guestPath)).toEqual([`${dir}/d/real`]);
    expect(run.result.issues).toMatchObject([{ path: `${dir}/d/link`, reason: 'not-regular' }]);
  });
});

test('a run spec that guest init cannot use ends with its error, not a hang', async () => {
  const conn = await connectTestModeInit();
  try {
    expect((await conn.frames.next())?.type).toBe(MessageType.Hello);
    // A spec whose argv contains a NUL byte cannot come from encodeRun; craft it.
    const good = encodeRun({ argv: ['x'], env: [] });
    const bad = Buffer.from(good);
    bad[5 + 5] = 0; // the first byte of argv[0]
    conn.socket.write(Buffer.concat([encodeHello(), bad]));
    const reply = await conn.frames.next();
    expect(reply?.type).toBe(MessageType.Error);
    expect(decodeError(reply!.payload)).toEqual({ stage: 'spec', message: 'malformed run spec: a string contains a NUL byte (field 1)' });
    expect((await conn.exited).code).toBe(1);
  } finally {
    await conn.cleanup();
  }
});

