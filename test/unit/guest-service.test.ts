// Service mode end to end in guest init's test mode: the real guest init
// (SERVE, sessions, PUT/GET/LIST, POWEROFF) against the real host side
// (startService, connectSession, startGuestSession, the transfer API).
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, test } from 'vitest';
import { encodeDone, encodeEntry, type EntryMeta } from '../../src/session/messages.js';
import { encodeHello } from '../../src/session/protocol.js';
import { startGuestSession } from '../../src/session/session.js';
import { getEntries, listEntries, putEntries, type TransferEntry } from '../../src/session/transfer.js';
import { connectSession } from '../../src/session/connect.js';
import { collect } from '../helpers/guest-init.js';
import { startTestService, type TestService } from '../helpers/guest-service.js';

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
let svc: TestService | null = null;
afterEach(async () => {
  await svc?.cleanup();
  svc = null;
});

async function exec(s: TestService, argv: string[], opts: { stdin?: Readable; onStarted?: (signal: (sig: NodeJS.Signals) => void) => void } = {}) {
  const socket = await s.connect();
  const session = startGuestSession(socket, { argv, env: [PATH], ...(opts.stdin ? { stdin: true } : {}) }, opts.stdin ? { stdin: opts.stdin } : {});
  if (opts.onStarted) void session.started.then(() => opts.onStarted!((sig) => session.signal(sig)));
  const [stdout, stderr] = await Promise.all([collect(session.stdout), collect(session.stderr)]);
  const result = await session.result;
  return { stdout, stderr, exit: result.exit };
}

async function readTree(entries: AsyncIterable<TransferEntry>) {
  const out: (EntryMeta & { bytes?: Buffer })[] = [];
  for await (const e of entries) {
    const { data, ...meta } = e;
    out.push(data ? { ...meta, bytes: await collect(data) } : meta);
  }
  return out;
}

