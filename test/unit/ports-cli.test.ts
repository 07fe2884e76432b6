// `vmstep start -p/--link` and `vmstep port` as a user runs them: the CLI of
// this checkout as its own process, its keeper detached, and the test
// double of the VMM running the real guest init in its Unix-socket test
// mode. In test mode "inside the VM" is this host, so the guest's servers
// are Node servers here and a link's address is one of this host's
// loopback addresses.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { cliBundle, launchCli, testVmmEnv } from '../helpers/cli-bundle.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-ports-cli-'));
let cli: string;
let env: NodeJS.ProcessEnv;
let image: string;

async function vmstep(...args: string[]) {
  const r = await launchCli(cli, args, { cwd: work, env }).done;
  return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr };
}

async function listen(onConnection: (s: Socket) => void, host = '127.0.0.1'): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as AddressInfo).port;
}

function exchange(port: number, host: string, send: string): Promise<{ data: string; error: string | null }> {
  return new Promise((resolve) => {
    let data = '';
    const s = connect({ port, host }, () => s.end(send));
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('end', () => resolve({ data, error: null }));
    s.on('error', (e: NodeJS.ErrnoException) => resolve({ data, error: e.code ?? e.message }));
  });
}

let echoPort = 0;

beforeAll(async () => {
  cli = await cliBundle();
  // The links' /etc/hosts: guest init's test mode writes it here, not to this host's /etc.
  const etc = join(work, 'etc');
  mkdirSync(etc);
  for (const f of ['passwd', 'group']) copyFileSync(`/etc/${f}`, join(etc, f));
  writeOciLayout(join(work, 'image'), { layers: [{ entries: [{ path: 'etc/hostname', content: 'img\n' }] }], config: { Cmd: ['true'], Env: [`PATH=${process.env.PATH}`] } });
  image = `oci:${join(work, 'image')}`;
  env = { ...testVmmEnv(work), VMSTEP_INIT_ETC: etc };
  echoPort = await listen((s) => s.pipe(s));
}, 120_000);
afterAll(async () => {
  await vmstep('stop', '--time', '0', '--all');
  rmSync(work, { recursive: true, force: true });
});

describe('vmstep start -p and --link', () => {
  it('refuses a malformed -p or a link to a VM that is not running in one line, with 125', async () => {
    const bad = await vmstep('start', '--no-command', '-p', '80', image);
    expect([bad.code, bad.stderr]).toEqual([125, 'vmstep: error: -p "80" is not [HOST_IP:]HOST_PORT:GUEST_PORT; give it as -p 8080:80 or -p 127.0.0.1:8080:80\n']);
    const nolink = await vmstep('start', '--no-command', '--link', 'db=ghost:5432', image);
    expect(nolink.code).toBe(125);
    expect(nolink.stderr).toMatch(/ghost/);
  }, 60_000);

  it('publishes a port, lists it, links a second VM to it by name, and ends carried connections with an error when the VM stops', async () => {
    const srv = await vmstep('start', '--vcpus', '1', '--memory', '128M', '--no-command', '--name', 'srv', '-p', `0:${echoPort}`, image);
    expect(srv.code, srv.stderr).toBe(0);
    const listed = (await vmstep('port', 'srv')).stdout;
    const m = new RegExp(`^${echoPort}/tcp -> 127\\.0\\.0\\.1:(\\d+)\\n$`).exec(listed);
    expect(m, listed).not.toBeNull();
    const published = Number(m![1]);
    expect(await exchange(published, '127.0.0.1', 'through the published port')).toEqual({ data: 'through the published port', error: null });

    const app = await vmstep('start', '--vcpus', '1', '--memory', '128M', '--no-command', '--name', 'app', '--link', `echo=srv:${echoPort}`, image);
    expect(app.code, app.stderr).toBe(0);
    expect((await vmstep('port', 'app')).stdout).toBe(`echo:${echoPort} (127.0.0.2) -> srv:${echoPort}\n`);
    expect(readFileSync(join(work, 'etc', 'hosts'), 'utf8')).toBe('127.0.0.2\techo\n');
    expect(await exchange(echoPort, '127.0.0.2', 'through the link')).toEqual({ data: 'through the link', error: null });

    // A connection held open through the published port ends with a reset when srv stops.
    const held = connect({ port: published, host: '127.0.0.1' });
    const ended = new Promise<string>((resolve) => {
      held.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      held.on('close', () => resolve('closed without an error'));
    });
    held.write('x');
    await new Promise((r) => setTimeout(r, 300));
    expect((await vmstep('stop', '--time', '0', 'srv')).code).toBe(0);
    expect(await ended).toBe('ECONNRESET');
    // The link's target is gone: a new connection through it is reset.
    expect((await exchange(echoPort, '127.0.0.2', 'x')).error).toBe('ECONNRESET');
  }, 120_000);
});
