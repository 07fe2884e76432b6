// virtio-vsock against real host Unix sockets, Firecracker's conventions:
// the guest connects to host port 1234 and reaches "<uds>_1234"; a host
// process connects to "<uds>" with "CONNECT <port>\n" and gets
// "OK <port>\n" once the guest accepts, or a closed socket when it refuses.
// The guest streams more than the VMM's 256 KiB credit (so it must wait for
// credit updates) and advertises only 8 KiB itself (so the VMM must wait
// for the guest's).
import { createServer, connect, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchTestGuest, nativeBuild, scratch } from './vm-helpers.js';

const work = scratch('kvm-vsock');
afterAll(() => work.remove());
beforeAll(async () => {
  await nativeBuild();
}, 600_000);

const pattern = (n: number, mul: number, add: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * mul + add) & 0xff));

function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** Host-initiated: CONNECT, then the first line of the reply ('' if the socket just closed). */
function hostConnect(uds: string, port: number): Promise<{ socket: Socket; line: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(uds);
    let got = '';
    socket.on('connect', () => socket.write(`CONNECT ${port}\n`));
    const onData = (d: Buffer) => {
      got += d.toString('latin1');
      const nl = got.indexOf('\n');
      if (nl >= 0) {
        socket.off('data', onData);
        resolve({ socket, line: got.slice(0, nl) });
      }
    };
    socket.on('data', onData);
    socket.on('end', () => resolve({ socket, line: '' }));
    socket.on('error', reject);
  });
}

test('streams both ways with credit flow control, then host-initiated connections are accepted or refused', { timeout: 120_000 }, async () => {
  const uds = join(work.dir, 'v.sock');
  const guestBytes = 270_000;
  const hostBytes = 100_000;
  // Half-open: the guest's half-close must not end our side before we answer.
  const server = createServer({ allowHalfOpen: true });
  const guestConn = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((r) => server.listen(`${uds}_1234`, r));
  try {
    const vm = await launchTestGuest({ test: 'vsock', args: `vmstep.vsock_bytes=${guestBytes}`, vsockUdsPath: uds, timeoutMs: 100_000 });
    const sock = await guestConn;
    // The guest half-closes after its stream: we read to EOF, then answer.
    const fromGuest = await readAll(sock);
    expect(fromGuest.length).toBe(guestBytes);
    expect(fromGuest.equals(pattern(guestBytes, 31, 7))).toBe(true);
    await new Promise<void>((r) => sock.end(pattern(hostBytes, 17, 3), r));

    const refused = await hostConnect(uds, 6001);
    expect(refused.line).toBe('');
    const accepted = await hostConnect(uds, 6000);
    expect(accepted.line).toMatch(/^OK \d+$/);
    const reply = new Promise<string>((r) => accepted.socket.once('data', (d: Buffer) => r(d.toString())));
    accepted.socket.write('ping');
    expect(await reply).toBe('pong\n');
    accepted.socket.end();

    const exit = await vm.exited;
    expect(exit.reason).toBe('poweroff');
    const c = exit.consoleTail;
    expect(c).toContain('VSOCK GUEST_CID 3');
    expect(c).toMatch(/VSOCK SENT 270000 credit_waits=[1-9]/);
    expect(c).toContain('VSOCK HOST SHUTDOWN flags=2');
    expect(c).toContain(`VSOCK RECEIVED ${hostBytes} bad=0`);
    expect(c).toContain('VSOCK REFUSED port=6001');
    expect(c).toContain('VSOCK HOST CONN CLOSED');
    // The VMM's listening socket is gone with the VM.
    expect(existsSync(uds)).toBe(false);
  } finally {
    server.close();
  }
});

test('a guest connection to a port nobody listens on is reset', async () => {
  const uds = join(work.dir, 'nobody.sock');
  const vm = await launchTestGuest({ test: 'vsock', args: 'vmstep.vsock_bytes=10', vsockUdsPath: uds, timeoutMs: 30_000 });
  const exit = await vm.exited;
  expect(exit.consoleTail).toContain('VSOCK CONNECT FAILED op=3'); // RST
});

test('the vsock socket path must not exist already', async () => {
  const uds = join(work.dir, 'taken.sock');
  const server = createServer();
  await new Promise<void>((r) => server.listen(uds, r));
  try {
    await expect(launchTestGuest({ test: 'hello', vsockUdsPath: uds })).rejects.toThrow(/exists already/);
  } finally {
    server.close();
  }
});

test('a guest that sends without taking replies is held back, and gets every reply once it reads', async () => {
  const uds = join(work.dir, 'flood.sock');
  const exit = await (await launchTestGuest({ test: 'vsockflood', vsockUdsPath: uds, timeoutMs: 40_000 })).exited;
  expect(exit.reason, exit.consoleTail).toBe('poweroff');
  // The device stopped taking packets at 512 waiting replies (VsockMuxer::kTxPauseAt), before its hard limit.
  expect(exit.consoleTail).toContain('FLOOD TAKEN_WITHOUT_RX 512');
  expect(exit.consoleTail).toContain('FLOOD SENT 1500 RESETS 1500 OTHER 0');
});
