// One budget of vCPUs and memory for the whole host, shared by every vmstep
// process of every Unix user: `run`, `bench`, the action and long-lived VMs
// reserve their VM's share here before it boots and give it back when it ends.
//
// The shared state is a directory (default /tmp/vmstep-capacity, mode 1777
// like /tmp) with one file per reservation, written by its owner only. Why
// files and not one lock-protected ledger: in a sticky directory nobody can
// remove another user's file, so a lock left by a dead process of another
// user could never be broken. Instead every process keeps its own entry and
// the order between them comes from Lamport's bakery algorithm:
//
//   1. write my entry as `choosing`;
//   2. read every entry, take ticket = 1 + the highest ticket seen, and
//      rewrite my entry as `waiting` with it;
//   3. I may turn `held` when no live entry is still `choosing`, no live
//      `waiting` entry is before me (lower ticket, then lower id), and my
//      share fits in the budget less every live `held` entry.
//
// Only the head of the queue ever turns `held`, and an entry that appears
// after the head looked has a higher ticket (step 2 read the head's), so two
// processes never both take the last share; and waiters go in ticket order
// (FIFO). A reservation counts while its process lives (pid + start time +
// boot id, as the rootfs locks check), so a SIGKILLed process frees its share
// without anyone removing its file; its owner's next vmstep sweeps it.
//
// Entries of other users are untrusted: a file that is not a regular file,
// too big, unparsable, or claims a uid it is not owned by or a process of
// another user is ignored with a warning. Another user can consume budget
// only by holding real processes; an entry that stays `choosing` is ignored
// after CHOOSING_STALE_MS, one in line that fits but does not take its share
// loses its place after STUCK_MS, and one that can never fit holds nobody up.
// (A process stopped for that long in the middle of its own step 3 could
// then overcommit once: a price for not letting one stuck process stop all.)
import { chmodSync, existsSync, lstatSync, readFileSync, mkdirSync, openSync, readSync, closeSync, fstatSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync, constants } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { bootId, processAlive } from '../rootfs/lock.js';
import { processStartTicks } from './leftovers.js';
import { VmstepError } from './errors.js';
import { currentUserName } from './kvm-access.js';
import { formatBytes, parseDuration, parseSize } from './units.js';

export const DEFAULT_CAPACITY_DIR = '/tmp/vmstep-capacity';
/**
 * vCPUs per host CPU in the default budget. A vCPU is a thread that uses a
 * host CPU only while its guest runs, and a VM that waits for its next exec
 * uses none, so sandboxes that keep many VMs mostly idle need vCPUs
 * overcommitted; 4 is OpenStack's default CPU allocation ratio. Memory is
 * not overcommitted: guest memory, once touched, stays with the VMM.
 */
export const VCPUS_PER_HOST_CPU = 4;
/** Memory left to the host and vmstep itself: max(1 GiB, 10%), never more than half. */
export function memoryReserveMiB(totalMiB: number): number {
  return Math.min(Math.max(1024, Math.floor(totalMiB / 10)), Math.floor(totalMiB / 2));
}

/** How often a waiter looks again; a release or a death is seen within this. */
const POLL_MS = 150;
/** How often while the entries before mine are being decided (a matter of milliseconds). */
const SHORT_POLL_MS = 15;
/** An entry `choosing` for longer is a stuck or hostile process, not one picking a ticket. */
const CHOOSING_STALE_MS = 5000;
/** An entry before mine that fits turns `held` within a poll; one that has not for this long is stuck. */
const STUCK_MS = 5000;
/** How long past its deadline a reservation waits for earlier entries that fit (they turn `held` within ms). */
const DECIDE_GRACE_MS = 2000;
/** An honest entry is a few hundred bytes. */
const MAX_ENTRY_BYTES = 4096;
/** More entries than this is not vmstep's doing; refuse rather than misjudge the pool. */
const MAX_ENTRIES = 4096;
/** Tickets count reservations one by one; one this high only a forged entry can hold. */
const MAX_TICKET = 2 ** 52;
/** Longest label or user name kept. */
const MAX_TEXT = 200;
/** Entries are written here first, then renamed into place whole. */
const TMP_PREFIX = '.tmp-';
/** Writing an entry takes microseconds; one this old was left by a process that died. */
const TMP_STALE_MS = 60_000;
const ENTRY_NAME = /^r-[0-9a-f]{1,40}\.json$/;
const ENTRY_VERSION = 1;

