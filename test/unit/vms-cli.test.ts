// The lifecycle commands (start, exec, cp, ps, logs, stop) as a user runs
// them: the CLI of this checkout as its own process, its keeper detached,
// and the test double of the VMM (test/helpers/test-vmm.mjs) running the real
// guest init in its Unix-socket test mode, so that every exec and copy goes
// through the real protocol. In test mode the guest's commands and paths are
// this host's, so guest paths below live in the test's directory.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeOciLayout } from '../fixtures/oci-images.js';
import { cliBundle, launchCli, testVmmEnv, type CliRun } from '../helpers/cli-bundle.js';

const work = mkdtempSync(join(tmpdir(), 'vmstep-vms-'));
const state = join(work, 'state');
let cli: string;
let image: string;
let env: NodeJS.ProcessEnv;

type Ran = CliRun;
const vmstep = (args: string[], opts: { stdin?: Buffer; env?: NodeJS.ProcessEnv } = {}) => launchCli(cli, args, { cwd: work, env: { ...env, ...opts.env }, ...(opts.stdin ? { stdin: opts.stdin } : {}) }).done;

const text = (r: Ran) => r.stdout.toString();
const SMALL = ['--vcpus', '1', '--memory', '128M'];

/** `vmstep ps -a` as soon as it shows the VM NAME exited, or when `ms` have passed. */
async function psOnceExited(name: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let ps = text(await vmstep(['ps', '-a']));
  while (!new RegExp(`${name} +.* exited`).test(ps) && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 200));
    ps = text(await vmstep(['ps', '-a']));
  }
  return ps;
}

beforeAll(async () => {
  cli = await cliBundle();
  const dir = join(work, 'image');
  writeOciLayout(dir, { layers: [{ entries: [{ path: 'etc/hostname', content: 'img\n' }] }], config: { Entrypoint: ['sh', '-c'], Cmd: ['echo image-cmd'], Env: ['GREETING=from-image', `PATH=${process.env.PATH}`] } });
  image = `oci:${dir}`;
  env = testVmmEnv(work);
}, 120_000);
afterAll(async () => {
  await vmstep(['stop', '--time', '0', '--all']);
  rmSync(work, { recursive: true, force: true });
});

