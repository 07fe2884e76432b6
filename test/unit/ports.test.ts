// Published ports and links in guest init's test mode: the real guest init
// (FORWARD, LINK, the relay) against the real host side (openNetwork, the
// carriers, the relay). In test mode "inside the VM" is this host's
// loopback, so the guest's servers here are plain Node servers.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { dial, readAll } from '../helpers/sockets.js';
import type { ExecEndpoint } from '../../src/session/connect.js';
import { decodeDone } from '../../src/session/messages.js';
import { encodeFrame, encodeRecord, Field, FrameDecoder, MessageType } from '../../src/session/protocol.js';
import { openNetwork, type Network } from '../../src/ports/network.js';
import { parseLinks, parsePublish } from '../../src/ports/spec.js';
import { startTestService, type TestService } from '../helpers/guest-service.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups.length = 0;
});

async function service(env: NodeJS.ProcessEnv = {}): Promise<TestService> {
  const s = await startTestService(undefined, env);
  cleanups.push(() => s.cleanup());
  await s.service.ready;
  return s;
}

/** A server "in the VM" (this host's loopback in test mode). */
async function guestServer(onConnection: (s: Socket) => void): Promise<number> {
  const open = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (s) => {
    open.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    for (const s of open) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return (server.address() as AddressInfo).port;
}

async function network(opts: Partial<Parameters<typeof openNetwork>[0]> & { ep: ExecEndpoint }): Promise<Network> {
  const { ep, ...rest } = opts;
  const n = await openNetwork({ ports: [], links: [], linkSocketPath: '', linkTarget: () => ep, ...rest });
  cleanups.push(() => n.close());
  await n.serve(ep);
  return n;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('-p and --link values', () => {
  test('a published port binds 127.0.0.1 unless a host address is given', () => {
    expect(parsePublish('8080:80')).toEqual({ hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 });
    expect(parsePublish('0.0.0.0:8080:80')).toEqual({ hostIp: '0.0.0.0', hostPort: 8080, guestPort: 80 });
  });

  test('a malformed -p or --link is refused with a line naming the fix', () => {
    expect(() => parsePublish('8080')).toThrow(/not \[HOST_IP:\]HOST_PORT:GUEST_PORT/);
    expect(() => parsePublish('8080:80/udp')).toThrow(/only TCP is carried/);
    expect(() => parsePublish('8080:70000')).toThrow(/guest port is not a port number/);
    expect(() => parsePublish('localhost:8080:80')).toThrow(/not an IPv4 address/);
    expect(() => parseLinks(['db'])).toThrow(/not NAME=VM:PORT/);
    expect(() => parseLinks(['db=a:1', 'db=b:2'])).toThrow(/linked to two VMs/);
  });

  test('each link name gets a loopback address of its own; its ports gather under it', () => {
    expect(parseLinks(['redis=r:6379', 'postgres=p:5432', 'redis=r:6380'])).toEqual([
      { name: 'redis', vm: 'r', ports: [6379, 6380], address: '127.0.0.2' },
      { name: 'postgres', vm: 'p', ports: [5432], address: '127.0.0.3' },
    ]);
  });
});

describe('a published port', () => {
  test('carries both directions intact, and a half-close (FIN) each way in order', async () => {
    const svc = await service();
    // More than the guest relay holds many times over, so its buffer fills and drains again and again.
    const fromClient = randomBytes(24 * 1024 * 1024 + 17);
    const fromServer = randomBytes(2 * 1024 * 1024 + 5);
    let serverGot: Promise<{ data: Buffer; error: string | null }> = Promise.resolve({ data: Buffer.alloc(0), error: null });
    const guestPort = await guestServer((s) => {
      // The server answers only after the client's FIN: the half-close must arrive while the other way stays open.
      serverGot = readAll(s).then((r) => {
        s.end(fromServer);
        return r;
      });
    });
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }] });
    const client = await dial(net.published[0]!.hostPort);
    const reply = readAll(client);
    client.end(fromClient);
    const got = await reply;
    expect(got.error).toBeNull();
    expect(sha(got.data)).toBe(sha(fromServer));
    expect(sha((await serverGot).data)).toBe(sha(fromClient));
  });

  test('a slow reader in the guest holds the client back without losing a byte (bounded buffers, flow control)', async () => {
    const svc = await service();
    const data = randomBytes(8 * 1024 * 1024);
    let got!: Promise<Buffer>;
    const guestPort = await guestServer((s) => {
      got = new Promise((resolve) => {
        const chunks: Buffer[] = [];
        let since = 0;
        s.on('data', (c: Buffer) => {
          chunks.push(c);
          since += c.length;
          if (since > 512 * 1024) {
            since = 0;
            s.pause();
            setTimeout(() => s.resume(), 20);
          }
        });
        s.on('end', () => {
          resolve(Buffer.concat(chunks));
          s.end();
        });
      });
    });
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }] });
    const client = await dial(net.published[0]!.hostPort);
    const done = readAll(client);
    client.end(data);
    expect((await done).error).toBeNull();
    expect(sha(await got)).toBe(sha(data));
  });

  test("the guest side's reset (RST) reaches the client as a reset", async () => {
    const svc = await service();
    const guestPort = await guestServer((s) => s.once('data', () => s.resetAndDestroy()));
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }] });
    const client = await dial(net.published[0]!.hostPort);
    const result = readAll(client);
    client.write('hello');
    expect((await result).error).toBe('ECONNRESET');
  });

  test("the client's reset reaches the guest's server as a reset", async () => {
    const svc = await service();
    let server!: Promise<{ data: Buffer; error: string | null }>;
    let connected!: () => void;
    const serverConnected = new Promise<void>((r) => (connected = r));
    const guestPort = await guestServer((s) => {
      server = readAll(s);
      connected();
    });
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }] });
    const client = await dial(net.published[0]!.hostPort);
    client.write('x');
    await serverConnected;
    await new Promise((r) => setTimeout(r, 100));
    client.resetAndDestroy();
    expect((await server).error).toBe('ECONNRESET');
  });

  test('a guest port nobody listens on is refused: the client is reset', async () => {
    const svc = await service();
    // A port that was free a moment ago: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const guestPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const lines: string[] = [];
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }], log: (l) => lines.push(l) });
    const client = await dial(net.published[0]!.hostPort);
    const r = await readAll(client);
    expect(r.error).toBe('ECONNRESET');
    expect(lines.join('\n')).toMatch(/nothing listens there \(connection refused\)/);
  });

  test('connections beyond the cap are reset while the others go on', async () => {
    const svc = await service();
    const guestPort = await guestServer((s) => s.pipe(s));
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }], maxConnections: 2 });
    const port = net.published[0]!.hostPort;
    const a = await dial(port);
    const b = await dial(port);
    await new Promise((r) => setTimeout(r, 200));
    const c = connect({ port, host: '127.0.0.1' });
    expect((await readAll(c)).error).toBe('ECONNRESET');
    const echoed = readAll(a);
    a.end('still here');
    expect((await echoed).data.toString()).toBe('still here');
    b.destroy();
  });

  test('when the VM goes away mid-connection the client gets an error, not a hang', async () => {
    const svc = await service();
    const guestPort = await guestServer(() => {});
    const net = await network({ ep: svc.endpoint, ports: [{ hostIp: '127.0.0.1', hostPort: 0, guestPort }] });
    const client = await dial(net.published[0]!.hostPort);
    const r = readAll(client);
    client.write('x');
    await new Promise((res) => setTimeout(res, 200));
    await net.close();
    expect((await r).error).toBe('ECONNRESET');
  });
});

