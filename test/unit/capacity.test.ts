// The host-wide capacity pool, with real processes: holders and waiters are
// separate node processes (or reservations of this one) sharing a temporary
// pool directory, as vmstep processes of several users share /tmp/vmstep-capacity.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { capacityBudget, capacityStatus, memoryReserveMiB, reserveCapacity, VCPUS_PER_HOST_CPU } from '../../src/engine/capacity.js';
import { VmstepError } from '../../src/engine/errors.js';
import { processStartTicks } from '../../src/engine/leftovers.js';
import { bootId } from '../../src/rootfs/lock.js';
import { repoRoot } from '../helpers/artifacts.js';
import { tempDir } from '../helpers/images.js';

const tmp = tempDir('vmstep-capacity-test-');
// Other users' processes read the driver script and the pools.
chmodSync(tmp.path, 0o755);
const driver = join(tmp.path, 'driver.mjs');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

beforeAll(async () => {
  // A holder or waiter in a process of its own: reserves, says "held" (or
  // "error <line>"), and holds until it reads "release" or is killed.
  await build({
    stdin: {
      contents: `import { reserveCapacity } from ${JSON.stringify(join(repoRoot, 'src/engine/capacity.ts'))};
import { openSync, closeSync, unlinkSync } from 'node:fs';
if (process.argv[2] === 'hammer') {
  // Reserve the only slot over and over; while holding it, own a file that
  // only one process may have created (O_EXCL): two holders at once fail it.
  const [, , , ms, marker, startAt] = process.argv;
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
  let holds = 0, refusals = 0, overlaps = 0;
  for (const end = Date.now() + Number(ms); Date.now() < end; ) {
    let r;
    try { r = await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'hammer' }); } catch { refusals++; continue; }
    holds++;
    try { closeSync(openSync(marker, 'wx')); } catch { overlaps++; r.release(); continue; }
    await new Promise((res) => setImmediate(res));
    unlinkSync(marker);
    r.release();
  }
  console.log('hammer ' + JSON.stringify({ holds, refusals, overlaps }));
  process.exit(0);
}
const [vcpus, memoryMiB, label, wait, startAt] = process.argv.slice(2);
const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
if (startAt) await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
try {
  const r = await reserveCapacity({ vcpus: Number(vcpus), memoryMiB: Number(memoryMiB), label, wait: wait === 'forever' ? Infinity : Number(wait), signal: controller.signal, onWait: (m) => console.log('waiting ' + m) });
  console.log('held');
  // Held until killed or told, whatever its stdin is.
  setInterval(() => {}, 1 << 30);
  process.stdin.on('data', (d) => { if (String(d).includes('release')) { r.release(); console.log('released'); process.exit(0); } });
} catch (err) {
  console.log('error ' + (typeof err.oneLine === 'function' ? err.oneLine() : err.message));
  process.exit(3);
}`,
      resolveDir: repoRoot,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: driver,
    logLevel: 'silent',
  });
  chmodSync(driver, 0o644);
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(() => tmp.cleanup());

let pools = 0;
/** A fresh pool with a budget of 4 vCPUs and 4 GiB. */
function pool(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dir = join(tmp.path, `pool-${++pools}`);
  return { VMSTEP_CAPACITY_DIR: dir, VMSTEP_MAX_VCPUS: '4', VMSTEP_MAX_MEMORY: '4G', ...extra };
}

interface Holder {
  child: ChildProcess;
  lines: string[];
  /** The first line (from the start) that matches. */
  line(re: RegExp, ms?: number): Promise<string>;
}

function holder(env: NodeJS.ProcessEnv, args: (string | number)[], opts: { uid?: number } = {}): Holder {
  const child = spawn(process.execPath, [driver, ...args.map(String)], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid, cwd: '/' } : {}),
  });
  children.push(child);
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    lines,
    async line(re, ms = 20_000) {
      const end = Date.now() + ms;
      for (;;) {
        const found = lines.find((l) => re.test(l));
        if (found) return found;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > end) throw new Error(`no line matching ${re}; got ${JSON.stringify(lines)}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited, new Promise((r) => setTimeout(r, 100))]);
      }
    },
  };
}

function entries(env: NodeJS.ProcessEnv): string[] {
  return readdirSync(env.VMSTEP_CAPACITY_DIR!).filter((n) => n.startsWith('r-'));
}

async function rejection(p: Promise<unknown>): Promise<VmstepError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VmstepError);
  return err as VmstepError;
}

const me = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();

describe('the budget', () => {
  it('defaults to 4 vCPUs per host CPU and the host memory less max(1 GiB, 10%)', () => {
    const b = capacityBudget({});
    expect(b.vcpus).toBe(cpus().length * VCPUS_PER_HOST_CPU);
    const total = Math.floor(totalmem() / 2 ** 20);
    expect(b.memoryMiB).toBe(total - Math.max(1024, Math.floor(total / 10)));
    expect(memoryReserveMiB(24_000)).toBe(2400);
    expect(memoryReserveMiB(4096)).toBe(1024);
    // A small host keeps at least half its memory for VMs.
    expect(memoryReserveMiB(1500)).toBe(750);
  });

  it('takes VMSTEP_MAX_VCPUS and VMSTEP_MAX_MEMORY as the run options write them', () => {
    expect(capacityBudget({ VMSTEP_MAX_VCPUS: '12', VMSTEP_MAX_MEMORY: '1.5G' })).toMatchObject({ vcpus: 12, memoryMiB: 1536, sources: { vcpus: 'VMSTEP_MAX_VCPUS', memory: 'VMSTEP_MAX_MEMORY' } });
  });

  it.each([
    [{ VMSTEP_MAX_VCPUS: '0' }, 'VMSTEP_MAX_VCPUS "0" is not a whole number of vCPUs; set it to a positive whole number'],
    [{ VMSTEP_MAX_VCPUS: '2.5' }, 'VMSTEP_MAX_VCPUS "2.5" is not a whole number of vCPUs'],
    [{ VMSTEP_MAX_VCPUS: 'many' }, 'VMSTEP_MAX_VCPUS "many" is not a whole number of vCPUs'],
    [{ VMSTEP_MAX_MEMORY: 'lots' }, 'VMSTEP_MAX_MEMORY "lots" is not a size; write a positive number with a unit'],
    [{ VMSTEP_MAX_MEMORY: '-4G' }, 'VMSTEP_MAX_MEMORY "-4G" is not a size'],
    [{ VMSTEP_MAX_MEMORY: '1000' }, 'VMSTEP_MAX_MEMORY "1000" is less than 1 MiB'],
  ])('refuses %o in one line naming the variable and the fix', async (bad, words) => {
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env: pool(bad) }));
    expect(err.oneLine()).toContain(words);
    expect(err.oneLine()).not.toContain('\n');
  });
});

describe('reserving', () => {
  it('holds what fits, and refuses at once what does not, naming what is in use and by whom', async () => {
    const env = pool();
    const web = await reserveCapacity({ vcpus: 2, memoryMiB: 3072, label: 'vm web', env });
    const more = await reserveCapacity({ vcpus: 1, memoryMiB: 512, label: 'vmstep run alpine', env });
    expect(capacityStatus(env)).toMatchObject({ used: { vcpus: 3, memoryMiB: 3584 }, holders: [{ label: expect.any(String) }, { label: expect.any(String) }], waiting: [] });
    const err = await rejection(reserveCapacity({ vcpus: 2, memoryMiB: 1024, label: 'vm big', env }));
    expect(err.oneLine()).toMatch(/^not enough capacity: asked 2 vCPUs and 1 GiB, in use 3 of 4 vCPUs and 3\.5 GiB of 4 GiB by (vm web|vmstep run alpine) \(\w+\), (vm web|vmstep run alpine) \(\w+\); stop some of them, raise VMSTEP_MAX_VCPUS or VMSTEP_MAX_MEMORY, or wait in line with --wait$/);
    expect(err.oneLine()).toContain(`vm web (${me})`);
    expect(entries(env)).toHaveLength(2);
    web.release();
    web.release();
    const big = await reserveCapacity({ vcpus: 2, memoryMiB: 1024, label: 'vm big', env });
    expect(capacityStatus(env).holders.map((h) => h.label).sort()).toEqual(['vm big', 'vmstep run alpine']);
    big.release();
    more.release();
    expect(entries(env)).toEqual([]);
    expect(capacityStatus(env).used).toEqual({ vcpus: 0, memoryMiB: 0 });
  });

  it('refuses a VM bigger than the whole budget even when asked to wait', async () => {
    const err = await rejection(reserveCapacity({ vcpus: 8, memoryMiB: 64, label: 't', wait: Infinity, env: pool() }));
    expect(err.oneLine()).toBe('this VM can never fit in the host\'s capacity: it asks 8 vCPUs but the whole budget is 4 vCPUs (VMSTEP_MAX_VCPUS); give the VM less, or raise VMSTEP_MAX_VCPUS');
  });

  it("frees a SIGKILLed holder's share, and a waiter proceeds within a second", async () => {
    const env = pool();
    const h = holder(env, [4, 1024, 'vm doomed', 0]);
    await h.line(/^held$/);
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env }));
    expect(err.oneLine()).toContain(`in use 4 of 4 vCPUs and 1 GiB of 4 GiB by vm doomed (${me})`);
    let told = '';
    const waiting = reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'waiter', wait: Infinity, env, onWait: (m) => (told = m) });
    await new Promise((r) => setTimeout(r, 400));
    expect(told).toContain('waiting for capacity: asked 1 vCPU and 64 MiB, in use 4 of 4 vCPUs');
    const killed = Date.now();
    h.child.kill('SIGKILL');
    const r = await waiting;
    expect(Date.now() - killed).toBeLessThan(1500);
    // The dead holder's file is swept by the next process of its user.
    expect(entries(env)).toHaveLength(1);
    r.release();
  });

  it('frees the share of a holder that died but was never reaped (a zombie)', async () => {
    const env = pool();
    // The holder's parent is sleep, which never reaps it: killed, it stays a zombie.
    const sh = spawn('sh', ['-c', `"$0" "$1" 4 64 'vm zombie' 0 & echo $!; exec sleep 60`, process.execPath, driver], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(sh);
    const lines: string[] = [];
    createInterface({ input: sh.stdout! }).on('line', (l) => lines.push(l));
    for (let i = 0; i < 400 && !lines.includes('held'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(lines).toContain('held');
    const pid = Number(lines[0]);
    expect(capacityStatus(env).holders).toMatchObject([{ label: 'vm zombie', pid }]);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 20));
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/^\S+ \(.*\) Z/);
    (await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 'after', env })).release();
  });

  it('never gives the last slot to two processes racing for it', async () => {
    for (let round = 0; round < 3; round++) {
      const env = pool({ VMSTEP_MAX_VCPUS: '1' });
      const startAt = Date.now() + 1500;
      const racers = Array.from({ length: 4 }, (_, i) => holder(env, [1, 64, `racer ${i}`, 0, startAt]));
      const outcomes = await Promise.all(racers.map((r) => r.line(/^(held|error)/)));
      expect(outcomes.filter((o) => o === 'held')).toHaveLength(1);
      for (const o of outcomes.filter((x) => x !== 'held')) expect(o).toMatch(/^error not enough capacity: asked 1 vCPU and 64 MiB/);
      for (const r of racers) r.child.kill('SIGKILL');
    }
  });

  it('never lets two processes hold the only slot at once, however hard they try', async () => {
    const env = pool({ VMSTEP_MAX_VCPUS: '1' });
    const marker = join(tmp.path, `inside-${pools}`);
    const startAt = Date.now() + 1500;
    const hammers = Array.from({ length: 3 }, () => holder(env, ['hammer', 3000, marker, startAt]));
    const results = (await Promise.all(hammers.map((h) => h.line(/^hammer /)))).map((l) => JSON.parse(l.slice(7)) as { holds: number; refusals: number; overlaps: number });
    expect(results.map((r) => r.overlaps)).toEqual([0, 0, 0]);
    // Each took the slot many times, and was refused while another held it.
    for (const r of results) expect(r.holds).toBeGreaterThan(10);
    expect(results.reduce((n, r) => n + r.refusals, 0)).toBeGreaterThan(0);
    expect(entries(env)).toEqual([]);
  });

  it('lets waiters proceed in the order they came, a small one never jumping ahead of a big one', async () => {
    const env = pool();
    const first = await reserveCapacity({ vcpus: 3, memoryMiB: 64, label: 'first', env });
    const order: string[] = [];
    const big = reserveCapacity({ vcpus: 2, memoryMiB: 64, label: 'big', wait: Infinity, env }).then((r) => (order.push('big'), r));
    await new Promise((r) => setTimeout(r, 200));
    // One vCPU is free, enough for this one, but 'big' came first.
    const small = reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'small', wait: Infinity, env }).then((r) => (order.push('small'), r));
    await new Promise((r) => setTimeout(r, 600));
    expect(order).toEqual([]);
    expect(capacityStatus(env).waiting.map((w) => w.label)).toEqual(['big', 'small']);
    first.release();
    const held = await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
    for (const r of held) r.release();
  });

  it('fails a timed wait that runs out, and leaves its place in line', async () => {
    const env = pool();
    const all = await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 'all', env });
    const started = Date.now();
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', wait: 500, env }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(err.message).toMatch(/^not enough capacity/);
    expect(entries(env)).toHaveLength(1);
    all.release();
  });

  it('stops waiting when aborted and leaves no entry behind', async () => {
    const env = pool();
    const all = await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 'all', env });
    const controller = new AbortController();
    const waiting = reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', wait: Infinity, signal: controller.signal, env });
    await new Promise((r) => setTimeout(r, 300));
    expect(entries(env)).toHaveLength(2);
    controller.abort(new Error('Ctrl-C'));
    await expect(waiting).rejects.toThrow('Ctrl-C');
    expect(entries(env)).toHaveLength(1);
    all.release();
    // A waiter in another process stopped with SIGTERM leaves nothing either.
    const blocker = await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 'all', env });
    const h = holder(env, [1, 64, 'child waiter', 'forever']);
    await h.line(/^waiting/);
    expect(entries(env)).toHaveLength(2);
    h.child.kill('SIGTERM');
    await h.line(/^error/);
    expect(entries(env)).toHaveLength(1);
    blocker.release();
  });

  it('releases what a process still holds when it exits', async () => {
    const env = pool();
    const h = holder(env, [2, 64, 'exits', 0]);
    await h.line(/^held$/);
    h.child.stdin!.end('release\n');
    await h.line(/^released$/);
    await new Promise((r) => h.child.once('exit', r));
    expect(entries(env)).toEqual([]);
  });
});

describe('the pool directory', () => {
  it('is created sticky and writable by everyone', async () => {
    const env = pool();
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env })).release();
    const st = lstatSync(env.VMSTEP_CAPACITY_DIR!);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o7777).toBe(0o1777);
  });

  it('gets the sticky bit when its owner left it writable by others without one', async () => {
    const env = pool();
    mkdirSync(env.VMSTEP_CAPACITY_DIR!);
    chmodSync(env.VMSTEP_CAPACITY_DIR!, 0o777);
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env })).release();
    expect(statSync(env.VMSTEP_CAPACITY_DIR!).mode & 0o7777).toBe(0o1777);
  });

  it('is refused in one line when it is not a directory', async () => {
    const env = pool();
    writeFileSync(env.VMSTEP_CAPACITY_DIR!, 'x');
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env }));
    expect(err.oneLine()).toBe(`the capacity directory ${env.VMSTEP_CAPACITY_DIR} is not a directory; remove it, or set VMSTEP_CAPACITY_DIR to a directory every vmstep user can write (mode 1777)`);
  });

  it('is refused in one line when it is a symbolic link', async () => {
    const env = pool();
    mkdirSync(`${env.VMSTEP_CAPACITY_DIR}-real`);
    symlinkSync(`${env.VMSTEP_CAPACITY_DIR}-real`, env.VMSTEP_CAPACITY_DIR!);
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env }));
    expect(err.message).toContain('is not a directory');
  });

  it.skipIf(!isRoot)("is refused in one line when another user's process cannot write it", async () => {
    const env = pool();
    mkdirSync(env.VMSTEP_CAPACITY_DIR!, { mode: 0o755 });
    const h = holder(env, [1, 64, 't', 0], { uid: NOBODY });
    const line = await h.line(/^error/);
    expect(line).toBe(`error the capacity directory ${env.VMSTEP_CAPACITY_DIR} is not writable by nobody; ask its owner to run chmod 1777 ${env.VMSTEP_CAPACITY_DIR}, or set VMSTEP_CAPACITY_DIR to a directory every vmstep user can write`);
  });

  it.skipIf(!isRoot)("is refused when another user's directory is writable by others without the sticky bit", async () => {
    const env = pool();
    mkdirSync(env.VMSTEP_CAPACITY_DIR!);
    chmodSync(env.VMSTEP_CAPACITY_DIR!, 0o777);
    chownSync(env.VMSTEP_CAPACITY_DIR!, NOBODY, NOBODY);
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env }));
    expect(err.oneLine()).toContain('is writable by others without the sticky bit, so anyone could remove reservations; ask its owner to run chmod 1777');
  });

  it.skipIf(!isRoot)("shares one budget between users, naming another user's holder", async () => {
    const env = pool();
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'first', env })).release();
    const h = holder(env, [3, 2048, 'vm theirs', 0], { uid: NOBODY });
    await h.line(/^held$/);
    const err = await rejection(reserveCapacity({ vcpus: 2, memoryMiB: 64, label: 't', env }));
    expect(err.message).toContain('in use 3 of 4 vCPUs and 2 GiB of 4 GiB by vm theirs (nobody)');
    const mine = await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'fits', env });
    // Its file stays its own: we cannot remove it, and need not.
    h.child.kill('SIGKILL');
    await new Promise((r) => h.child.once('exit', r));
    const after = await reserveCapacity({ vcpus: 3, memoryMiB: 64, label: 'after', env });
    after.release();
    mine.release();
  });

  it('ignores, with a warning, files it cannot trust, and counts the rest', async () => {
    const env = pool();
    const dir = env.VMSTEP_CAPACITY_DIR!;
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env })).release();
    const honest = { v: 1, id: 'abc', state: 'held', ticket: 1, vcpus: 1, memoryMiB: 64, label: 'x', user: 'root', uid: process.getuid!(), pid: process.pid, start: processStartTicks(process.pid), boot: bootId() };
    writeFileSync(join(dir, 'r-a1.json'), '{not json');
    writeFileSync(join(dir, 'r-a2.json'), JSON.stringify({ ...honest, vcpus: -3 }));
    writeFileSync(join(dir, 'r-a3.json'), JSON.stringify({ ...honest, uid: 4242 }));
    writeFileSync(join(dir, 'r-a4.json'), 'x'.repeat(100_000));
    symlinkSync('/etc/passwd', join(dir, 'r-a5.json'));
    expect(spawnSync('mkfifo', [join(dir, 'r-a6.json')]).status).toBe(0);
    mkdirSync(join(dir, 'r-a7.json'));
    writeFileSync(join(dir, 'r-a8.json'), JSON.stringify({ ...honest, label: 'escape \u001b[2J', vcpus: 2 }));
    writeFileSync(join(dir, 'not-an-entry'), 'ignored silently');
    const warnings: string[] = [];
    const r = await reserveCapacity({ vcpus: 2, memoryMiB: 64, label: 't', env, onWarning: (m) => warnings.push(m) });
    const why = (n: number) => warnings.find((w) => w.includes(`r-a${n}.json`))?.replace(/^.*pool: /, '');
    expect(why(1)).toBe('it is not a reservation vmstep can read');
    expect(why(2)).toBe('it is not a reservation vmstep can read');
    expect(why(3)).toBe(`it claims uid 4242 but belongs to uid ${process.getuid!()}`);
    expect(why(4)).toBe('it is 100000 bytes, too big for a reservation');
    expect(why(5)).toBe('it is a symbolic link');
    expect(why(6)).toBe('it is not a regular file');
    expect(why(7)).toBe('it is not a regular file');
    expect(warnings).toHaveLength(7);
    // The one well-formed entry of a live process counts, its label made printable.
    const status = capacityStatus(env);
    expect(status.used.vcpus).toBe(4);
    expect(status.holders.map((h) => h.label)).toContain('escape ?[2J');
    r.release();
  });

  it("leaves another kernel's entries out of this host's budget, and removes those from before this boot", async () => {
    const env = pool();
    const dir = env.VMSTEP_CAPACITY_DIR!;
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env })).release();
    const entry = (id: string) => JSON.stringify({ v: 1, id, state: 'held', ticket: 1, vcpus: 4, memoryMiB: 64, label: 'elsewhere', user: 'root', uid: process.getuid!(), pid: process.pid, start: processStartTicks(process.pid), boot: 'another-kernel' });
    // A VM sharing this /tmp over 9p, running now: its own budget.
    writeFileSync(join(dir, 'r-c1.json'), entry('c1'));
    // Left from before a reboot.
    writeFileSync(join(dir, 'r-c2.json'), entry('c2'));
    utimesSync(join(dir, 'r-c2.json'), new Date(0), new Date(0));
    const r = await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 't', env });
    expect(capacityStatus(env).holders.map((h) => h.label)).toEqual(['t']);
    // The running kernel's entry stays (mine and its), the one from before the boot is gone.
    expect(entries(env)).toContain('r-c1.json');
    expect(entries(env)).not.toContain('r-c2.json');
    expect(entries(env)).toHaveLength(2);
    r.release();
  });

  it('lets no entry in line that can never fit, or that fits but never takes its share, hold up those behind it', async () => {
    const env = pool();
    const dir = env.VMSTEP_CAPACITY_DIR!;
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env })).release();
    const waiting = (id: string, vcpus: number) =>
      writeFileSync(join(dir, `r-${id}.json`), JSON.stringify({ v: 1, id, state: 'waiting', ticket: 1, vcpus, memoryMiB: 64, label: `stuck ${id}`, user: 'root', uid: process.getuid!(), pid: process.pid, start: processStartTicks(process.pid), boot: bootId() }));
    waiting('d1', 100);
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'behind the impossible', env })).release();
    waiting('d2', 1);
    // Without waiting: refused, naming the line.
    const err = await rejection(reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 'behind the stuck', env }));
    expect(err.oneLine()).toBe('not enough capacity: asked 1 vCPU and 64 MiB, in use 0 of 4 vCPUs and 0 MiB of 4 GiB; 1 earlier request waits in line; wait in line with --wait');
    // Waiting: the stuck one loses its place after a few seconds.
    const started = Date.now();
    (await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 'behind the stuck', wait: 20_000, env })).release();
    expect(Date.now() - started).toBeGreaterThanOrEqual(4500);
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it.skipIf(!isRoot)("ignores another user's entry that claims a process not theirs", async () => {
    const env = pool();
    const dir = env.VMSTEP_CAPACITY_DIR!;
    (await reserveCapacity({ vcpus: 1, memoryMiB: 64, label: 't', env })).release();
    const forged = join(dir, 'r-b1.json');
    writeFileSync(forged, JSON.stringify({ v: 1, id: 'b1', state: 'held', ticket: 1, vcpus: 4, memoryMiB: 64, label: 'squatter', user: 'nobody', uid: NOBODY, pid: process.pid, start: processStartTicks(process.pid), boot: bootId() }));
    chownSync(forged, NOBODY, NOBODY);
    const warnings: string[] = [];
    const r = await reserveCapacity({ vcpus: 4, memoryMiB: 64, label: 't', env, onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([`ignoring ${forged} in the capacity pool: process ${process.pid} does not belong to uid ${NOBODY}`]);
    r.release();
  });
});
