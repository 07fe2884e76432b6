// Starting a guest: vmstep-vmm runs it in its own process (jailed once set
// up; never inside Node). The VMM reports on fd 3, one JSON object per line:
// {"event":"ready"} when the guest is about to run, then
// {"event":"exit","reason":...,"detail":...,"consoleTail":...} last.
// launchVm resolves at "ready" (or rejects with the VMM's own explanation
// when set-up fails), and `exited` always resolves with why the VM ended,
// also when the VMM itself died.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { vmmPath } from './assets.js';
import { kernelCmdline } from './cmdline.js';
import { LIMITS } from '../limits.js';

export interface VmDisk {
  /** The image; with overlayPath, the base image, opened read-only and never written. */
  path: string;
  readOnly: boolean;
  /** A copy-on-write overlay (./overlay.ts, createOverlay) that takes the guest's writes over `path`. */
  overlayPath?: string;
}

export interface LaunchOptions {
  kernelPath: string;
  /** The first disk is the guest's /dev/vda. */
  disks: VmDisk[];
  vcpus: number;
  memoryMiB: number;
  /** Extra kernel command-line arguments, after the base line (cmdline.ts). */
  cmdline: string;
  /** Guest connections to vsock port P arrive on `<vsockUdsPath>_P`; host connections go to `<vsockUdsPath>`. */
  vsockUdsPath: string;
  /** Where the guest's serial console is written; absent: kept only as the tail in VmExit. */
  consoleLogPath?: string;
  /** Full kernel log on the console (slower boot). */
  debug: boolean;
  /** Wall-clock limit from launch; 0: none. */
  timeoutMs: number;
  /** The VMM executable; default: $VMSTEP_VMM or dist/vmstep-vmm. */
  vmmPath?: string;
  /** Host CPU for each vCPU thread (index i for vCPU i); absent: the host scheduler decides. */
  pinCpus?: number[];
}

export type VmExitReason = 'poweroff' | 'reset' | 'triple-fault' | 'panic' | 'timeout' | 'killed' | 'error';

export interface VmExit {
  reason: VmExitReason;
  detail: string;
  /** The last few KiB of the serial console (empty when nothing was printed). */
  consoleTail: string;
}

export interface VmHandle {
  pid: number;
  exited: Promise<VmExit>;
  /** Stops the VM (SIGTERM, then SIGKILL if it lingers); `exited` then resolves with 'killed'. */
  kill(): void;
  /** With pinCpus: the CPUs the vCPU threads were pinned to, or why pinning failed (the VM runs unpinned). */
  pinning?: { cpus: number[] } | { error: string };
}

/** Every reason the VMM gives (docs/vmm-status.md). */
export const EXIT_REASONS: readonly VmExitReason[] = ['poweroff', 'reset', 'triple-fault', 'panic', 'timeout', 'killed', 'error'];
/** How long the VMM gets to stop after SIGTERM, and beyond its own timeout, before SIGKILL. */
const GRACE_MS = 3000;
const STDERR_KEEP = 4096;

/** vmstep-vmm's argv for these options (status on fd 3). */
export function vmmArgs(o: LaunchOptions): string[] {
  const args = ['--kernel', o.kernelPath, '--vcpus', String(o.vcpus), '--memory-mib', String(o.memoryMiB)];
  for (const d of o.disks) {
    if (d.overlayPath) args.push('--disk-cow', d.path, d.overlayPath);
    else args.push(d.readOnly ? '--disk-ro' : '--disk', d.path);
  }
  args.push('--cmdline', kernelCmdline({ debug: o.debug, extra: o.cmdline }));
  if (o.vsockUdsPath) args.push('--vsock-uds', o.vsockUdsPath);
  if (o.consoleLogPath) args.push('--console-log', o.consoleLogPath);
  if (o.timeoutMs > 0) args.push('--timeout-ms', String(Math.ceil(o.timeoutMs)));
  if (o.pinCpus && o.pinCpus.length > 0) args.push('--pin-cpus', o.pinCpus.join(','));
  args.push('--status-fd', '3');
  return args;
}

type StatusLine = { event: 'ready'; cmdline?: string; pinning?: { cpus: number[] } | { error: string } } | ({ event: 'exit' } & VmExit);