export interface CapacityBudget {
  vcpus: number;
  memoryMiB: number;
}

export interface CapacityHolder {
  label: string;
  vcpus: number;
  memoryMiB: number;
  pid: number;
  user: string;
}

export interface CapacityStatus {
  budget: CapacityBudget;
  /** Where each number comes from: the variable, or the default's rule. */
  sources: { vcpus: string; memory: string };
  dir: string;
  used: CapacityBudget;
  holders: CapacityHolder[];
  /** Reservations queued for capacity, first in line first. */
  waiting: CapacityHolder[];
}

export interface CapacityRequest {
  vcpus: number;
  memoryMiB: number;
  /** Who holds it, for people: "vm web", "vmstep run alpine:3.20". */
  label: string;
  /** Milliseconds to wait in line when it does not fit; 0 (default) fails at once, Infinity waits without limit. */
  wait?: number;
  /** Stops waiting (Ctrl-C): rejects with the signal's reason and leaves no entry behind. */
  signal?: AbortSignal;
  /** Told once, when the request starts waiting, what it waits for. */
  onWait?: (message: string) => void;
  /** Entries of the directory that were ignored (unparsable, forged). */
  onWarning?: (message: string) => void;
  /** Where VMSTEP_MAX_* and VMSTEP_CAPACITY_DIR are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface Reservation {
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Gives the share back; safe to call twice. Also given back when the process dies. */
  release(): void;
}

type EntryState = 'choosing' | 'waiting' | 'held';

interface Entry {
  v: number;
  id: string;
  state: EntryState;
  ticket: number;
  vcpus: number;
  memoryMiB: number;
  label: string;
  user: string;
  uid: number;
  pid: number;
  /** Start time in clock ticks since boot: the pid names this process, not a later one. */
  start: number;
  boot: string;
}

interface LiveEntry extends Entry {
  /** When the file last changed (ms); ages a `choosing` entry. */
  mtimeMs: number;
}

/**
 * `--wait[=DURATION]` as milliseconds for reserveCapacity: the flag alone,
 * or 0 as with --timeout, waits without limit; false (absent) not at all.
 */
export function capacityWait(value: string | number | boolean, what: string): number {
  if (value === false) return 0;
  if (value === true) return Infinity;
  const ms = parseDuration(value, what);
  return ms === 0 ? Infinity : ms;
}

export function capacityDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.VMSTEP_CAPACITY_DIR || DEFAULT_CAPACITY_DIR;
}

