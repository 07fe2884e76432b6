// The host side of a run against guests that misbehave. A fake guest (a plain
// socket speaking frames by hand) plays broken or hostile guest inits; the
// real guest init plays the fast writer for the backpressure test. Every
// failure must end the session with an error that says what happened, never a
// hang, a crash or a write outside the output directory.
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { listenForGuest } from '../../src/session/listener.js';
import {
  decodeError,
  decodeRun,
  encodeError,
  encodeExit,
  encodeFile,
  encodeFileEnd,
  encodeStarted,
  encodeTimings,
  type RunSpec,
} from '../../src/session/messages.js';
import { MessageType, PROTOCOL_VERSION, ProtocolError, encodeFrame, encodeHello } from '../../src/session/protocol.js';
import { GuestError, GuestSession, ProtocolVersionError, startGuestSession, type GuestSessionOptions } from '../../src/session/session.js';
import { collect, connectTestModeInit, frameReader } from '../helpers/guest-init.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-guest-session-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const spec: RunSpec = { argv: ['/bin/true'], env: [] };
const timings = { initStartNs: 1, specReceivedNs: 2, commandStartNs: 3, commandEndNs: 4, outputsEndNs: 5 };

/** A session whose guest end is a socket the test writes by hand. */
async function withFakeGuest(runSpec: RunSpec = spec, options: GuestSessionOptions = {}) {
  const dir = mkdtempSync(join(work, 'conn-'));
  const listener = await listenForGuest(join(dir, 'vsock'));
  const guest: Socket = connect(listener.path);
  await once(guest, 'connect');
  const session = startGuestSession(await listener.accept(), runSpec, options);
  session.stdout.resume();
  session.stderr.resume();
  cleanups.push(async () => {
    guest.destroy();
    await listener.close();
  });
  return { guest, session, frames: frameReader(guest) };
}

/** Says hello and reads the host's hello and run spec. */
async function handshake(g: Awaited<ReturnType<typeof withFakeGuest>>) {
  g.guest.write(encodeHello(PROTOCOL_VERSION, 'fake-guest'));
  expect((await g.frames.next())?.type).toBe(MessageType.Hello);
  const run = await g.frames.next();
  expect(run?.type).toBe(MessageType.Run);
  return decodeRun(run!.payload);
}

describe('the protocol version', () => {
  test('a guest speaking another version (here the older version 1) is refused, and told why', async () => {
    const g = await withFakeGuest();
    g.guest.write(encodeHello(1, 'old-init'));
    const err = await g.session.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolVersionError);
    expect((err as Error).message).toMatch(new RegExp(`^protocol version mismatch: guest init speaks version 1, this vmstep speaks version ${PROTOCOL_VERSION}; .*rebuild the root filesystem`));
    const reply = await g.frames.next();
    expect(reply?.type).toBe(MessageType.Error);
    expect(decodeError(reply!.payload)).toEqual({ stage: 'hello', message: `protocol version mismatch: the host speaks version ${PROTOCOL_VERSION}, guest init speaks version 1` });
    expect(await g.frames.next()).toBeNull(); // and the host closed the connection
  });

  test('guest init refuses a host speaking another version, and says why', async () => {
    const conn = await connectTestModeInit();
    cleanups.push(() => conn.cleanup());
    expect((await conn.frames.next())?.type).toBe(MessageType.Hello);
    conn.socket.write(encodeHello(99, 'future-host'));
    const reply = await conn.frames.next();
    expect(reply?.type).toBe(MessageType.Error);
    expect(decodeError(reply!.payload)).toEqual({
      stage: 'hello',
      message:
        `protocol version mismatch: the host speaks version 99, this guest init speaks version ${PROTOCOL_VERSION}; use the vmstep-init built with this vmstep (dist/vmstep-init, or rebuild the rootfs cache)`,
    });
    conn.socket.end();
    const exit = await conn.exited;
    expect(exit.code).toBe(1);
    expect(exit.output).toContain('vmstep-init: hello: protocol version mismatch');
  });
});

