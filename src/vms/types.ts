// What the lifecycle API takes and gives (src/vms/index.ts). The runner
// plugin and the CLI both program against these; keep them stable.
import type { Readable } from 'node:stream';
import type { RunOptions } from '../engine/types.js';
import type { VmStatus } from './state.js';
import type { LinkSpec, PortMapping } from '../ports/spec.js';

/** A VM lives at most this long unless --lifetime says otherwise. */
export const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
/** The grace `stop` gives the guest's processes after SIGTERM, unless --time says otherwise (docker's 10 s). */
export const DEFAULT_STOP_GRACE_MS = 10_000;

export interface StartOptions {
  /** The VM as `vmstep run` options describe it (validateRunInput); outputs, timeout and interactive do not apply. */
  run: RunOptions;
  /** Unique among this user's VMs; default vm-<first 6 hex of the ID>. */
  name?: string;
  /** Default DEFAULT_LIFETIME_MS; past it the VM is stopped, also by the VMM itself if every vmstep process is gone. */
  lifetimeMs?: number;
  /** Stop the VM after this long without an exec or cp; 0 or absent: never. */
  idleTimeoutMs?: number;
  /** No main process: the VM only serves exec and cp until it is stopped. */
  noCommand?: boolean;
  /** How long to wait for capacity when the host's budget is full (ms; Infinity: without limit); absent: run.capacityWaitMs, else fail at once. */
  waitMs?: number;
  /** Where the state directory is looked up ($VMSTEP_STATE_DIR, ...); default process.env. */
  hostEnv?: NodeJS.ProcessEnv;
  /** Host ports whose connections are carried to guest ports (-p). */
  ports?: PortMapping[];
  /** Names inside the VM that reach ports of other running VMs (--link). */
  links?: LinkSpec[];
}

export interface StartEvents {
  /** Progress lines from the keeper as the VM starts (image, rootfs, capacity wait). */
  progress?(line: string): void;
  /** Aborting stops the VM being started (Ctrl-C): startVm then rejects and leaves nothing behind. */
  signal?: AbortSignal;
}

export interface VmInfo {
  id: string;
  name: string;
  image: { reference: string; digest: string };
  status: VmStatus;
  /** ISO 8601. */
  created: string;
  vcpus: number;
  memoryMiB: number;
  /** The main process's exit status once the VM exited; null without one. */
  exitCode: number | null;
  /** Why the VM ended, when not by its main process or a stop. */
  error: string | null;
  /** Epoch ms past which the VM is stopped. */
  deadline: number;
  /** The VM's state directory. */
  dir: string;
}

export interface ExecOptions {
  argv: string[];
  /** NAME=value, on top of the VM's environment. */
  env?: string[];
  workdir?: string;
  user?: string;
  /** Streamed to the command's stdin; absent: it reads /dev/null. */
  stdin?: Readable;
  /** Kills the command (only it: SIGKILL to its process group) after this long; 0 or absent: no limit. */
  timeoutMs?: number;
  /** Aborting kills the command the same way (Ctrl-C). */
  signal?: AbortSignal;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface ExecResult {
  /** The command's exit status (128 + n when a signal ended it). */
  exitCode: number;
  /** The signal's name when one ended it. */
  signal?: string;
  timedOut: boolean;
  /** The signal option stopped it. */
  cancelled: boolean;
}

export interface StopOptions {
  /** Seconds the guest's processes get after SIGTERM before SIGKILL; default 10. */
  timeSeconds?: number;
}

export interface LookupOptions {
  /** Where the state directory is looked up ($VMSTEP_STATE_DIR, ...); default process.env. */
  hostEnv?: NodeJS.ProcessEnv;
}