/** The budget from VMSTEP_MAX_VCPUS and VMSTEP_MAX_MEMORY, or the host's defaults. */
export function capacityBudget(env: NodeJS.ProcessEnv = process.env): CapacityBudget & { sources: CapacityStatus['sources'] } {
  const hostCpus = Math.max(1, cpus().length);
  const totalMiB = Math.floor(totalmem() / 2 ** 20);
  let vcpus = hostCpus * VCPUS_PER_HOST_CPU;
  let vcpuSource = `default: ${VCPUS_PER_HOST_CPU} × ${hostCpus} host CPU${hostCpus === 1 ? '' : 's'}`;
  const rawVcpus = env.VMSTEP_MAX_VCPUS;
  if (rawVcpus !== undefined && rawVcpus.trim() !== '') {
    if (!/^\s*\d+\s*$/.test(rawVcpus) || Number(rawVcpus) <= 0 || !Number.isSafeInteger(Number(rawVcpus))) {
      throw new VmstepError(`VMSTEP_MAX_VCPUS "${rawVcpus}" is not a whole number of vCPUs`, `set it to a positive whole number such as ${vcpus}, or unset it for the default (${VCPUS_PER_HOST_CPU} per host CPU)`);
    }
    vcpus = Number(rawVcpus);
    vcpuSource = 'VMSTEP_MAX_VCPUS';
  }
  let memoryMiB = totalMiB - memoryReserveMiB(totalMiB);
  let memorySource = `default: ${formatMiB(totalMiB)} of host memory less ${formatMiB(memoryReserveMiB(totalMiB))}`;
  const rawMemory = env.VMSTEP_MAX_MEMORY;
  if (rawMemory !== undefined && rawMemory.trim() !== '') {
    const bytes = parseSize(rawMemory, 'VMSTEP_MAX_MEMORY');
    if (bytes < 2 ** 20) throw new VmstepError(`VMSTEP_MAX_MEMORY "${rawMemory}" is less than 1 MiB`, 'set it to the memory all VMs together may use, such as 16G, or unset it for the default');
    memoryMiB = Math.floor(bytes / 2 ** 20);
    memorySource = 'VMSTEP_MAX_MEMORY';
  }
  return { vcpus, memoryMiB, sources: { vcpus: vcpuSource, memory: memorySource } };
}

