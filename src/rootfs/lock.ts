// A lock file per cache entry, so that concurrent runs on one host build an
// entry once: created with O_EXCL, holding the owner's identity.
//
// Why not flock(2), which the kernel releases with the process: Node has no
// flock, and the image pipeline runs where vmstep's native addon is not
// loaded (pull on a host without KVM, the unit tests), so a kernel lock
// would mean a second native build just for this. Instead the owner is
// identified robustly: pid, the process's start time (field 22 of
// /proc/PID/stat) and the boot id. A pid alone is not enough: after a crash
// the pid may belong to another process, or (in a restarted container) to
// the waiting process itself. A lock whose owner is not that exact process
// is stale and taken over.
import { open, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { RootfsError } from './tree.js';

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Start time of a process in clock ticks since boot, or undefined when it does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let bootIdCache: string | undefined;
/** This boot's id (/proc/sys/kernel/random/boot_id): a pid and start time from another boot name nobody. */
export function bootId(): string {
  bootIdCache ??= (() => {
    try {
      return readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim();
    } catch {
      return '';
    }
  })();
  return bootIdCache;
}

interface Holder {
  pid: number;
  start?: string;
  boot?: string;
  what?: string;
}

function parseHolder(text: string): Holder | undefined {
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h.pid === 'number') return h as Holder;
  } catch {
    // Locks of earlier versions hold only the pid.
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0) return { pid };
  }
  return undefined;
}

/** True while the process that wrote the lock runs (the same process, not a later one with its pid). */
function holderAlive(h: Holder): boolean {
  if (h.boot !== undefined && h.boot !== bootId()) return false;
  if (h.start === undefined) return processAlive(h.pid);
  return processStartTime(h.pid) === h.start;
}

export interface Lock {
  release(): Promise<void>;
}

export interface LockOptions {
  timeoutMs?: number;
  /** What the holder is doing, stored in the lock and named to whoever waits for it. */
  what?: string;
  /** Told once, after `noticeMs`, what is being waited for. */
  onWait?: (message: string) => void;
  noticeMs?: number;
  /** Stops waiting (Ctrl-C): rejects with the signal's reason. */
  signal?: AbortSignal;
}

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<Lock> {
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 60 * 60_000);
  let told = false;
  const me: Holder = { pid: process.pid, start: processStartTime(process.pid) ?? '', boot: bootId(), what: opts.what ?? 'its work' };
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me));
      } catch (e) {
        await fh.close();
        await rm(path, { force: true });
        throw e;
      }
      await fh.close();
      return { release: () => rm(path, { force: true }) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = parseHolder(await readFile(path, 'utf8').catch(() => ''));
    const st = await stat(path).catch(() => null);
    // An unreadable lock younger than a second is one being written right now.
    const young = st ? Date.now() - st.mtimeMs < 1000 : false;
    if (st && (holder ? !holderAlive(holder) : !young)) {
      await rm(path, { force: true });
      continue;
    }
    const who = holder ? `process ${holder.pid} (${holder.what ?? 'vmstep'})` : 'another process';
    if (!told && opts.onWait && Date.now() - started >= (opts.noticeMs ?? 3000)) {
      told = true;
      opts.onWait(`waiting for ${who} to finish; lock ${path}`);
    }
    if (Date.now() > deadline) throw new RootfsError(`timed out waiting for ${who} to finish (lock ${path}); if no vmstep is running, remove that file`);
    await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => opts.signal?.throwIfAborted());
  }
}
