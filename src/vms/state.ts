// Where long-lived VMs are recorded: one directory per user (mode 0700, owned
// by that user), one directory per VM beneath it. The mode is the access
// check: another Unix user can neither read a VM's record nor reach its
// sockets, so cannot exec into or stop it. vm.json is replaced whole (write a
// temporary file, rename), so a reader sees the old record or the new one,
// never half of one.
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmstepError } from '../engine/errors.js';
import type { ImageConfig } from '../image/index.js';
import { processStartTicks } from '../engine/leftovers.js';
import { bootId } from '../rootfs/lock.js';

/**
 * A process named by pid and start time, so that a reused pid is never taken
 * for it, and by the kernel it runs on: a state directory can be seen from
 * another kernel (a VM sharing /tmp over 9p, a record from before a reboot),
 * whose pids mean nothing here.
 */
export interface ProcessRef {
  pid: number;
  startTicks: number;
  bootId?: string;
}

export type VmStatus = 'starting' | 'running' | 'stopping' | 'exited';

/** What a command in the VM inherits unless the exec says otherwise (the image's config and the start options, merged). */
export interface ExecDefaults {
  env: string[];
  workdir: string;
  user: string;
  privileged: boolean;
}

/** vm.json. */
export interface VmRecord {
  id: string;
  name: string;
  image: { reference: string; digest: string };
  /** The config of the image it runs, as the keeper read it (records written before it was kept lack it). */
  imageConfig?: ImageConfig;
  /** ISO 8601. */
  created: string;
  vcpus: number;
  memoryMiB: number;
  status: VmStatus;
  /** The process that created the record, until the keeper takes over; then the keeper. */
  keeper: ProcessRef;
  vmm: ProcessRef | null;
  /** Epoch milliseconds past which the VM is stopped. */
  deadline: number;
  lifetimeMs: number;
  /** 0: none. */
  idleTimeoutMs: number;
  /** The main process's argv; empty with --no-command. */
  command: string[];
  exec: ExecDefaults | null;
  /** When exited: the main process's exit status (null: it had none, or the VM ended otherwise). */
  exitCode: number | null;
  /** When exited: why, in one line, when not a clean end of the main process or a stop. */
  error: string | null;
  /** Epoch milliseconds, when exited. */
  ended: number | null;
}

/** The per-user state root: $VMSTEP_STATE_DIR, else $XDG_RUNTIME_DIR/vmstep, else /tmp/vmstep-<uid>. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VMSTEP_STATE_DIR) return env.VMSTEP_STATE_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'vmstep');
  return `/tmp/vmstep-${process.getuid!()}`;
}

/**
 * Creates the state root if needed and refuses one this user does not own
 * alone: a directory another user made (or can read) could hand our VMs'
 * sockets to them, or theirs to us.
 */
export function openStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const root = stateRoot(env);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = lstatSync(root);
  const uid = process.getuid!();
  if (!st.isDirectory()) {
    throw new VmstepError(`the vmstep state directory ${root} is not a directory`, 'remove it, or set VMSTEP_STATE_DIR to a directory of your own');
  }
  if (st.uid !== uid) {
    throw new VmstepError(`the vmstep state directory ${root} belongs to user ${st.uid}, not to you (user ${uid}): its VMs are not yours`, 'use your own state directory (unset VMSTEP_STATE_DIR)');
  }
  if ((st.mode & 0o077) !== 0) {
    throw new VmstepError(`the vmstep state directory ${root} is open to other users (mode ${(st.mode & 0o777).toString(8)})`, `chmod 700 ${root}`);
  }
  mkdirSync(join(root, 'vms'), { recursive: true, mode: 0o700 });
  return root;
}

export function vmsDir(root: string): string {
  return join(root, 'vms');
}

export function vmDir(root: string, id: string): string {
  return join(root, 'vms', id);
}

/** The files in a VM's directory. */
export function vmPaths(dir: string) {
  return {
    record: join(dir, 'vm.json'),
    /** The VMM's Unix socket: host-opened vsock connections (CONNECT <port>). */
    vsock: join(dir, 'vsock'),
    console: join(dir, 'console.log'),
    main: join(dir, 'main.log'),
    keeperLog: join(dir, 'keeper.log'),
    volumes: join(dir, 'volumes.ext4'),
    /** The grace a stop asked for (milliseconds, as text), read by the keeper on SIGTERM. */
    stopRequest: join(dir, 'stop'),
    /** One file per exec or cp in flight (named by pid); their mtimes and presence feed the idle timeout. */
    sessions: join(dir, 'sessions'),
  };
}

export function newVmId(): string {
  return randomBytes(6).toString('hex');
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function checkVmName(name: string): void {
  if (!NAME.test(name)) throw new VmstepError(`VM name "${name}" is not valid`, 'use 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit');
}

export function writeRecord(dir: string, record: VmRecord): void {
  const path = vmPaths(dir).record;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The record in dir; null when there is none (or it is not one: a VM directory half made or half removed). */
export function readRecord(dir: string): VmRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(vmPaths(dir).record, 'utf8'));
  } catch {
    return null;
  }
  const r = v as Partial<VmRecord>;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.status !== 'string' || typeof r.keeper?.pid !== 'number') return null;
  return r as VmRecord;
}

/** Updates the record with a function of the current one (the keeper is its only writer while it lives). */
export function updateRecord(dir: string, change: (r: VmRecord) => void): VmRecord | null {
  const r = readRecord(dir);
  if (!r) return null;
  change(r);
  writeRecord(dir, r);
  return r;
}

export function processAlive(ref: ProcessRef | null): boolean {
  return ref !== null && !ofAnotherKernel(ref) && processStartTicks(ref.pid) === ref.startTicks;
}

/** Whether the process was recorded by another kernel than this one: neither alive nor dead as far as this host can tell. */
export function ofAnotherKernel(ref: ProcessRef): boolean {
  return ref.bootId !== undefined && ref.bootId !== bootId();
}

/** The process with this pid now (start time 0 when it has already gone). */
export function processRef(pid: number): ProcessRef {
  return { pid, startTicks: processStartTicks(pid) ?? 0, bootId: bootId() };
}

export function selfRef(): ProcessRef {
  return processRef(process.pid);
}

export function listVmDirs(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(vmsDir(root));
  } catch {
    return [];
  }
  return names.filter((n) => /^[0-9a-f]{12}$/.test(n)).map((n) => vmDir(root, n));
}

export function removeVmDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}