/** The budget and what holds it now, for `vmstep doctor`. */
export function capacityStatus(env: NodeJS.ProcessEnv = process.env, onWarning?: (message: string) => void): CapacityStatus {
  const { sources, ...budget } = capacityBudget(env);
  const dir = capacityDir(env);
  let entries: LiveEntry[] = [];
  try {
    lstatSync(dir);
    entries = scan(dir, null, onWarning);
  } catch (err) {
    // No directory yet: nothing was ever reserved since boot.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const held = entries.filter((e) => e.state === 'held');
  return {
    budget,
    sources,
    dir,
    used: sum(held),
    holders: held.map(holderOf),
    waiting: entries.filter((e) => e.state === 'waiting').sort(inLine).map(holderOf),
  };
}

/**
 * Reserves a VM's share of the host. Resolves when it is held; rejects with
 * a VmstepError naming what is in use, and by whom, when it does not fit in
 * time (at once without `wait`).
 */
export async function reserveCapacity(req: CapacityRequest): Promise<Reservation> {
  const env = req.env ?? process.env;
  const { sources, ...budget } = capacityBudget(env);
  checkRequest(req);
  if (req.vcpus > budget.vcpus || req.memoryMiB > budget.memoryMiB) {
    const vcpuShort = req.vcpus > budget.vcpus;
    const what = vcpuShort ? `${plural(req.vcpus, 'vCPU')} but the whole budget is ${plural(budget.vcpus, 'vCPU')} (${sources.vcpus})` : `${formatMiB(req.memoryMiB)} of memory but the whole budget is ${formatMiB(budget.memoryMiB)} (${sources.memory})`;
    throw new VmstepError(`this VM can never fit in the host's capacity: it asks ${what}`, `give the VM less, or raise ${vcpuShort ? 'VMSTEP_MAX_VCPUS' : 'VMSTEP_MAX_MEMORY'}`);
  }
  const dir = capacityDir(env);
  prepareDir(dir);
  req.signal?.throwIfAborted();

  const me: Entry = {
    v: ENTRY_VERSION,
    id: `${process.pid.toString(16)}${randomBytes(8).toString('hex')}`,
    state: 'choosing',
    ticket: 0,
    vcpus: req.vcpus,
    memoryMiB: req.memoryMiB,
    // Within what others accept (parseEntry), or they would ignore my share.
    label: req.label.slice(0, MAX_TEXT),
    user: currentUserName().slice(0, MAX_TEXT),
    uid: process.getuid?.() ?? -1,
    pid: process.pid,
    start: processStartTicks(process.pid) ?? -1,
    boot: bootId(),
  };
  const path = join(dir, `r-${me.id}.json`);
  const removeEntry = () => {
    ownEntries.delete(path);
    removeQuietly(path);
  };
  ownEntries.add(path);
  watchExit();
  try {
    writeEntry(dir, path, me);
    const others = scan(dir, me.id, req.onWarning);
    const highest = Math.max(0, ...others.map((e) => e.ticket));
    if (highest + 1 > MAX_TICKET) {
      const e = others.find((o) => o.ticket === highest)!;
      throw new VmstepError(`the capacity queue in ${dir} holds an entry with an impossible ticket (${e.label}, user ${e.user}, pid ${e.pid})`, `ask ${e.user} to stop process ${e.pid}`);
    }
    me.ticket = highest + 1;
    me.state = 'waiting';
    writeEntry(dir, path, me);

    const wait = req.wait ?? 0;
    const deadline = Date.now() + wait;
    let told = false;
    /** When I first saw each entry before me fit and not take its share. */
    const fitSince = new Map<string, number>();
    for (;;) {
      req.signal?.throwIfAborted();
      const now = Date.now();
      const entries = scan(dir, me.id, req.onWarning);
      const choosing = entries.some((e) => e.state === 'choosing' && now - e.mtimeMs < CHOOSING_STALE_MS);
      const holders = entries.filter((e) => e.state === 'held');
      // One that can never fit fails by itself and holds nobody up.
      const ahead = entries.filter((e) => e.state === 'waiting' && inLine(e, me) < 0 && fits(e, budget)).sort(inLine);
      const used = sum(holders);
      // Walk the line: those before me that fit will take their share in a
      // moment; one that fits but has not taken it for STUCK_MS is a stopped
      // or hostile process, and loses its place.
      let free = { vcpus: budget.vcpus - used.vcpus, memoryMiB: budget.memoryMiB - used.memoryMiB };
      let blocked = false;
      let before = 0;
      for (const e of ahead) {
        if (!fits(e, free)) {
          fitSince.delete(e.id);
          blocked = true;
          break;
        }
        const since = fitSince.get(e.id) ?? now;
        fitSince.set(e.id, since);
        if (now - since > STUCK_MS) continue;
        free = { vcpus: free.vcpus - e.vcpus, memoryMiB: free.memoryMiB - e.memoryMiB };
        before++;
      }
      blocked ||= !fits(me, free);
      if (!blocked && !choosing && before === 0) {
        me.state = 'held';
        writeEntry(dir, path, me);
        return reservation(me, removeEntry);
      }
      if (blocked) {
        if (now >= deadline) throw notEnough(me, budget, used, holders, ahead.length);
        if (!told) {
          told = true;
          req.onWait?.(`waiting for capacity: ${shortage(me, budget, used, holders, ahead.length)}`);
        }
      } else if (now >= deadline + DECIDE_GRACE_MS) {
        // Those before me fit but never took their share: a stuck process.
        throw notEnough(me, budget, used, holders, ahead.length);
      }
      const pause = blocked ? POLL_MS : SHORT_POLL_MS;
      await sleep(Math.max(1, Math.min(pause, blocked && Number.isFinite(deadline) ? deadline - now : pause)), undefined, req.signal ? { signal: req.signal } : {}).catch(() => req.signal?.throwIfAborted());
    }
  } catch (err) {
    removeEntry();
    throw err;
  }
}

function checkRequest(req: CapacityRequest): void {
  if (!Number.isSafeInteger(req.vcpus) || req.vcpus <= 0 || !Number.isSafeInteger(req.memoryMiB) || req.memoryMiB <= 0) {
    throw new VmstepError(`a capacity reservation needs whole positive vCPUs and MiB (got ${req.vcpus} and ${req.memoryMiB})`, '');
  }
  if (req.wait !== undefined && !(req.wait >= 0)) throw new VmstepError(`a capacity wait of ${req.wait} ms is not a duration`, '');
}

function reservation(me: Entry, remove: () => void): Reservation {
  let released = false;
  return {
    vcpus: me.vcpus,
    memoryMiB: me.memoryMiB,
    release() {
      if (released) return;
      released = true;
      remove();
    },
  };
}

/** Entries this process still holds, removed when it exits (a crash leaves them to the liveness check). */
const ownEntries = new Set<string>();
let exitHooked = false;
function watchExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const p of ownEntries) removeQuietly(p);
  });
}