describe('a guest that breaks the protocol ends the session with a clear error', () => {
  test('a peer that does not speak it at all', async () => {
    const g = await withFakeGuest();
    g.guest.write('HTTP/1.1 200 OK\r\n\r\n');
    await expect(g.session.result).rejects.toThrow(/frame of \d+ bytes, over the 1048576-byte limit: it does not speak this protocol/);
  });

  test('a first message that is not a hello', async () => {
    const g = await withFakeGuest();
    g.guest.write(encodeFrame(MessageType.Stdout, Buffer.from('hi')));
    await expect(g.session.result).rejects.toThrow("the guest's first message is Stdout (0x11), not a vmstep hello");
  });

  test('an oversized frame, refused before its payload is buffered', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(Buffer.from([MessageType.Stdout, 0x7f, 0xff, 0xff, 0xff]));
    await expect(g.session.result).rejects.toThrow('the peer sent a Stdout (0x11) frame of 2147483647 bytes, over the 1048576-byte limit');
    // The guest is told too, before the connection drops.
    const reply = await g.frames.next();
    expect(reply?.type).toBe(MessageType.Error);
    expect(decodeError(reply!.payload).stage).toBe('protocol');
  });

  test('an unknown message type', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(encodeFrame(0x77, Buffer.alloc(3)));
    await expect(g.session.exit).rejects.toThrow('guest init sent unknown (0x77) out of order (the command had not started)');
  });

  test('a record with a field running past its end', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(encodeFrame(MessageType.Exit, Buffer.from([1, 0, 0, 0, 8, 0, 0])));
    await expect(g.session.result).rejects.toThrow('EXIT: field 1 claims 8 bytes but only 2 remain');
  });

  test('an exit code outside 0-255', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(encodeExit({ code: 300 }));
    await expect(g.session.exit).rejects.toThrow('EXIT: exit code 300 is outside 0-255');
  });

  test('output after the exit', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(Buffer.concat([encodeExit({ code: 0 }), encodeFrame(MessageType.Stdout, Buffer.from('late'))]));
    expect((await g.session.exit).code).toBe(0);
    await expect(g.session.result).rejects.toThrow('guest init sent Stdout (0x11) out of order (the command had exited with 0; 0 output files received)');
  });

  test('a connection that ends mid-run', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.end(encodeStarted({ pid: 7, commandStartNs: 1 }));
    expect(await g.session.started).toEqual({ pid: 7, commandStartNs: 1 });
    await expect(g.session.exit).rejects.toThrow(
      'guest init closed the connection before the run finished (the command was running); the VM may have crashed, run out of memory or been killed: see its console log',
    );
  });

  test("guest init's own failure arrives as a GuestError", async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(encodeError('workdir', 'cannot create the working directory /x: Read-only file system'));
    const err = await g.session.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GuestError);
    expect((err as Error).message).toBe('guest init failed (workdir): cannot create the working directory /x: Read-only file system');
  });
});

describe('output files from an untrusted guest', () => {
  const outputSpec: RunSpec = { ...spec, outputs: ['/out'], maxFiles: 2, maxFileBytes: 10 };

  async function sendFile(path: string, data: Buffer, outputDir: string, announced = data.length) {
    const g = await withFakeGuest(outputSpec, { outputDir });
    await handshake(g);
    g.guest.write(Buffer.concat([encodeExit({ code: 0 }), encodeFile({ path, mode: 0o4755, size: announced }), encodeFrame(MessageType.FileData, data), encodeFileEnd()]));
    return g;
  }

  test('are written at their guest path under the output directory, without setuid bits', async () => {
    const outputDir = join(work, 'ok');
    const g = await sendFile('/out/r.json', Buffer.from('{}'), outputDir);
    g.guest.write(encodeTimings(timings));
    const result = await g.session.result;
    expect(result.files).toEqual([{ guestPath: '/out/r.json', hostPath: join(outputDir, 'out', 'r.json'), mode: 0o4755, size: 2 }]);
    expect(result.timings).toEqual(timings);
  });

  test('a guest that sends its last file and timings and half-closes at once has a complete run', async () => {
    // Guest init shuts its side down right after the timings; the end must not
    // overtake a file still being written to disk (a bug seen on real VMs).
    const outputDir = join(work, 'half-close');
    const g = await withFakeGuest({ ...spec, outputs: ['/out'] }, { outputDir });
    await handshake(g);
    const data = Buffer.alloc(1 << 20, 7);
    g.guest.end(
      Buffer.concat([
        encodeStarted({ pid: 5, commandStartNs: 1 }),
        encodeExit({ code: 3 }),
        encodeFile({ path: '/out/f', mode: 0o644, size: data.length }),
        encodeFrame(MessageType.FileData, data.subarray(0, 1 << 19)),
        encodeFrame(MessageType.FileData, data.subarray(1 << 19)),
        encodeFileEnd(),
        encodeTimings(timings),
      ]),
    );
    const result = await g.session.result;
    expect(result.exit.code).toBe(3);
    expect(result.files.map((f) => [f.guestPath, f.size])).toEqual([['/out/f', data.length]]);
    expect(readFileSync(join(outputDir, 'out', 'f')).equals(data)).toBe(true);
  });

  test.each(['/../../escape', '/out/../../escape', 'relative', '/out//x', '/out/./x', '/'])('a path like %j is refused', async (path) => {
    const outputDir = join(work, `refuse-${readdirSync(work).length}`);
    const g = await sendFile(path, Buffer.from('x'), outputDir);
    await expect(g.session.result).rejects.toThrow(ProtocolError);
    await expect(g.session.result).rejects.toThrow(/refusing to write it/);
    expect(existsSync(join(work, 'escape'))).toBe(false);
  });

  test('a symbolic link in the output directory is never followed', async () => {
    const outputDir = join(work, 'linked');
    const target = join(work, 'link-target');
    mkdirSync(outputDir, { recursive: true });
    mkdirSync(target, { recursive: true });
    symlinkSync(target, join(outputDir, 'out'));
    const g = await sendFile('/out/x', Buffer.from('x'), outputDir);
    await expect(g.session.result).rejects.toThrow(`${join(outputDir, 'out')} exists and is not a directory (a symbolic link or a file)`);
    expect(readdirSync(target)).toEqual([]);
    writeFileSync(join(work, 'victim'), 'keep');
    symlinkSync(join(work, 'victim'), join(target, 'file-link'));
    const g2 = await sendFile('/file-link', Buffer.from('x'), target);
    await expect(g2.session.result).rejects.toThrow(`${join(target, 'file-link')} is a symbolic link`);
  });

  test('more data than announced is refused', async () => {
    const g = await sendFile('/out/a', Buffer.from('12345'), join(work, 'more'), 3);
    await expect(g.session.result).rejects.toThrow('guest init sent more than the 3 bytes it announced for /out/a');
  });

  test('less data than announced is refused and the partial file removed', async () => {
    const outputDir = join(work, 'less');
    const g = await sendFile('/out/a', Buffer.from('12'), outputDir, 5);
    await expect(g.session.result).rejects.toThrow('guest init ended /out/a after 2 of the 5 bytes it announced');
    expect(existsSync(join(outputDir, 'out', 'a'))).toBe(false);
  });

  test('a file over the size limit or beyond the count limit is refused', async () => {
    const big = await sendFile('/out/big', Buffer.alloc(11), join(work, 'big'));
    await expect(big.session.result).rejects.toThrow('guest init returned /out/big with 11 bytes, over the limit of 10 bytes per file');
    const g = await sendFile('/out/1', Buffer.from('1'), join(work, 'count'));
    for (const n of [2, 3]) g.guest.write(Buffer.concat([encodeFile({ path: `/out/${n}`, mode: 0o644, size: 0 }), encodeFileEnd()]));
    await expect(g.session.result).rejects.toThrow('guest init returned more than the 2 output files the run allows');
  });

  test('files when the spec asked for none are refused', async () => {
    const g = await withFakeGuest();
    await handshake(g);
    g.guest.write(Buffer.concat([encodeExit({ code: 0 }), encodeFile({ path: '/x', mode: 0o644, size: 0 })]));
    await expect(g.session.result).rejects.toThrow('guest init returned the file /x although the run spec asked for no outputs');
  });
});

