// Long-lived VMs end to end on the real guest kernel and our VMM: the CLI of
// this checkout as its own processes (start, exec, cp, ps, logs, stop), each
// VM's keeper detached. Boots are slow inside the emulated KVM host, so each
// VM serves many checks: A (--no-command) takes the execs and copies, B runs
// a main process, C waits for capacity and then meets its lifetime after its
// starter was SIGKILLed.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeBusyboxLayout } from '../helpers/busybox-image.js';
import { cliBundle, launchCli, lifecycleEnv, type CliRun } from '../helpers/cli-bundle.js';
import { tempDirForAnyone } from '../helpers/dist-process.js';
import { builtArtifacts } from '../helpers/artifacts.js';
import { guestInitBinary } from '../helpers/guest-init.js';
import { nativeBuild } from '../kvm/vm-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-e2e-lc-'));
const state = join(work, 'state');
const cache = join(work, 'cache');
let cli: string;
let env: NodeJS.ProcessEnv;
let image: string;

type Ran = CliRun;
const launch = (args: string[], opts: { stdin?: Buffer; env?: NodeJS.ProcessEnv; uid?: number } = {}) =>
  launchCli(cli, args, { cwd: work, env: { ...env, ...opts.env }, ...(opts.stdin ? { stdin: opts.stdin } : {}), ...(opts.uid !== undefined ? { uid: opts.uid } : {}) });