/**
 * Makes sure the directory exists and is safe to share: a real directory
 * (not a link), writable by us, and sticky when others may write to it (or
 * they could remove our entries).
 */
function prepareDir(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw dirError(dir, err);
    try {
      mkdirSync(dir, { mode: 0o1777 });
      // The umask took bits away: every user must be able to add entries.
      chmodSync(dir, 0o1777);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw dirError(dir, e);
    }
    st = lstatSync(dir);
  }
  if (!st.isDirectory()) {
    throw new VmstepError(`the capacity directory ${dir} is not a directory`, `remove it, or set VMSTEP_CAPACITY_DIR to a directory every vmstep user can write (mode 1777)`);
  }
  const uid = process.getuid?.() ?? -1;
  const othersWrite = (st.mode & 0o022) !== 0;
  if (othersWrite && (st.mode & 0o1000) === 0) {
    if (st.uid === uid) {
      chmodSync(dir, st.mode | 0o1000);
    } else {
      throw new VmstepError(`the capacity directory ${dir} is writable by others without the sticky bit, so anyone could remove reservations`, `ask its owner to run chmod 1777 ${dir}, or set VMSTEP_CAPACITY_DIR to another directory`);
    }
  }
  const writable = uid === 0 || (st.uid === uid ? (st.mode & 0o300) === 0o300 : (st.mode & 0o003) === 0o003 || ((st.mode & 0o030) === 0o030 && process.getgroups?.().includes(st.gid)));
  if (!writable) {
    throw new VmstepError(`the capacity directory ${dir} is not writable by ${currentUserName()}`, `ask its owner to run chmod 1777 ${dir}, or set VMSTEP_CAPACITY_DIR to a directory every vmstep user can write`);
  }
}

function dirError(dir: string, err: unknown): VmstepError {
  const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new VmstepError(`cannot create the capacity directory ${dir} (${code})`, 'set VMSTEP_CAPACITY_DIR to a directory every vmstep user can write (mode 1777)', { cause: err });
}

/** Writes my entry whole: others read either the old or the new one, never half. */
function writeEntry(dir: string, path: string, e: Entry): void {
  const tmp = join(dir, `${TMP_PREFIX}${e.id}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, JSON.stringify(e), { flag: 'wx', mode: 0o644 });
  try {
    renameSync(tmp, path);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
}

/** Removes a file that may be gone already (released twice, or swept by another of my processes). */
function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone: what was wanted
  }
}

/** A half-written entry of mine whose process died before renaming it: nobody reads it, so it only needs removing. */
function sweepTmp(path: string, myUid: number): void {
  try {
    const st = lstatSync(path);
    if (st.uid === myUid && Date.now() - st.mtimeMs > TMP_STALE_MS) unlinkSync(path);
  } catch {
    // gone, or not ours to remove
  }
}

/** Files already warned about, so that a bad file is named once per process. */
const warned = new Set<string>();

/** Every live entry but mine (`skipId`); removes this user's dead ones. */
function scan(dir: string, skipId: string | null, onWarning?: (message: string) => void): LiveEntry[] {
  const names = readdirSync(dir);
  if (names.length > MAX_ENTRIES) {
    throw new VmstepError(`the capacity directory ${dir} holds ${names.length} files, more than vmstep ever writes`, `remove what is not vmstep's from ${dir}`);
  }
  const myUid = process.getuid?.() ?? -1;
  const out: LiveEntry[] = [];
  const warn = (name: string, why: string) => {
    const path = join(dir, name);
    if (warned.has(path)) return;
    warned.add(path);
    onWarning?.(`ignoring ${path} in the capacity pool: ${why}`);
  };
  for (const name of names) {
    if (name.startsWith(TMP_PREFIX)) {
      sweepTmp(join(dir, name), myUid);
      continue;
    }
    if (!ENTRY_NAME.test(name)) continue;
    if (skipId !== null && name === `r-${skipId}.json`) continue;
    const read = readEntryFile(join(dir, name));
    if (read === 'gone') continue;
    if (typeof read === 'string') {
      warn(name, read);
      continue;
    }
    const { entry, uid, mtimeMs } = read;
    if (entry.uid !== uid) {
      warn(name, `it claims uid ${entry.uid} but belongs to uid ${uid}`);
      continue;
    }
    const alive = entryAlive(entry);
    if (alive === 'other-boot') {
      // Another kernel that shares this directory (a VM with the host's /tmp
      // over 9p) has a budget of its own; an entry older than this boot is
      // from before a reboot and can go.
      if (uid === myUid && mtimeMs < bootTimeMs()) removeQuietly(join(dir, name));
      continue;
    }
    if (alive === 'dead') {
      if (uid === myUid) removeQuietly(join(dir, name));
      continue;
    }
    if (alive === 'foreign') {
      warn(name, `process ${entry.pid} does not belong to uid ${uid}`);
      continue;
    }
    out.push({ ...entry, mtimeMs });
  }
  return out;
}

