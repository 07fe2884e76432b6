// What the two faces (CLI and action) hand the engine, and what they get
// back. The faces turn flags or inputs into a RunInput (strings as the user
// wrote them); validateRunInput (validate.ts) turns that into RunOptions,
// typed and checked; runImage (run.ts) runs it and returns a RunResult.
import type { Volume } from './volumes.js';

/** A run as the user wrote it: sizes and durations still strings. */
export interface RunInput {
  /** Image reference: registry reference, oci:DIR, oci-archive:FILE, docker-archive:FILE, docker-daemon:NAME. */
  image: string;
  /** Replaces the image's ENTRYPOINT (and drops its CMD, as docker does). `[]` clears it. */
  entrypoint?: string[];
  /** Replaces the image's CMD; empty or absent keeps it. */
  command?: string[];
  /** `NAME=value`, or a bare `NAME` to pass the host's value; applied after envFiles. */
  env?: string[];
  envFiles?: string[];
  workdir?: string;
  user?: string;
  vcpus?: string | number;
  memory?: string | number;
  disk?: string | number;
  /** Seconds, or a duration such as 90s or 5m; 0 means no limit. */
  timeout?: string | number;
  /** Guest paths or globs to bring back after the run. */
  outputs?: string[];
  /** Where returned files land (default ./vmstep-output). */
  outputDir?: string;
  /** Where stdout and stderr are saved as files; absent: not saved. */
  logDir?: string;
  kernel?: string;
  /** Extra guest kernel arguments (benchmark mode adds nokaslr and friends). */
  kernelArgs?: string[];
  privileged?: boolean;
  debug?: boolean;
  registryUsername?: string;
  registryPassword?: string;
  /** Cache root (default $VMSTEP_CACHE or ~/.cache/vmstep). */
  cacheDir?: string;
  /** Parent of the per-run scratch directory (default the OS temp dir). */
  scratchRoot?: string;
  /** `HOST_PATH:GUEST_PATH`: copies of host files or trees made before the command starts. */
  volumes?: string[];
  /** Where relative volume host paths start (default: the face's working directory). */
  volumeBase?: string;
  /** Stream RunControl.stdin to the command's stdin; otherwise it reads /dev/null. */
  interactive?: boolean;
  /**
   * How long to wait in line for the host's capacity (engine/capacity.ts)
   * when the VM does not fit: true or 0 waits without limit, a duration
   * that long; absent: fail at once.
   */
  wait?: string | number | boolean;
}

export interface Credentials {
  username: string;
  password: string;
}

/** A validated run: every value typed, checked and defaulted. */
export interface RunOptions {
  image: string;
  /** null: the image's ENTRYPOINT. */
  entrypoint: string[] | null;
  /** Empty: the image's CMD (unless entrypoint is set, which drops it). */
  command: string[];
  /** `NAME=value` in order; later ones win over earlier ones and over the image's. */
  env: string[];
  workdir: string | null;
  user: string | null;
  vcpus: number;
  memoryMiB: number;
  /** Size of the writable root disk; null: the rootfs module's default. */
  diskBytes: number | null;
  /** 0: no limit. */
  timeoutMs: number;
  outputs: string[];
  outputDir: string;
  logDir: string | null;
  /** Guest kernel; null: the bundled one. */
  kernel: string | null;
  /** Extra guest kernel arguments, appended to the VMM's base command line. */
  kernelArgs: string[];
  privileged: boolean;
  debug: boolean;
  credentials: Credentials | null;
  cacheDir: string | null;
  scratchRoot: string | null;
  /** Pin each vCPU thread to a host core of its own when the host has enough (benchmark mode). */
  pinVcpus?: boolean;
  /** Copied into the guest before the command starts (see engine/volumes.ts). */
  volumes: Volume[];
  /** The command's stdin is RunControl.stdin (required then); otherwise /dev/null. */
  interactive: boolean;
  /** How long the VM waits in line for its share of the host's capacity: 0 (absent) fails at once, Infinity waits without limit. */
  capacityWaitMs?: number;
  /** Who holds the share, as `vmstep doctor` and a refused reservation name it; default "vmstep run IMAGE". */
  capacityLabel?: string;
}

/** Where a run's vCPU threads ran: pinned to host CPUs, or why not. */
export interface VcpuPinning {
  pinned: boolean;
  /** Host CPU of vCPU i at index i; empty when not pinned. */
  cpus: number[];
  /** Why not pinned; empty when pinned. */
  reason: string;
}

/** The set-up phases, in order; `command` is the command itself, until its last returned file is on disk. */
export type Phase = 'image' | 'rootfs' | 'volumes' | 'boot' | 'command';

export interface OutputFile {
  guestPath: string;
  hostPath: string;
  bytes: number;
}

/** A requested output that did not come back (in whole or part). */
export interface OutputIssue {
  request: string;
  path: string | null;
  reason: string;
  message: string;
}

export interface Timings {
  /** Resolving the image: manifest, config, layer downloads. */
  imageMs: number;
  /** Building or reusing the cached root filesystem, and the run's writable copy. */
  rootfsMs: number;
  /** Copying the volumes onto their disk; absent without volumes. */
  volumesMs?: number;
  /** VMM start until guest init said hello. */
  bootMs: number;
  /** The command's wall time as the guest measured it (start to exit). */
  commandMs: number;
  /** Everything, from the call to the result. */
  totalMs: number;
}

export interface RunResult {
  /** The command's exit status; 124 when the time limit ended it. */
  exitCode: number;
  /** Name of the signal that ended the command (e.g. SIGKILL), or null. */
  signal: string | null;
  timedOut: boolean;
  image: { reference: string; digest: string };
  /** The argv that ran (ENTRYPOINT + CMD after the overrides). */
  command: string[];
  outputs: OutputFile[];
  outputIssues: OutputIssue[];
  timings: Timings;
  stdoutFile: string | null;
  stderrFile: string | null;
  stdoutBytes: number;
  stderrBytes: number;
  outputDir: string;
  /** Only when pinning was asked for (RunOptions.pinVcpus). */
  vcpuPinning?: VcpuPinning;
}

/** Resources a run holds on the host, so that a later process can clean up after a killed one. */
export interface RunResources {
  /** Per-run directory: writable rootfs copy, sockets, console log. */
  scratchDir: string;
  /** The VMM process, once started. */
  vmmPid?: number;
  /** Its start time in clock ticks since boot (/proc/PID/stat field 22), to tell it from a reused PID. */
  vmmStartTicks?: number;
  /** The cache root, whose per-run disk copies of dead processes RootfsCache.sweep() removes. */
  cacheDir?: string;
}

/**
 * Live events. The faces print or group them; the engine never writes to
 * stdout or stderr itself. Every callback is optional and must not throw.
 */
export interface RunEvents {
  phaseStart?(phase: Phase, detail: string): void;
  phaseEnd?(phase: Phase, ms: number, detail: string): void;
  /** Human progress lines within a phase (layer downloads, cache hits). */
  progress?(message: string): void;
  /** The VM does not fit in the host's capacity yet and waits in line: what it waits for, said once. */
  waiting?(message: string): void;
  /** Guest output as it arrives; a returned promise holds the guest until it resolves (backpressure). */
  stdout?(chunk: Buffer): void | Promise<void>;
  stderr?(chunk: Buffer): void | Promise<void>;
  /** The guest serial console, only with debug. */
  console?(chunk: Buffer): void;
  warning?(message: string): void;
  /** Called whenever the resources held change (scratch created, VMM started, all released). */
  resources?(resources: RunResources | null): void;
}