const vmstep = (args: string[], opts: Parameters<typeof launch>[1] = {}) => launch(args, opts).done;
const text = (r: Ran) => r.stdout.toString();
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const record = (id: string) => JSON.parse(readFileSync(join(state, 'vms', id, 'vm.json'), 'utf8'));
const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
async function until(what: string, ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
/** One VM of 1 vCPU and 192 MiB; the budget below holds two. */
const SMALL = ['--vcpus', '1', '--memory', '192M'];

beforeAll(async () => {
  cli = await cliBundle();
  await nativeBuild(); // sets VMSTEP_VMM and VMSTEP_ADDON to this tree's build
  image = `oci:${join(work, 'image')}`;
  writeBusyboxLayout(join(work, 'image'), { Cmd: ['/bin/sh', '-c', 'echo server-up; while [ ! -e /tmp/quit ]; do sleep 0.2; done; echo server-bye >&2; exit 5'] });
  env = lifecycleEnv(work, { vmm: process.env.VMSTEP_VMM!, addon: process.env.VMSTEP_ADDON!, init: guestInitBinary(), kernel: builtArtifacts().guestKernel });

}, 600_000);
afterAll(async () => {
  await vmstep(['stop', '--time', '0', '--all']);
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('VM A, started with --no-command, serving execs and copies', () => {
  let id = '';
  beforeAll(async () => {
    const r = await vmstep(['start', ...SMALL, '--no-command', '--name', 'a', image]);
    expect(r.code, r.stderr).toBe(0);
    id = text(r).trim();
  }, 300_000);

  test('start printed its ID and ps lists it as running', async () => {
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(text(await vmstep(['ps']))).toMatch(new RegExp(`^${id} +a +oci:.* +up .* ago +1 +192 MiB$`, 'm'));
  }, 60_000);

  test('three concurrent execs each give their own output and exit status', async () => {
    const rs = await Promise.all([1, 2, 3].map((n) => vmstep(['exec', 'a', 'sh', '-c', `sleep 1; echo out-${n}; exit ${10 + n}`])));
    expect(rs.map((r) => [r.code, text(r)])).toEqual([
      [11, 'out-1\n'],
      [12, 'out-2\n'],
      [13, 'out-3\n'],
    ]);
  }, 120_000);

  test('exec -i carries 10 MiB of binary stdin', async () => {
    const data = randomBytes(10 * 2 ** 20);
    const r = await vmstep(['exec', '-i', 'a', 'sha256sum'], { stdin: data });
    expect(r.code, r.stderr).toBe(0);
    expect(text(r).split(' ')[0]).toBe(sha256(data));
  }, 180_000);

  test('an exec whose timeout fires ends with 124, and the VM serves the next exec', async () => {
    const r = await vmstep(['exec', '--timeout', '2s', 'a', 'sleep', '600']);
    expect(r.code).toBe(124);
    const next = await vmstep(['exec', 'a', 'echo', 'next']);
    expect([next.code, text(next)]).toEqual([0, 'next\n']);
  }, 120_000);

  test('cp copies a tree in and out with matching sha256s, and a guest link pointing outside is copied as a link, not followed', async () => {
    const src = join(work, 'tree');
    mkdirSync(join(src, 'deep', 'er'), { recursive: true });
    const files: Record<string, Buffer> = { 'one.bin': randomBytes(3 * 2 ** 20), 'deep/two.txt': Buffer.from('two\n'), 'deep/er/three.bin': randomBytes(70_000) };
    for (const [p, b] of Object.entries(files)) writeFileSync(join(src, p), b);
    chmodSync(join(src, 'deep', 'two.txt'), 0o640);
    let r = await vmstep(['cp', src, 'a:/tmp/']);
    expect(r.code, r.stderr).toBe(0);
    const sums = await vmstep(['exec', '-w', '/tmp/tree', 'a', 'sha256sum', ...Object.keys(files)]);
    expect(text(sums)).toBe(Object.entries(files).map(([p, b]) => `${sha256(b)}  ${p}\n`).join(''));
    expect((await vmstep(['exec', 'a', 'ln', '-s', '/etc', '/tmp/tree/escape'])).code).toBe(0);
    const back = join(work, 'back');
    r = await vmstep(['cp', 'a:/tmp/tree', back]);
    expect(r.code, r.stderr).toBe(0);
    for (const [p, b] of Object.entries(files)) expect(sha256(readFileSync(join(back, p))), p).toBe(sha256(b));
    expect(statSync(join(back, 'deep', 'two.txt')).mode & 0o777).toBe(0o640);
    expect(lstatSync(join(back, 'escape')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(back, 'escape'))).toBe('/etc');
  }, 180_000);

  test('another Unix user can neither exec into nor stop it', async () => {
    if (process.getuid?.() !== 0) {
      console.warn('skipped: needs root to run vmstep as another user');
      return;
    }
    const other = tempDirForAnyone('vmstep-e2e-other-');
    try {
      const as = { uid: 4242, env: { HOME: other, TMPDIR: other, XDG_RUNTIME_DIR: '' } };
      // Pointed at my state directory, it is refused; with its own, my VM does not exist for it.
      const mine = await vmstep(['exec', id, 'true'], { ...as, env: { ...as.env, VMSTEP_STATE_DIR: state } });
      expect(mine.code).toBe(125);
      expect(mine.stderr).toMatch(/^vmstep: error: (the vmstep state directory .* belongs to user 0, not to you|permission denied)/);
      expect(mine.stderr.trim().split('\n')).toHaveLength(1);
      const own = await vmstep(['stop', id], { ...as, env: { ...as.env, VMSTEP_STATE_DIR: join(other, 'state') } });
      expect(own.code).toBe(125);
      expect(own.stderr).toBe(`vmstep: error: no such VM: ${id}; see \`vmstep ps -a\` for your VMs\n`);
      expect(record(id).status).toBe('running');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 300_000);

  test('an unknown VM name ends in one line and 125', async () => {
    const r = await vmstep(['exec', 'no-such-vm', 'true']);
    expect([r.code, r.stderr]).toEqual([125, 'vmstep: error: no such VM: no-such-vm; see `vmstep ps -a` for your VMs\n']);
  }, 60_000);
});

describe('VM B, whose image command runs a server, and the capacity budget', () => {
  let b = '';
  test('starts, keeps its output for logs, and a start beyond the budget is refused in one line with 125', async () => {
    const r = await vmstep(['start', ...SMALL, '--name', 'b', image]);
    expect(r.code, r.stderr).toBe(0);
    b = text(r).trim();
    await until('the server has printed', 120_000, () => readFileSync(join(state, 'vms', b, 'main.log'), 'utf8').includes('server-up'));
    const over = await vmstep(['start', ...SMALL, '--no-command', '--name', 'c', image]);
    expect(over.code).toBe(125);
    expect(over.stderr.trim().split('\n')).toHaveLength(1);
    expect(over.stderr).toMatch(/^vmstep: error: .*vm a.*vm b|^vmstep: error: .*vm b.*vm a/);
  }, 300_000);

  test('with the budget full, start --wait proceeds once B stops with its main process, although its starter was SIGKILLed, and C ends at its lifetime', async () => {
    const starter = launch(['start', ...SMALL, '--no-command', '--name', 'c', '--wait', '--lifetime', '40s', image]);
    await until("c's keeper is in line", 120_000, () => readdirSync(join(work, 'capacity')).filter((f) => f.endsWith('.json')).length >= 3);
    // The starter goes; C's keeper, detached, stays in line.
    starter.child.kill('SIGKILL');
    // B's main process ends: the VM stops with its exit status, its output kept.
    expect((await vmstep(['exec', 'b', 'touch', '/tmp/quit'])).code).toBe(0);
    await until('b has exited', 120_000, () => record(b).status === 'exited');
    expect(record(b).exitCode).toBe(5);
    expect(text(await vmstep(['logs', 'b']))).toBe('server-up\nserver-bye\n');
    const stopped = await vmstep(['exec', 'b', 'true']);
    expect([stopped.code, stopped.stderr.trim().split('\n').length]).toEqual([125, 1]);
    expect(stopped.stderr).toMatch(/^vmstep: error: VM b is not running: its main process exited with status 5/);

    // C got B's share, booted (its exec defaults are recorded at launch) and ended at its lifetime, its VMM gone.
    const cDir = () => readdirSync(join(state, 'vms')).find((d) => record(d).name === 'c');
    await until('c has ended', 300_000, () => record(cDir()!).status === 'exited');
    const c = record(cDir()!);
    expect(c.exec).not.toBeNull();
    expect(c.error).toBe('stopped at its lifetime limit');
    const vmms = readdirSync('/proc').filter((p) => /^\d+$/.test(p) && (() => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(join(state, 'vms', c.id));
      } catch {
        return false;
      }
    })());
    expect(vmms).toEqual([]);
    expect(text(await vmstep(['ps', '-a']))).toMatch(new RegExp(`^${c.id} +c +.* exited `, 'm'));
  }, 700_000);
});

describe('stop', () => {
  test('leaves no VMM process, socket, disk copy or state behind', async () => {
    const id = text(await vmstep(['ps', '--format', 'json'])).includes('"a"') ? JSON.parse(text(await vmstep(['ps', '--format', 'json']))).find((v: { name: string }) => v.name === 'a').id : '';
    expect(id).not.toBe('');
    const r0 = record(id);
    const overlays = () => (existsSync(join(cache, 'runs')) ? readdirSync(join(cache, 'runs')).filter((d) => d.startsWith(`${r0.keeper.pid}-`)) : []);
    expect(overlays()).toHaveLength(1);
    const r = await vmstep(['stop', '--time', '2', 'a']);
    expect([r.code, text(r)]).toEqual([0, 'a\n']);
    expect(alive(r0.vmm.pid)).toBe(false);
    expect(alive(r0.keeper.pid)).toBe(false);
    expect(existsSync(join(state, 'vms', id))).toBe(false);
    expect(overlays()).toEqual([]);
    const sockets = readFileSync('/proc/net/unix', 'utf8');
    expect(sockets).not.toContain(id);
    // By its ID: the name "a" is also a hex ID prefix, which another VM of this file's can match once "a" is gone.
    const after = await vmstep(['exec', id, 'true']);
    expect([after.code, after.stderr]).toEqual([125, `vmstep: error: no such VM: ${id}; see \`vmstep ps -a\` for your VMs\n`]);
  }, 120_000);
});