describe('a VM started with --no-command', () => {
  let id = '';
  beforeAll(async () => {
    const r = await vmstep(['start', ...SMALL, '--no-command', '--name', 'box', '-e', 'FROM_START=yes', image]);
    expect(r.code, r.stderr).toBe(0);
    id = text(r).trim();
  }, 60_000);

  it('prints a 12-hex ID and records the VM in a 0700 directory of its own', () => {
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(join(state, 'vms', id, 'vm.json'), 'utf8'))).toMatchObject({ id, name: 'box', status: 'running', vcpus: 1, memoryMiB: 128 });
  });

  it('is listed by ps as running, in the table and as JSON', async () => {
    const table = text(await vmstep(['ps']));
    expect(table.split('\n')[0]).toMatch(/^ID +NAME +IMAGE +STATUS +CREATED +VCPUS +MEMORY$/);
    expect(table).toMatch(new RegExp(`^${id} +box +oci:.* +up .* ago +1 +128 MiB$`, 'm'));
    const json = JSON.parse(text(await vmstep(['ps', '--format', 'json'])));
    expect(json).toEqual([expect.objectContaining({ id, name: 'box', status: 'running' })]);
  });

  it('runs a command by name, by ID and by ID prefix, with the image env, the start env and its own, exiting with its status', async () => {
    const r = await vmstep(['exec', '-e', 'MINE=1', 'box', 'sh', '-c', 'echo "$GREETING $FROM_START $MINE"; echo err >&2; exit 7']);
    expect(r.code).toBe(7);
    expect(text(r)).toBe('from-image yes 1\n');
    expect(r.stderr).toBe('err\n');
    expect((await vmstep(['exec', id, 'true'])).code).toBe(0);
    expect((await vmstep(['exec', id.slice(0, 4), 'false'])).code).toBe(1);
  });

  it('runs three execs at once, each with its own output and status', async () => {
    const rs = await Promise.all([1, 2, 3].map((n) => vmstep(['exec', 'box', 'sh', '-c', `sleep 0.5; echo exec-${n}; exit ${n}`])));
    expect(rs.map((r) => [r.code, text(r)])).toEqual([
      [1, 'exec-1\n'],
      [2, 'exec-2\n'],
      [3, 'exec-3\n'],
    ]);
  });

  it('streams binary stdin with -i', async () => {
    const data = randomBytes(3 * 2 ** 20);
    const r = await vmstep(['exec', '-i', 'box', 'sha256sum'], { stdin: data });
    expect(r.code, r.stderr).toBe(0);
    expect(text(r).split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('kills only the command at its --timeout (124), and the VM serves the next exec', async () => {
    const r = await vmstep(['exec', '--timeout', '500ms', 'box', 'sleep', '30']);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/^vmstep: the command ran past its time limit of 500 ms and was killed; the VM goes on \(exit status 124\)$/m);
    expect(text(await vmstep(['exec', 'box', 'echo', 'still-here']))).toBe('still-here\n');
  }, 20_000);

  it('copies a tree in and out with modes and links kept, and never follows a link the guest made', async () => {
    const src = join(work, 'tree');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'a.bin'), randomBytes(200_000));
    writeFileSync(join(src, 'sub', 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(src, 'sub', 'run.sh'), 0o750);
    symlinkSync('a.bin', join(src, 'link'));
    const guestDir = join(work, 'guest');
    mkdirSync(guestDir);
    let r = await vmstep(['cp', src, `box:${guestDir}/`]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(guestDir, 'tree', 'a.bin'))).toEqual(readFileSync(join(src, 'a.bin')));
    expect(statSync(join(guestDir, 'tree', 'sub', 'run.sh')).mode & 0o777).toBe(0o750);
    expect(readlinkSync(join(guestDir, 'tree', 'link'))).toBe('a.bin');

    // The guest makes a link pointing outside; copied out it stays a link, and nothing is written where it points.
    const outside = join(work, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(guestDir, 'tree', 'escape'));
    const back = join(work, 'back');
    r = await vmstep(['cp', `box:${guestDir}/tree`, back]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(back, 'a.bin'))).toEqual(readFileSync(join(src, 'a.bin')));
    expect(statSync(join(back, 'sub', 'run.sh')).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(back, 'escape')).isSymbolicLink()).toBe(true);
    expect(readdirSync(outside)).toEqual([]);
  });

  it('copies a tar stream in from stdin and out to stdout with -', async () => {
    const into = join(work, 'tar-in');
    mkdirSync(into);
    const tarred = await new Promise<Buffer>((resolve) => {
      const c = spawn('tar', ['-C', join(work, 'tree'), '-cf', '-', '.']);
      const parts: Buffer[] = [];
      c.stdout.on('data', (d: Buffer) => parts.push(d));
      c.on('close', () => resolve(Buffer.concat(parts)));
    });
    let r = await vmstep(['cp', '-', `box:${into}`], { stdin: tarred });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(into, 'a.bin'))).toEqual(readFileSync(join(work, 'tree', 'a.bin')));
    r = await vmstep(['cp', `box:${into}/sub`, '-']);
    expect(r.code, r.stderr).toBe(0);
    const listing = await new Promise<string>((resolve) => {
      const c = spawn('tar', ['-tvf', '-']);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('close', () => resolve(out));
      c.stdin.end(r.stdout);
    });
    expect(listing).toMatch(/^drwx.* sub\/$/m);
    expect(listing).toMatch(/^-rwxr-x---.* sub\/run\.sh$/m);
  });

  it('stop powers it off and leaves no process, socket or record behind', async () => {
    const record = JSON.parse(readFileSync(join(state, 'vms', id, 'vm.json'), 'utf8'));
    const r = await vmstep(['stop', '--time', '1', 'box']);
    expect(r.code, r.stderr).toBe(0);
    expect(text(r)).toBe('box\n');
    expect(existsSync(join(state, 'vms', id))).toBe(false);
    for (const p of [record.keeper.pid, record.vmm.pid]) expect(existsSync(`/proc/${p}`) && !readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z ')).toBe(false);
    const after = await vmstep(['exec', 'box', 'true']);
    expect(after.code).toBe(125);
    expect(after.stderr).toBe('vmstep: error: no such VM: box; see `vmstep ps -a` for your VMs\n');
  }, 30_000);
});

describe('a VM with a main process', () => {
  it('keeps its output for logs, stops with its exit, and ps -a shows its status until stop removes it', async () => {
    const r = await vmstep(['start', ...SMALL, '--name', 'server', image, 'echo serving; sleep 1; echo done >&2; exit 3']);
    expect(r.code, r.stderr).toBe(0);
    const ps = await psOnceExited('server', 15_000);
    expect(ps).toMatch(/^[0-9a-f]{12} +server +.* exited \(3\) /m);
    expect(text(await vmstep(['ps']))).not.toMatch(/server/);
    expect(text(await vmstep(['logs', 'server']))).toBe('serving\ndone\n');
    const exec = await vmstep(['exec', 'server', 'true']);
    expect(exec.code).toBe(125);
    expect(exec.stderr).toBe('vmstep: error: VM server is not running: its main process exited with status 3; start a new one with vmstep start; `vmstep stop server` removes this record\n');
    expect((await vmstep(['stop', 'server'])).code).toBe(0);
    expect(text(await vmstep(['ps', '-a']))).not.toMatch(/server/);
  }, 30_000);
});

