// Cleaning up after a run whose process died: a cancelled GitHub job kills
// the action's Node process, which may leave the VMM process running and the
// scratch directory (a writable disk image of the whole root filesystem) on
// disk. The run records what it holds (RunResources); a later process (the
// action's post step) reads that record and releases it here.
//
// The record comes from a file, so it is checked before it is acted on: a PID
// is signalled only when it is still the same process (same start time) and
// a directory is removed only when it is a vmstep scratch directory.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { RootfsCache } from '../rootfs/index.js';
import type { RunResources } from './types.js';

export const SCRATCH_PREFIX = 'vmstep-run-';

export function createScratchDir(root: string | null): string {
  return mkdtempSync(join(root ?? tmpdir(), SCRATCH_PREFIX));
}

/** A process's start time in clock ticks since boot (/proc/PID/stat field 22), or null when it is gone. */
export function processStartTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 is fields[19].
  const ticks = Number(fields[19]);
  if (fields[0] === 'Z') return null; // a zombie holds nothing
  return Number.isFinite(ticks) ? ticks : null;
}

export interface ReleaseReport {
  /** The VMM was still running and was killed. */
  killedPid: number | null;
  /** The scratch directory existed and was removed. */
  removedDir: string | null;
  /** Things left alone, and why. */
  skipped: string[];
}

export async function releaseResources(res: RunResources): Promise<ReleaseReport> {
  const report: ReleaseReport = { killedPid: null, removedDir: null, skipped: [] };
  const pid = res.vmmPid;
  if (typeof pid === 'number' && Number.isInteger(pid) && pid > 1) {
    const ticks = processStartTicks(pid);
    if (ticks === null) {
      // Already gone: the normal case after a run that ended by itself.
    } else if (res.vmmStartTicks !== undefined && ticks !== res.vmmStartTicks) {
      report.skipped.push(`PID ${pid} now belongs to another process; not signalled`);
    } else {
      try {
        process.kill(pid, 'SIGKILL');
        report.killedPid = pid;
        await waitGone(pid, ticks, 5000);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ESRCH') report.skipped.push(`could not stop the VMM (PID ${pid}): ${code ?? (err as Error).message}`);
      }
    }
  }
  const dir = res.scratchDir;
  if (typeof dir === 'string' && dir !== '') {
    if (!basename(dir).startsWith(SCRATCH_PREFIX)) {
      report.skipped.push(`${dir} is not a vmstep scratch directory; not removed`);
    } else if (exists(dir)) {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      report.removedDir = dir;
    }
  }
  // The run's disk overlay lives in the cache (runs/<pid>-*), named
  // after the process that made it; the rootfs module removes those whose
  // process is gone.
  if (typeof res.cacheDir === 'string' && res.cacheDir !== '') {
    await new RootfsCache(res.cacheDir).sweep().catch((err: Error) => report.skipped.push(`could not sweep ${res.cacheDir}: ${err.message}`));
  }
  return report;
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ticks: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && processStartTicks(pid) === ticks) await new Promise((r) => setTimeout(r, 20));
}

/** Parses a resources record read from a file; null when it is not one. */
export function parseResources(text: string): RunResources | null {
  try {
    const v = JSON.parse(text) as Partial<RunResources>;
    if (typeof v !== 'object' || v === null || typeof v.scratchDir !== 'string') return null;
    const out: RunResources = { scratchDir: v.scratchDir };
    if (typeof v.vmmPid === 'number') out.vmmPid = v.vmmPid;
    if (typeof v.vmmStartTicks === 'number') out.vmmStartTicks = v.vmmStartTicks;
    if (typeof v.cacheDir === 'string') out.cacheDir = v.cacheDir;
    return out;
  } catch {
    return null;
  }
}
