// Published ports and links end to end on the real guest kernel and our
// VMM, through the CLI of this checkout (start -p/--link, port, exec, stop),
// with real servers from Debian's packages in a Debian-based image. Boots
// are slow inside the emulated KVM host, so two VMs serve every check: srv
// (busybox httpd, redis-server, nc; its ports published) and cli (linked to
// srv's redis by name). PostgreSQL through a link is checked by the runner
// plugin's services test (hooks-services.test.ts).
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { vmLogs } from '../../scripts/lib/vm-logs.mjs';
import { dial, freePort, readAll } from '../helpers/sockets.js';
import { builtArtifacts } from '../helpers/artifacts.js';
import { cliBundle, launchCli, lifecycleEnv } from '../helpers/cli-bundle.js';
import { guestInitBinary } from '../helpers/guest-init.js';
import { buildServiceImage } from '../helpers/service-images.js';
import { nativeBuild } from '../kvm/vm-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-ports-'));
let cli: string;
let env: NodeJS.ProcessEnv;
let image: string;

const launch = (args: string[]) => launchCli(cli, args, { cwd: work, env });
const vmstep = (...args: string[]) => launch(args).done;
async function ok(...args: string[]): Promise<string> {
  const r = await vmstep(...args);
  expect(r.code, `vmstep ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.toString();
}
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function httpGet(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** Retries until check passes (a server in the VM coming up). */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await delay(500);
  }
}

/**
 * Until a TCP socket in the VM listens on the port, IPv4 or IPv6 (read from
 * /proc, so that no tool is needed in the image). A timeout says what the
 * last check answered and what the VMs went through.
 */
async function listening(vm: string, port: number): Promise<void> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let last = '';
  try {
    await until(`port ${port} listens in ${vm}`, 240_000, async () => {
      const r = await vmstep('exec', vm, 'grep', '-qs', `:${hex} [0-9A-F:]* 0A `, '/proc/net/tcp', '/proc/net/tcp6');
      last = `exit ${r.code}: ${r.stderr.toString()}`;
      return r.code === 0;
    });
  } catch (err) {
    const sockets = await vmstep('exec', vm, 'sh', '-c', 'cat /proc/net/tcp /proc/net/tcp6; cat /tmp/*.log');
    throw new Error(`${(err as Error).message} (last check: ${last}); in the VM: ${sockets.stdout}${sockets.stderr}\n${vmLogs(join(work, 'state'))}`);
  }
}

const ports = { http: 0, upload: 0, hold: 0, nobody: 0 };

beforeAll(async () => {
  cli = await cliBundle();
  await nativeBuild();
  await buildServiceImage(join(work, 'image'));
  image = `oci:${join(work, 'image')}`;
  env = lifecycleEnv(work, { vmm: process.env.VMSTEP_VMM!, addon: process.env.VMSTEP_ADDON!, init: guestInitBinary(), kernel: builtArtifacts().guestKernel });
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  await ok('start', '--vcpus', '1', '--memory', '384M', '--disk', '1G', '--no-command', '--name', 'srv', '-p', `${ports.http}:8080`, '-p', `127.0.0.1:${ports.upload}:9001`, '-p', `${ports.hold}:9002`, '-p', `${ports.nobody}:7777`, image);
  // A server that outlives its exec: a background process an exec leaves running lives on, as with docker exec.
  await ok('exec', 'srv', 'sh', '-c', 'httpd -f -p 127.0.0.1:8080 -h /www >/tmp/httpd.log 2>&1 &');
  await listening('srv', 8080);
}, 600_000);

// A failed check says what the VMs went through: their keepers' logs and the guests' consoles.
afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(vmLogs(join(work, 'state')));
});

afterAll(async () => {
  await vmstep('stop', '--time', '0', '--all');
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('published ports (-p)', () => {
  /**
   * Sends 100 MiB of random bytes to the upload port, where `reader` (a
   * shell command in srv) takes them; resolves once it exited. The client's
   * connection must end cleanly (the guest's FIN after its reader took
   * everything): a reset or a broken connection fails here, by name, rather
   * than as a checksum that differs.
   */
  async function upload(reader: string) {
    const nc = launch(['exec', 'srv', 'sh', '-c', reader]);
    await listening('srv', 9001);
    const data = randomBytes(100 * 2 ** 20);
    const s = await dial(ports.upload);
    const end = readAll(s);
    s.end(data);
    const sent = await end;
    const r = await nc.done;
    expect(sent.error, `the client's connection ended with ${sent.error} after ${s.bytesWritten} bytes; the reader said: ${r.stdout}${r.stderr}`).toBeNull();
    expect(s.bytesWritten).toBe(data.length);
    return { r, data };
  }

  test('make the guest HTTP server reachable from the host with curl, and vmstep port lists them', async () => {
    const curl = spawn('curl', ['-sS', `http://127.0.0.1:${ports.http}/index.html`]);
    let body = '';
    curl.stdout.on('data', (d: Buffer) => (body += d.toString()));
    expect(await new Promise((r) => curl.on('close', r))).toBe(0);
    expect(body).toBe('hello from the guest\n');
    expect(await ok('port', 'srv')).toBe(
      [`8080/tcp -> 127.0.0.1:${ports.http}`, `9001/tcp -> 127.0.0.1:${ports.upload}`, `9002/tcp -> 127.0.0.1:${ports.hold}`, `7777/tcp -> 127.0.0.1:${ports.nobody}`, ''].join('\n'),
    );
  }, 120_000);

  test('carry 100 MiB out of the guest intact (sha256)', async () => {
    const sum = await ok('exec', 'srv', 'sh', '-c', 'head -c 104857600 /dev/urandom > /www/big && sha256sum /www/big');
    const r = await httpGet(ports.http, '/big');
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(104857600);
    expect(sha256(r.body)).toBe(sum.split(' ')[0]);
  }, 600_000);

  test('carry 100 MiB into the guest intact (sha256 of what the guest\'s reader got), the client\'s FIN ending it', async () => {
    const { r, data } = await upload('nc -l -p 9001 | sha256sum');
    expect(r.code, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString().split(' ')[0]).toBe(sha256(data));
  }, 600_000);

  // Inside the emulated KVM host this hash has come out wrong in about half
  // the runs (and the VM has triple-faulted), while byte-by-byte checks of
  // the same transfers, written to the disk the same way, found every byte
  // intact, and sha256sum there crashed outright once AVX was taken out of
  // the emulated CPU: the emulation, not the carried data, as far as it was
  // checked (README, Limits). It runs with VMSTEP_E2E_UPLOAD_TO_DISK=1.
  test.runIf(process.env.VMSTEP_E2E_UPLOAD_TO_DISK === '1')('carry 100 MiB into the guest\'s disk intact (sha256)', async () => {
    const { r, data } = await upload('nc -l -p 9001 > /tmp/up');
    expect(r.code, r.stderr.toString()).toBe(0);
    expect((await ok('exec', 'srv', 'sha256sum', '/tmp/up')).split(' ')[0]).toBe(sha256(data));
  }, 600_000);

  test('refuse what is not published: a published port nobody listens on is reset, an unpublished one refused', async () => {
    const s = await dial(ports.nobody);
    expect((await readAll(s)).error).toBe('ECONNRESET');
    await expect(dial(await freePort())).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});

describe('links (--link)', () => {
  beforeAll(async () => {
    await ok('exec', 'srv', 'redis-server', '--daemonize', 'yes', '--bind', '127.0.0.1', '--port', '6379', '--save', '', '--logfile', '/tmp/redis.log');
    await ok('start', '--vcpus', '1', '--memory', '192M', '--no-command', '--name', 'cli', '--link', 'redis=srv:6379', image);
  }, 600_000);

  test('a VM reaches redis by redis:6379 (SET/GET with redis-cli)', async () => {
    expect(await ok('exec', 'cli', 'redis-cli', '-h', 'redis', '-p', '6379', 'SET', 'greeting', 'over-vsock')).toBe('OK\n');
    expect(await ok('exec', 'cli', 'redis-cli', '-h', 'redis', '-p', '6379', 'GET', 'greeting')).toBe('over-vsock\n');
  }, 120_000);

  test('nothing else of the linked VM is reachable: its HTTP port is not linked', async () => {
    const r = await vmstep('exec', 'cli', 'sh', '-c', 'echo GET / | nc -w 5 redis 8080');
    expect(r.code).not.toBe(0);
  }, 120_000);
});

describe('stopping a VM mid-connection', () => {
  /** Rejects, naming what it waited for, when the promise takes longer than ms: a hang fails with its place. */
  const within = <T>(what: string, ms: number, p: Promise<T>): Promise<T> =>
    Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still waiting after ${ms / 1000} s until ${what}`)), ms).unref())]);

  test('ends its published and linked connections (FIN or reset; the linked client errs), not a hang', async () => {
    // nc's stdin never ends, so nothing but the stop ends this connection;
    // the line it sends first shows the connection reached it (a connection
    // reset before that would prove nothing).
    const holder = launch(['exec', 'srv', 'sh', '-c', '(echo connected; sleep 600) | nc -l -p 9002 > /dev/null']);
    await listening('srv', 9002);
    const s = await dial(ports.hold);
    await within('the guest\'s first line arrives', 60_000, new Promise<void>((resolve, reject) => {
      let seen = '';
      s.on('data', (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('connected\n')) resolve();
      });
      s.once('error', reject);
    }));
    s.write('hello');
    // The stop kills nc: its socket closes, which the client sees as the
    // guest's FIN (as with a container that stops); a connection still open
    // when the VM goes is reset. Either ends it; a hang would not.
    const published = new Promise<string>((resolve) => {
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      s.once('end', () => resolve('FIN'));
      s.once('close', () => resolve('closed'));
    });
    const blpop = launch(['exec', 'cli', 'redis-cli', '-h', 'redis', '-p', '6379', 'BLPOP', 'never', '0']);
    await until('redis serves the blocked BLPOP', 180_000, async () => (await vmstep('exec', 'srv', 'sh', '-c', 'redis-cli client list | grep -q cmd=blpop')).code === 0);
    await ok('stop', '--time', '0', 'srv');
    expect(['ECONNRESET', 'FIN']).toContain(await within('the published connection ends', 60_000, published));
    const linked = await within('the linked BLPOP ends', 60_000, blpop.done);
    expect(linked.code).not.toBe(0);
    await within("the exec of srv's nc ends", 60_000, holder.done);
  }, 600_000);
});