describe('limits', () => {
  it('ends a VM at its lifetime even when its keeper was SIGKILLed, and ps never shows it running', async () => {
    const r = await vmstep(['start', ...SMALL, '--no-command', '--name', 'short', '--lifetime', '30s', image]);
    expect(r.code, r.stderr).toBe(0);
    const id = text(r).trim();
    const record = JSON.parse(readFileSync(join(state, 'vms', id, 'vm.json'), 'utf8'));
    process.kill(record.keeper.pid, 'SIGKILL');
    const end = Date.now() + 5000;
    while (Date.now() < end && existsSync(`/proc/${record.vmm.pid}`)) await new Promise((res) => setTimeout(res, 100));
    expect(existsSync(`/proc/${record.vmm.pid}`)).toBe(false);
    const ps = text(await vmstep(['ps', '-a']));
    expect(ps).toMatch(/^[0-9a-f]{12} +short +.* exited /m);
    expect(readdirSync(join(state, 'vms', id)).filter((f) => f.startsWith('vsock'))).toEqual([]);
    await vmstep(['stop', 'short']);
  }, 30_000);

  it('stops a VM at its idle timeout', async () => {
    const r = await vmstep(['start', ...SMALL, '--no-command', '--name', 'idle', '--idle-timeout', '1s', image]);
    expect(r.code, r.stderr).toBe(0);
    expect(await psOnceExited('idle', 10_000)).toMatch(/idle +.* exited/);
    await vmstep(['stop', 'idle']);
  }, 30_000);

  it('refuses a start beyond the capacity budget in one line (125), and with --wait starts as soon as another VM stops', async () => {
    const first = await vmstep(['start', '--vcpus', '2', '--memory', '128M', '--no-command', '--name', 'big', image]);
    expect(first.code, first.stderr).toBe(0);
    const refused = await vmstep(['start', ...SMALL, '--no-command', '--name', 'later', image]);
    expect(refused.code).toBe(125);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^vmstep: error: .*vm big/);
    expect(text(await vmstep(['ps', '-a']))).not.toMatch(/later/);
    // Ctrl-C while in line: the start ends with 130 and leaves neither a VM nor a place in line.
    const entries = () => readdirSync(join(work, 'capacity')).filter((f) => f.endsWith('.json')).length;
    const impatient = launchCli(cli, ['start', ...SMALL, '--no-command', '--name', 'impatient', '--wait', image], { cwd: work, env });
    const inLine = Date.now() + 20_000;
    while (Date.now() < inLine && entries() < 2) await new Promise((res) => setTimeout(res, 100));
    impatient.child.kill('SIGINT');
    const gaveUp = await impatient.done;
    expect(gaveUp.code).toBe(130);
    expect(gaveUp.stderr).toMatch(/^vmstep: waiting for capacity: asked 1 vCPU and 128 MiB, in use 2 of 2 vCPUs .* by vm big \(\w+\)\nvmstep: cancelled; the VM was stopped\n$/);
    expect(text(await vmstep(['ps', '-a']))).not.toMatch(/impatient/);
    expect(entries()).toBe(1);
    const waiting = vmstep(['start', ...SMALL, '--no-command', '--name', 'later', '--wait', image]);
    // In line once its keeper's entry joins big's in the capacity directory.
    const queued = Date.now() + 20_000;
    while (Date.now() < queued && readdirSync(join(work, 'capacity')).filter((f) => f.endsWith('.json')).length < 2) await new Promise((res) => setTimeout(res, 100));
    await new Promise((res) => setTimeout(res, 500));
    const stopped = Date.now();
    expect((await vmstep(['stop', '--time', '0', 'big'])).code).toBe(0);
    const started = await waiting;
    expect(started.code, started.stderr).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(10_000);
    expect(started.stderr).toMatch(/waiting for capacity/);
    await vmstep(['stop', '--time', '0', 'later']);
  }, 60_000);
});

describe('refusals', () => {
  it('names an unknown VM in one line and exits 125', async () => {
    for (const args of [['exec', 'nope', 'true'], ['stop', 'nope'], ['logs', 'nope'], ['port', 'nope'], ['cp', 'nope:/x', join(work, 'x')]]) {
      const r = await vmstep(args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stderr).toBe('vmstep: error: no such VM: nope; see `vmstep ps -a` for your VMs\n');
    }
  });

  it('refuses logs and port without exactly one VM in one line with their usage, and exits 125', async () => {
    const cases: [string[], string][] = [
      [['logs'], 'vmstep: error: vmstep logs needs one VM; usage: vmstep logs [--console] VM\n'],
      [['logs', 'a', 'b'], 'vmstep: error: vmstep logs needs one VM; usage: vmstep logs [--console] VM\n'],
      [['port'], 'vmstep: error: vmstep port needs one VM; usage: vmstep port VM\n'],
      [['port', 'a', 'b'], 'vmstep: error: vmstep port needs one VM; usage: vmstep port VM\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await vmstep(args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([125, stderr]);
    }
  });

  it("refuses a state directory that is another user's or open to others", async () => {
    const open = join(work, 'open-state');
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    const r = await vmstep(['ps'], { env: { VMSTEP_STATE_DIR: open } });
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`vmstep: error: the vmstep state directory ${open} is open to other users (mode 755); chmod 700 ${open}\n`);
  });

  it('refuses --no-command with a COMMAND, and a bad --lifetime, before anything starts', async () => {
    let r = await vmstep(['start', '--no-command', image, 'echo']);
    expect(r.stderr).toBe('vmstep: error: --no-command and a COMMAND do not go together; drop one of them\n');
    r = await vmstep(['start', '--lifetime', 'soon', image]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^vmstep: error: --lifetime "soon" is not a duration/);
  });
});