describe('guest init in service mode', () => {
  test('answers SERVE with READY and serves no main process: its streams end at once and mainExit is null', async () => {
    svc = await startTestService();
    await svc.service.ready;
    expect((await collect(svc.service.mainStdout)).length).toBe(0);
    svc.service.poweroff(0);
    expect(await svc.service.mainExit).toBeNull();
  });

  test('runs three sessions at once, each with its own output and exit code', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const runs = await Promise.all(
      [1, 2, 3].map((n) => exec(svc!, ['sh', '-c', `sleep 0.3; echo out-${n}; echo err-${n} >&2; exit ${n + 40}`])),
    );
    for (const [i, r] of runs.entries()) {
      expect(r.stdout.toString()).toBe(`out-${i + 1}\n`);
      expect(r.stderr.toString()).toBe(`err-${i + 1}\n`);
      expect(r.exit.code).toBe(i + 41);
    }
  });

  test('a command killed by SIGNAL ends only its session: guest init serves the next one', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const killed = await exec(svc, ['sh', '-c', 'echo started; sleep 30'], { onStarted: (signal) => setTimeout(() => signal('SIGKILL'), 100) });
    expect(killed.exit.signalName).toBe('SIGKILL');
    expect(killed.exit.code).toBe(137);
    const next = await exec(svc, ['echo', 'still serving']);
    expect(next.stdout.toString()).toBe('still serving\n');
    expect(next.exit.code).toBe(0);
  });

  test('streams 10 MiB of binary stdin through an exec and back unchanged', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const data = randomBytes(10 * 1024 * 1024);
    const r = await exec(svc, ['cat'], { stdin: Readable.from([data.subarray(0, 3_000_000), data.subarray(3_000_000)]) });
    expect(r.exit.code).toBe(0);
    expect(r.stdout.length).toBe(data.length);
    expect(r.stdout.equals(data)).toBe(true);
  });

  test('PUT a tree (file, directory, symlink, modes, binary data), then GET returns it identical; LIST has the same entries without data', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const blob = randomBytes(3 * 1024 * 1024 + 17);
    const tree: (EntryMeta & { bytes?: Buffer })[] = [
      { path: 'tree', type: 'dir', mode: 0o750, size: 0 },
      { path: 'tree/bin.dat', type: 'file', mode: 0o640, size: blob.length, bytes: blob },
      { path: 'tree/empty', type: 'file', mode: 0o600, size: 0 },
      { path: 'tree/link', type: 'symlink', mode: 0o777, size: 0, linkTarget: 'bin.dat' },
      { path: 'tree/sub', type: 'dir', mode: 0o700, size: 0 },
      { path: 'tree/sub/run.sh', type: 'file', mode: 0o755, size: 10, bytes: Buffer.from('#!/bin/sh\n') },
    ];
    const dest = join(svc.dir, 'guest-dest');
    const put = await putEntries(
      await svc.connect(),
      dest,
      tree.map(({ bytes, ...e }) => (bytes ? { ...e, data: Readable.from([bytes]) } : e)),
    );
    expect(put.entries).toBe(tree.length);
    expect(readFileSync(join(dest, 'tree/bin.dat')).equals(blob)).toBe(true);
    expect(lstatSync(join(dest, 'tree/sub/run.sh')).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(dest, 'tree/link'))).toBe('bin.dat');

    const got = await readTree(getEntries(await svc.connect(), join(dest, 'tree'), { limits: { maxEntries: 100, maxBytes: 10 << 20 } }));
    // Symlink modes are not kept by Linux; bytes compare by digest (a deep compare of megabytes is slow).
    const strip = (es: (EntryMeta & { bytes?: Buffer })[]) =>
      es.map(({ mtimeNs: _m, bytes, ...e }) => ({ ...e, mode: e.type === 'symlink' ? 0o777 : e.mode, sha256: bytes ? createHash('sha256').update(bytes).digest('hex') : null }));
    expect(strip(got)).toEqual(strip(tree));

    const listed = await listEntries(await svc.connect(), join(dest, 'tree'));
    expect(listed.map((e) => [e.path, e.type, e.size])).toEqual(tree.map((e) => [e.path, e.type, e.size]));
  });

  test('GET of a symlink pointing outside the tree returns the link itself, never what it points to', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const base = join(svc.dir, 'out');
    mkdirSync(join(base, 'tree'), { recursive: true });
    writeFileSync(join(svc.dir, 'secret'), 'not for the host');
    symlinkSync(join(svc.dir, 'secret'), join(base, 'tree', 'escape'));
    symlinkSync('/etc', join(base, 'tree', 'etc'));
    chmodSync(join(base, 'tree'), 0o755);
    const got = await readTree(getEntries(await svc.connect(), join(base, 'tree'), { limits: { maxEntries: 10, maxBytes: 1 << 20 } }));
    expect(got.map((e) => [e.path, e.type, e.linkTarget])).toEqual([
      ['tree', 'dir', undefined],
      ['tree/escape', 'symlink', join(svc.dir, 'secret')],
      ['tree/etc', 'symlink', '/etc'],
    ]);
    const single = await readTree(getEntries(await svc.connect(), join(base, 'tree', 'escape'), { limits: { maxEntries: 10, maxBytes: 1 << 20 } }));
    expect(single).toEqual([expect.objectContaining({ path: 'escape', type: 'symlink' })]);
  });

  test('GET of a missing path fails with one line naming it', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const missing = join(svc.dir, 'nothing-here');
    await expect(readTree(getEntries(await svc.connect(), missing, { limits: { maxEntries: 10, maxBytes: 1 } }))).rejects.toThrow(
      `copying ${missing} out of the VM: ${missing}: no such file or directory`,
    );
  });

  test('PUT refuses to write through a symlink it finds at a parent', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const dest = join(svc.dir, 'dest');
    const outside = join(svc.dir, 'outside');
    mkdirSync(dest);
    mkdirSync(outside);
    symlinkSync(outside, join(dest, 'sub'));
    await expect(
      putEntries(await svc.connect(), dest, [{ path: 'sub/planted', type: 'file', mode: 0o644, size: 2, data: Readable.from([Buffer.from('hi')]) }]),
    ).rejects.toThrow(/cannot create sub\/planted: a parent is a symbolic link or not a directory/);
    expect(() => lstatSync(join(outside, 'planted'))).toThrow();
  });

  test('an exec is confined as a run is: no capabilities, no_new_privs, seccomp', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const r = await exec(svc, ['sh', '-c', "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status"]);
    expect(r.stdout.toString()).toMatch(/CapEff:\s+0+\n/);
    expect(r.stdout.toString()).toMatch(/CapBnd:\s+0+\n/);
    expect(r.stdout.toString()).toMatch(/NoNewPrivs:\s+1\n/);
    expect(r.stdout.toString()).toMatch(/Seccomp:\s+2\n/);
  });

  test('a SERVE that guest init cannot carry out fails ready with its one-line reason', async () => {
    svc = await startTestService({ env: [PATH], user: 'no-such-user' });
    await expect(svc.service.ready).rejects.toThrow(/^guest init failed \(user\): .*no-such-user/);
    expect((await svc.exited).code).toBe(1);
  });

  test('POWEROFF ends the service: guest init exits and the boot connection closes', async () => {
    svc = await startTestService();
    await svc.service.ready;
    const socket = await svc.connect();
    const long = startGuestSession(socket, { argv: ['sleep', '30'], env: [PATH] });
    await long.started;
    svc.service.poweroff(200);
    await svc.service.closed;
    const init = await svc.exited;
    expect(init.code).toBe(0);
    await expect(long.result).rejects.toThrow();
    await expect(connectSession(svc.endpoint)).rejects.toThrow(/^cannot reach guest init's session socket .*: the VM is not running \(ENOENT\)$/);
  });

  test('a main process sends its output on the boot connection, and its exit ends the service', async () => {
    svc = await startTestService({ argv: ['sh', '-c', 'echo main-out; echo main-err >&2; exit 7'], env: [PATH] });
    await svc.service.ready;
    const [out, err] = await Promise.all([collect(svc.service.mainStdout), collect(svc.service.mainStderr)]);
    expect(out.toString()).toBe('main-out\n');
    expect(err.toString()).toBe('main-err\n');
    expect((await svc.service.mainExit)?.code).toBe(7);
    await svc.service.closed;
    expect((await svc.exited).code).toBe(0);
  });
});