/** The entry in a file, 'gone' when it vanished, or why it cannot be trusted. */
function readEntryFile(path: string): { entry: Entry; uid: number; mtimeMs: number } | 'gone' | string {
  let fd: number;
  try {
    // O_NONBLOCK: a fifo planted here must not hang us; O_NOFOLLOW: nor may a link lead us elsewhere.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'gone';
    return code === 'ELOOP' ? 'it is a symbolic link' : `it cannot be read (${code})`;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return 'it is not a regular file';
    if (st.size > MAX_ENTRY_BYTES) return `it is ${st.size} bytes, too big for a reservation`;
    const buf = Buffer.alloc(MAX_ENTRY_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const entry = parseEntry(buf.subarray(0, n).toString('utf8'));
    if (!entry) return 'it is not a reservation vmstep can read';
    return { entry, uid: st.uid, mtimeMs: st.mtimeMs };
  } catch (err) {
    return `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  } finally {
    closeSync(fd);
  }
}

function parseEntry(text: string): Entry | null {
  let v: Partial<Entry>;
  try {
    v = JSON.parse(text) as Partial<Entry>;
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || v.v !== ENTRY_VERSION) return null;
  const count = (n: unknown, max: number) => typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n <= max;
  if (typeof v.id !== 'string' || !/^[0-9a-f]{1,36}$/.test(v.id)) return null;
  if (v.state !== 'choosing' && v.state !== 'waiting' && v.state !== 'held') return null;
  if (typeof v.ticket !== 'number' || !Number.isSafeInteger(v.ticket) || v.ticket < 0) return null;
  if (!count(v.vcpus, 2 ** 20) || !count(v.memoryMiB, 2 ** 40) || !count(v.pid, 2 ** 22)) return null;
  if (typeof v.uid !== 'number' || !Number.isSafeInteger(v.uid) || v.uid < 0) return null;
  if (typeof v.start !== 'number' || !Number.isSafeInteger(v.start)) return null;
  for (const k of ['label', 'user', 'boot'] as const) if (typeof v[k] !== 'string' || v[k].length > MAX_TEXT) return null;
  // Shown to people: no terminal escapes or line breaks from another user's file.
  const printable = (s: string) => s.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  return { ...(v as Entry), label: printable(v.label!), user: printable(v.user!) };
}

/**
 * Whether the entry's process still runs: the same process (pid, start time,
 * boot), owned by the entry's user; a zombie holds nothing. Where /proc hides
 * other users' processes (hidepid), a pid that exists counts as alive: a
 * share is never freed by guesswork.
 */
function entryAlive(e: Entry): 'alive' | 'dead' | 'foreign' | 'other-boot' {
  if (e.boot !== bootId()) return 'other-boot';
  const start = processStartTicks(e.pid);
  if (start === null) return !existsSync(`/proc/${e.pid}`) && processAlive(e.pid) ? 'alive' : 'dead';
  if (start !== e.start) return 'dead';
  let owner: number;
  try {
    owner = statSync(`/proc/${e.pid}`).uid;
  } catch {
    return 'dead';
  }
  return e.uid === 0 || owner === e.uid ? 'alive' : 'foreign';
}

let bootTimeCache: number | undefined;
/** When this kernel booted (btime in /proc/stat), in ms since the epoch; 0 when unknown (nothing is then older). */
function bootTimeMs(): number {
  bootTimeCache ??= (() => {
    try {
      const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'));
      return m ? Number(m[1]) * 1000 : 0;
    } catch {
      return 0;
    }
  })();
  return bootTimeCache;
}

/** Queue order: ticket, then id (two processes that chose at once may share a ticket). */
function inLine(a: Entry, b: Entry): number {
  return a.ticket - b.ticket || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function fits(e: { vcpus: number; memoryMiB: number }, free: CapacityBudget): boolean {
  return e.vcpus <= free.vcpus && e.memoryMiB <= free.memoryMiB;
}

function sum(entries: Entry[]): CapacityBudget {
  return entries.reduce((t, e) => ({ vcpus: t.vcpus + e.vcpus, memoryMiB: t.memoryMiB + e.memoryMiB }), { vcpus: 0, memoryMiB: 0 });
}

function holderOf(e: Entry): CapacityHolder {
  return { label: e.label, vcpus: e.vcpus, memoryMiB: e.memoryMiB, pid: e.pid, user: e.user };
}

/** "asked 2 vCPUs and 4 GiB, in use 6 of 8 vCPUs and 20 GiB of 22 GiB by vm web (alice), vmstep run (bob)" */
function shortage(me: Entry, budget: CapacityBudget, used: CapacityBudget, holders: Entry[], ahead: number): string {
  const names = holders.slice(0, 5).map((h) => `${h.label} (${h.user})`);
  if (holders.length > 5) names.push(`${holders.length - 5} more`);
  const by = names.length > 0 ? ` by ${names.join(', ')}` : '';
  const queue = ahead > 0 ? `; ${ahead} earlier ${ahead === 1 ? 'request waits' : 'requests wait'} in line` : '';
  return `asked ${plural(me.vcpus, 'vCPU')} and ${formatMiB(me.memoryMiB)}, in use ${used.vcpus} of ${plural(budget.vcpus, 'vCPU')} and ${formatMiB(used.memoryMiB)} of ${formatMiB(budget.memoryMiB)}${by}${queue}`;
}

function notEnough(me: Entry, budget: CapacityBudget, used: CapacityBudget, holders: Entry[], ahead: number): VmstepError {
  const short = [
    me.vcpus > budget.vcpus - used.vcpus ? 'VMSTEP_MAX_VCPUS' : null,
    me.memoryMiB > budget.memoryMiB - used.memoryMiB ? 'VMSTEP_MAX_MEMORY' : null,
  ].filter(Boolean);
  const fixes = [holders.length > 0 ? 'stop some of them' : null, short.length > 0 ? `raise ${short.join(' or ')}` : null, 'wait in line with --wait'].filter(Boolean);
  const fix = fixes.length > 1 ? `${fixes.slice(0, -1).join(', ')}, or ${fixes.at(-1)}` : fixes[0]!;
  return new VmstepError(`not enough capacity: ${shortage(me, budget, used, holders, ahead)}`, fix);
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

function formatMiB(mib: number): string {
  return mib === 0 ? '0 MiB' : formatBytes(mib * 2 ** 20);
}
