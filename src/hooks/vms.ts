// What the hooks need from long-lived VMs, in one narrow interface: start a
// VM with no main process and the runner's directories copied in, run a
// command in it, move trees in and out, list a tree, stop it, and find a
// job's VMs by name after a crash. bindVms (vms-binding.ts) implements it
// over src/vms and the session transfer API; keeping the commands on this
// interface lets tests call them directly and replay what the runner sends.
import type { Readable, Writable } from 'node:stream';
import type { EntryMeta, TransferEntry } from './sync.js';
import type { LinkSpec, PortMapping } from '../ports/spec.js';
import type { ImageConfig } from '../image/index.js';

export interface JobVmSpec {
  /** Names carry the job's key, so cleanup finds a job's VMs even without the state. */
  name: string;
  image: string;
  credentials: { username: string; password: string } | null;
  vcpus: number | null;
  memoryBytes: number | null;
  /** `NAME=value`, over the image's. */
  env: string[];
  user: string | null;
  workdir: string | null;
  /** Host trees copied in before the VM is ready (the runner's directories), parents first. */
  volumes: { hostPath: string; guestPath: string }[];
  /** A service container's own command runs as the VM's main process (absent: none runs); entrypoint and args over the image's. */
  command?: { entrypoint: string[] | null; args: string[] };
  /** Host ports carried to the VM's ports, and names reaching other VMs' ports (src/ports). */
  ports?: PortMapping[];
  links?: LinkSpec[];
}

export interface ExecSpec {
  argv: string[];
  /** `NAME=value`, over the VM's own environment. */
  env: string[];
  /** Directories put ahead of the VM's PATH, first first. */
  prependPath: string[];
  /** Absent: the VM's own (the image's WorkingDir, or the workdir it started with). */
  workdir?: string;
  stdout: Writable;
  stderr: Writable;
  signal?: AbortSignal;
}

export interface HookVms {
  /** Boots the VM (no main process); resolves with its id when it serves. `progress` gets lines for the step log (image pull, capacity wait). */
  start(spec: JobVmSpec, signal?: AbortSignal, progress?: (line: string) => void): Promise<string>;
  /** The config of the image the VM runs: ENTRYPOINT and CMD for a container step's command, EXPOSE and HEALTHCHECK for a service. */
  imageConfig(id: string, credentials?: { username: string; password: string } | null): Promise<ImageConfig>;
  /** Runs a command; resolves with its exit status (128 + n for a signal). */
  exec(id: string, spec: ExecSpec): Promise<number>;
  put(id: string, guestPath: string, entries: Iterable<TransferEntry> | AsyncIterable<TransferEntry>): Promise<void>;
  /** The tree at guestPath (paths relative to its parent, as the guest sends them); null when the path does not exist. */
  list(id: string, guestPath: string): Promise<EntryMeta[] | null>;
  get(id: string, guestPath: string): AsyncIterable<TransferEntry>;
  /** Stops the VM and removes everything it left; a VM that is already gone is not an error. */
  stop(id: string): Promise<void>;
  /** The VM's published ports as its keeper bound them (a host port 0 asked for becomes the port it got); none for a VM without any. */
  published(id: string): Promise<PortMapping[]>;
  /** Resolves once something in the VM accepts connections on the port; rejects after timeoutMs or when the VM ends. */
  waitForPort(id: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<void>;
  /** Ids of every VM (running or exited) whose name starts with prefix. */
  named(prefix: string): Promise<string[]>;
}

export type { Readable };