describe('connectSession through the VMM', () => {
  /** A stand-in for the VMM's vsock socket: answers CONNECT with `reply`, then sends `after` as the guest's first bytes. */
  async function fakeVmm(dir: string, reply: string, after: Buffer) {
    const path = join(dir, 'vsock');
    const seen: string[] = [];
    const server = createServer((s) => {
      s.once('data', (d) => {
        seen.push(d.toString());
        s.write(Buffer.concat([Buffer.from(reply), after]));
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { path, seen, close: () => server.close() };
  }

  test('writes CONNECT with the exec port, reads OK, and hands over the stream with the bytes that followed the OK line', async () => {
    svc = await startTestService();
    const vmm = await fakeVmm(svc.dir, 'OK 3345\n', Buffer.from('guest-bytes'));
    try {
      const socket = await connectSession({ kind: 'vmm', udsPath: vmm.path });
      const first = await new Promise<Buffer>((r) => socket.once('data', r));
      socket.destroy();
      expect(vmm.seen).toEqual(['CONNECT 1025\n']);
      expect(first.toString()).toBe('guest-bytes');
    } finally {
      vmm.close();
    }
  });

  test('a VM that is gone, or a VMM that refuses the port, is one clear line', async () => {
    svc = await startTestService();
    await expect(connectSession({ kind: 'vmm', udsPath: join(svc.dir, 'missing') })).rejects.toThrow(/^cannot reach the VM's vsock socket .*missing: the VM is not running \(ENOENT\)$/);
    const vmm = await fakeVmm(svc.dir, 'NO\n', Buffer.alloc(0));
    try {
      await expect(connectSession({ kind: 'vmm', udsPath: vmm.path })).rejects.toThrow(/refused the session \("NO"\): guest init is not listening on port 1025/);
    } finally {
      vmm.close();
    }
  });
});

describe('the host side of GET treats the guest as untrusted', () => {
  /** A fake guest init on a Unix socket that answers a GET with the given entries. */
  async function fakeGuest(entries: EntryMeta[], dir: string) {
    const path = join(dir, 'fake');
    const server = createServer((s) => {
      s.write(encodeHello());
      s.once('data', () => {
        for (const e of entries) s.write(encodeEntry(e));
        s.end(encodeDone({ entries: entries.length }));
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    return { path, close: () => server.close() };
  }

  test('an entry path with .. is refused by the host parser', async () => {
    svc = await startTestService();
    const fake = await fakeGuest(
      [
        { path: 'tree', type: 'dir', mode: 0o755, size: 0 },
        { path: 'tree/../../evil', type: 'file', mode: 0o644, size: 0 },
      ],
      svc.dir,
    );
    try {
      await expect(readTree(getEntries(await connectSession({ kind: 'unix', path: fake.path }), '/tree', { limits: { maxEntries: 10, maxBytes: 10 } }))).rejects.toThrow(
        'guest init sent the entry path "tree/../../evil", refused: it contains ..',
      );
    } finally {
      fake.close();
    }
  });

  test('more entries than the limit end the copy with one line naming the limit', async () => {
    svc = await startTestService();
    const many: EntryMeta[] = [{ path: 'd', type: 'dir', mode: 0o755, size: 0 }, ...Array.from({ length: 5 }, (_, i) => ({ path: `d/f${i}`, type: 'file' as const, mode: 0o644, size: 0 }))];
    const fake = await fakeGuest(many, svc.dir);
    try {
      await expect(readTree(getEntries(await connectSession({ kind: 'unix', path: fake.path }), '/d', { limits: { maxEntries: 3, maxBytes: 10 } }))).rejects.toThrow(
        'copying /d out of the VM: the guest sent more than 3 entries, the limit; copy a smaller tree',
      );
    } finally {
      fake.close();
    }
  });
});