describe('flow control', () => {
  test('a guest writing faster than the host reads is held back, and nothing is lost', async () => {
    const total = 64 * 1024 * 1024;
    const conn = await connectTestModeInit();
    cleanups.push(() => conn.cleanup());
    const session = new GuestSession(conn.socket, { argv: ['/usr/bin/head', '-c', String(total), '/dev/zero'], env: [] }, { streamHighWaterMark: 256 * 1024 });
    await session.started;
    // Nobody reads stdout for a while: the host must stop reading the socket.
    await new Promise((r) => setTimeout(r, 1000));
    const readWhileStalled = conn.socket.bytesRead;
    // One stream high-water mark plus a frame or two in flight, not the 64 MiB the command wants to write.
    expect(readWhileStalled).toBeLessThan(4 * 1024 * 1024);
    const [out] = await Promise.all([collect(session.stdout), collect(session.stderr)]);
    expect(out.length).toBe(total);
    expect(out.every((b) => b === 0)).toBe(true);
    expect((await session.result).exit.code).toBe(0);
  });

  test('a consumer that destroys a stream it does not want does not hold the run', async () => {
    const conn = await connectTestModeInit();
    cleanups.push(() => conn.cleanup());
    const session = new GuestSession(conn.socket, { argv: ['/bin/sh', '-c', 'head -c 8000000 /dev/zero >&2; echo done'], env: [] }, { streamHighWaterMark: 1024 });
    session.stderr.destroy();
    expect((await collect(session.stdout)).toString()).toBe('done\n');
    expect((await session.result).exit.code).toBe(0);
  });
});

describe('listenForGuest', () => {
  test('hands out the first connection, closes any later one, and closes without waiting for the session', async () => {
    const dir = mkdtempSync(join(work, 'listen-'));
    const listener = await listenForGuest(join(dir, 'vsock'));
    expect(listener.path).toBe(join(dir, 'vsock_1024'));
    const first = connect(listener.path);
    const accepted = await listener.accept();
    const second = connect(listener.path);
    await once(second, 'close');
    expect(accepted.destroyed).toBe(false);
    await listener.close();
    expect(existsSync(listener.path)).toBe(false);
    first.destroy();
    accepted.destroy();
  });

  test('replaces a stale socket file left by a crashed run', async () => {
    const dir = mkdtempSync(join(work, 'stale-'));
    const stale = join(dir, 'vsock_1024');
    // A process killed while listening leaves its socket file behind.
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(lstatSync(stale).isSocket()).toBe(true);
    const listener = await listenForGuest(join(dir, 'vsock'));
    const guest = connect(listener.path);
    (await listener.accept()).destroy();
    guest.destroy();
    await listener.close();
  });

  test('accept rejects when the listener closes first', async () => {
    const listener = await listenForGuest(join(mkdtempSync(join(work, 'never-')), 'vsock'));
    const rejected = expect(listener.accept()).rejects.toThrow(/guest init never connected to .*vsock_1024/);
    await listener.close();
    await rejected;
  });
});