/** One status line from the VMM, or null when it is not one we know. */
export function parseStatusLine(line: string): StatusLine | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (o.event === 'ready') {
    const pinned = Array.isArray(o.pinnedCpus) && o.pinnedCpus.every((c) => Number.isInteger(c)) ? { cpus: o.pinnedCpus as number[] } : null;
    const pinning = pinned ?? (typeof o.pinError === 'string' ? { error: o.pinError } : null);
    return { event: 'ready', ...(typeof o.cmdline === 'string' ? { cmdline: o.cmdline } : {}), ...(pinning ? { pinning } : {}) };
  }
  if (o.event === 'exit' && EXIT_REASONS.includes(o.reason as VmExitReason)) {
    return {
      event: 'exit',
      reason: o.reason as VmExitReason,
      detail: typeof o.detail === 'string' ? o.detail : '',
      consoleTail: typeof o.consoleTail === 'string' ? o.consoleTail : '',
    };
  }
  return null;
}

function validate(o: LaunchOptions): void {
  const l = LIMITS;
  if (!Number.isInteger(o.vcpus) || o.vcpus < 1 || o.vcpus > l.maxVcpus) throw new Error(`vcpus must be an integer from 1 to ${l.maxVcpus}, got ${o.vcpus}`);
  if (!Number.isInteger(o.memoryMiB) || o.memoryMiB < l.minMemoryMiB || o.memoryMiB > l.maxMemoryMiB) {
    throw new Error(`memoryMiB must be an integer from ${l.minMemoryMiB} to ${l.maxMemoryMiB}, got ${o.memoryMiB}`);
  }
  if (o.disks.length > l.maxDisks) throw new Error(`at most ${l.maxDisks} disks, got ${o.disks.length}`);
  for (const d of o.disks) if (d.overlayPath && d.readOnly) throw new Error(`disk ${d.path}: an overlay is for writes; a read-only disk needs none`);
}

export async function launchVm(options: LaunchOptions): Promise<VmHandle> {
  validate(options);
  const vmm = options.vmmPath ?? vmmPath();
  const child = spawn(vmm, vmmArgs(options), { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const status = child.stdio[3] as Readable;
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-STDERR_KEEP);
  });

  let exitLine: VmExit | null = null;
  let killedByUs = false;
  let timedOut = false;
  let onReady: (() => void) | null = null;
  let pinning: VmHandle['pinning'];
  let started = false;
  let buffered = '';
  status.setEncoding('utf8');
  status.on('data', (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const msg = parseStatusLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (msg?.event === 'ready') {
        started = true;
        pinning = msg.pinning;
        onReady?.();
      }
      else if (msg?.event === 'exit') exitLine = { reason: msg.reason, detail: msg.detail, consoleTail: msg.consoleTail };
    }
  });
  // Swallow errors on the pipes: the process's exit is what counts.
  status.on('error', () => {});

  const timers: NodeJS.Timeout[] = [];
  const exited = new Promise<VmExit>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      for (const t of timers) clearTimeout(t);
      // The VMM created the socket (it refuses to start when the path
      // exists) but, jailed, cannot remove it: that is our job.
      if (options.vsockUdsPath && started) rmSync(options.vsockUdsPath, { force: true });
      if (exitLine) return resolve(exitLine);
      if (timedOut) return resolve({ reason: 'timeout', detail: `the VM ran past its timeout of ${options.timeoutMs} ms and the VMM was killed`, consoleTail: '' });
      if (killedByUs) return resolve({ reason: 'killed', detail: `the VMM was stopped (${signal ?? `exit ${code}`})`, consoleTail: '' });
      const why = stderr.trim();
      if (signal === 'SIGSYS') {
        return resolve({ reason: 'error', detail: `the VMM was killed by its seccomp jail (SIGSYS): a system call it may not make; this is a vmstep bug, please report it${why ? `: ${why}` : ''}`, consoleTail: '' });
      }
      resolve({ reason: 'error', detail: `the VMM ended without a report (${signal ? `signal ${signal}` : `exit status ${code}`})${why ? `: ${why}` : ''}`, consoleTail: '' });
    };
    child.on('close', finish);
    child.on('error', (err) => {
      exitLine ??= { reason: 'error', detail: `cannot start the VMM ${vmm}: ${err.message}`, consoleTail: '' };
      finish(null, null);
    });
  });

  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    killedByUs = true;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
    t.unref();
    timers.push(t);
  };
  // The VMM enforces the timeout itself; this is the backstop that always
  // ends the VM, even if the VMM stopped responding.
  if (options.timeoutMs > 0) {
    const t = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs + GRACE_MS);
    t.unref();
    timers.push(t);
  }

  await new Promise<void>((resolve, reject) => {
    onReady = resolve;
    void exited.then((exit) => reject(new Error(`the VM did not start: ${exit.detail}`)));
  });
  if (child.pid === undefined) throw new Error(`cannot start the VMM ${vmm}`);
  return { pid: child.pid, exited, kill, ...(pinning ? { pinning } : {}) };
}