describe('a link', () => {
  async function linkedPair(serverPort: number) {
    const target = await service();
    const etc = join(target.dir, 'etc');
    mkdirSync(etc);
    for (const f of ['passwd', 'group']) copyFileSync(`/etc/${f}`, join(etc, f));
    const linkSocketPath = join(target.dir, 'link.sock');
    const svc = await service({ VMSTEP_INIT_ETC: etc, VMSTEP_INIT_LINK_SOCKET: linkSocketPath });
    const [link] = parseLinks([`db=target:${serverPort}`]);
    const address = `127.0.0.${2 + Math.floor(Math.random() * 200)}`;
    const net = await network({ ep: svc.endpoint, links: [{ ...link!, address }], linkSocketPath, linkTarget: () => target.endpoint });
    return { etc, address, net, linkSocketPath };
  }

  test('makes the name resolve to its own loopback address and carries connections to the other VM\'s port', async () => {
    const guestPort = await guestServer((s) => s.pipe(s));
    const { etc, address } = await linkedPair(guestPort);
    expect(readFileSync(join(etc, 'hosts'), 'utf8')).toBe(`${address}\tdb\n`);
    const client = await dial(guestPort, address);
    const data = randomBytes(1024 * 1024);
    const echoed = readAll(client);
    client.end(data);
    const got = await echoed;
    expect(got.error).toBeNull();
    expect(sha(got.data)).toBe(sha(data));
  });

  test('refuses a guest that dials a name or port it was not linked to', async () => {
    const guestPort = await guestServer((s) => s.pipe(s));
    const { linkSocketPath } = await linkedPair(guestPort);
    const s = await new Promise<Socket>((resolve, reject) => {
      const c = connect(linkSocketPath, () => resolve(c));
      c.once('error', reject);
    });
    s.write(encodeFrame(MessageType.Dial, encodeRecord([[Field.Dial.name, 'db'], [Field.Dial.port, guestPort + 1]])));
    const { data } = await readAll(s);
    const [frame] = new FrameDecoder().push(data);
    expect(frame!.type).toBe(MessageType.Done);
    expect(decodeDone(frame!.payload).error).toMatch(/is not a link of this VM/);
  });
});
