// The protocol's messages as typed values (docs/protocol.md, "Messages"):
// encoders for what the host sends, decoders for what the guest sends, and
// the reverse pair too, so tests can play a guest or a host byte-exactly.
import {
  DEFAULT_MAX_FILES,
  DEFAULT_MAX_FILE_BYTES,
  Field,
  MAX_ENTRY_PATH_BYTES,
  MessageType,
  ProtocolError,
  RecordReader,
  encodeFrame,
  encodeRecord,
  type FieldValue,
} from './protocol.js';

/** What guest init runs: argv and env already resolved (see command.ts). */
export interface RunSpec {
  /** The command line, at least one element; argv[0] is looked up in env's PATH when it has no slash. */
  argv: string[];
  /** `NAME=value` entries, in order. Guest init adds HOME from the user's passwd entry when absent. */
  env: string[];
  /** Absolute; created when missing. Default `/`. */
  workdir?: string;
  /** `name`, `uid`, `name:group`, `uid:gid`; default root. */
  user?: string;
  /** Default `vmstep`. */
  hostname?: string;
  /** Paths or globs to return after the run, relative to workdir unless absolute. */
  outputs?: string[];
  /** Default 25 MiB. */
  maxFileBytes?: number;
  /** Default 255. */
  maxFiles?: number;
  /** Keep capabilities; no seccomp filter or no_new_privs. Default false. */
  privileged?: boolean;
  /** The guest block device (ext4) that holds the volumes, e.g. `/dev/vdb`; required with volumes. */
  volumeDevice?: string;
  /** Entries at the root of volumeDevice, each mounted at its guest path, in this order. */
  volumes?: VolumeMount[];
  /** The host streams STDIN frames to the command's stdin; otherwise it reads /dev/null. Default false. */
  stdin?: boolean;
}

/** One volume as guest init sees it: `name` at the root of the volume disk, mounted at `guestPath`. */
export interface VolumeMount {
  name: string;
  guestPath: string;
}

const hasNul = (s: string) => s.includes('\0');

/** Checks a spec before it leaves the host, so mistakes read as the caller's, not the guest's. */
export function validateRunSpec(spec: RunSpec): void {
  if (spec.argv.length === 0 || spec.argv[0] === '') throw new Error('the run spec has no command: argv is empty');
  for (const a of spec.argv) if (hasNul(a)) throw new Error(`argument ${JSON.stringify(a)} contains a NUL byte`);
  for (const e of spec.env) {
    const eq = e.indexOf('=');
    if (eq <= 0 || hasNul(e)) throw new Error(`environment entry ${JSON.stringify(e)} is not NAME=value`);
  }
  if (spec.workdir !== undefined && spec.workdir !== '' && !spec.workdir.startsWith('/')) {
    throw new Error(`the working directory '${spec.workdir}' is not an absolute path`);
  }
  for (const o of spec.outputs ?? []) if (o === '' || hasNul(o)) throw new Error(`output path ${JSON.stringify(o)} is empty or contains NUL`);
  for (const [name, v] of [['maxFileBytes', spec.maxFileBytes], ['maxFiles', spec.maxFiles]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw new Error(`${name} must be a non-negative integer, got ${v}`);
  }
  if ((spec.volumes?.length ?? 0) > 0 && !spec.volumeDevice?.startsWith('/')) throw new Error('the run spec has volumes but no volume device');
  for (const v of spec.volumes ?? []) {
    if (!/^[^/:\0]+$/.test(v.name)) throw new Error(`volume name ${JSON.stringify(v.name)} must be one path component without ':'`);
    if (!v.guestPath.startsWith('/') || hasNul(v.guestPath)) throw new Error(`volume guest path ${JSON.stringify(v.guestPath)} is not absolute or contains NUL`);
  }
}

export function encodeRun(spec: RunSpec): Buffer {
  validateRunSpec(spec);
  const F = Field.Run;
  const fields: [number, FieldValue][] = [];
  for (const a of spec.argv) fields.push([F.arg, a]);
  for (const e of spec.env) fields.push([F.env, e]);
  if (spec.workdir) fields.push([F.workdir, spec.workdir]);
  if (spec.user) fields.push([F.user, spec.user]);
  if (spec.hostname) fields.push([F.hostname, spec.hostname]);
  for (const o of spec.outputs ?? []) fields.push([F.output, o]);
  fields.push([F.maxFileBytes, spec.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES]);
  fields.push([F.maxFiles, spec.maxFiles ?? DEFAULT_MAX_FILES]);
  fields.push([F.privileged, spec.privileged ?? false]);
  if (spec.volumeDevice) fields.push([F.volumeDevice, spec.volumeDevice]);
  for (const v of spec.volumes ?? []) fields.push([F.volume, `${v.name}:${v.guestPath}`]);
  if (spec.stdin) fields.push([F.stdin, true]);
  return encodeFrame(MessageType.Run, encodeRecord(fields));
}

export function decodeRun(payload: Buffer): Required<RunSpec> {
  const r = new RecordReader(payload, 'RUN');
  const F = Field.Run;
  return {
    argv: r.strings(F.arg),
    env: r.strings(F.env),
    workdir: r.string(F.workdir) ?? '/',
    user: r.string(F.user) ?? '',
    hostname: r.string(F.hostname) ?? 'vmstep',
    outputs: r.strings(F.output),
    maxFileBytes: r.u64(F.maxFileBytes) ?? DEFAULT_MAX_FILE_BYTES,
    maxFiles: r.u64(F.maxFiles) ?? DEFAULT_MAX_FILES,
    privileged: r.bool(F.privileged) ?? false,
    volumeDevice: r.string(F.volumeDevice) ?? '',
    volumes: r.strings(F.volume).map((s) => {
      const colon = s.indexOf(':');
      return { name: s.slice(0, colon), guestPath: s.slice(colon + 1) };
    }),
    stdin: r.bool(F.stdin) ?? false,
  };
}

/** The next bytes of the command's stdin (at most one frame). */
export function encodeStdin(data: Uint8Array): Buffer {
  return encodeFrame(MessageType.Stdin, data);
}

/** The end of the command's stdin: guest init closes the pipe once what it holds is written. */
export function encodeStdinEnd(): Buffer {
  return encodeFrame(MessageType.StdinEnd, Buffer.alloc(0));
}

export function encodeStdinAck(bytes: number): Buffer {
  return encodeFrame(MessageType.StdinAck, encodeRecord([[Field.StdinAck.bytes, bytes]]));
}

export function decodeStdinAck(payload: Buffer): number {
  return new RecordReader(payload, 'STDIN_ACK').requireU64(Field.StdinAck.bytes);
}

export function encodeSignal(signal: number): Buffer {
  return encodeFrame(MessageType.Signal, encodeRecord([[Field.Signal.signal, signal]]));
}

// Guest to host ---------------------------------------------------------------

export interface StartedMessage {
  pid: number;
  commandStartNs: number;
}

export interface ExitMessage {
  /** Exit status; 128+N when killed by signal N; 126/127 when the command could not start. */
  code: number;
  signal: number | null;
  signalName: string | null;
  /** Why the command could not start, when it could not. */
  error: string | null;
}

export interface FileMessage {
  path: string;
  mode: number;
  size: number;
}

export type OutputIssueReason = 'missing' | 'too-large' | 'limit' | 'not-regular' | 'unreadable';

export interface OutputIssue {
  /** The output path or glob as given in the spec ('' for the file-count limit). */
  request: string;
  path: string | null;
  reason: OutputIssueReason | string;
  message: string;
}

/** Guest boot clock (CLOCK_BOOTTIME) nanoseconds; 0 when it did not happen. */
export interface GuestTimings {
  initStartNs: number;
  specReceivedNs: number;
  commandStartNs: number;
  commandEndNs: number;
  outputsEndNs: number;
}

export interface ErrorMessage {
  stage: string;
  message: string;
}

export function decodeStarted(payload: Buffer): StartedMessage {
  const r = new RecordReader(payload, 'STARTED');
  return { pid: r.requireU64(Field.Started.pid), commandStartNs: r.u64(Field.Started.commandStartNs) ?? 0 };
}

export function decodeExit(payload: Buffer): ExitMessage {
  const r = new RecordReader(payload, 'EXIT');
  const F = Field.Exit;
  const code = r.requireU64(F.code);
  if (code > 255) throw new ProtocolError(`EXIT: exit code ${code} is outside 0-255`);
  const signal = r.u64(F.signal) ?? 0;
  return {
    code,
    signal: signal === 0 ? null : signal,
    signalName: signal === 0 ? null : (r.string(F.signalName) ?? `SIG${signal}`),
    error: r.string(F.error) ?? null,
  };
}

export function decodeFile(payload: Buffer): FileMessage {
  const r = new RecordReader(payload, 'FILE');
  const F = Field.File;
  return { path: r.requireString(F.path), mode: r.requireU64(F.mode), size: r.requireU64(F.size) };
}

export function decodeFileEnd(payload: Buffer): { error: string | null } {
  return { error: new RecordReader(payload, 'FILE_END').string(Field.FileEnd.error) ?? null };
}

export function decodeOutputIssue(payload: Buffer): OutputIssue {
  const r = new RecordReader(payload, 'OUTPUT_ISSUE');
  const F = Field.OutputIssue;
  return {
    request: r.string(F.request) ?? '',
    path: r.string(F.path) ?? null,
    reason: r.requireString(F.reason),
    message: r.string(F.message) ?? '',
  };
}

export function decodeTimings(payload: Buffer): GuestTimings {
  const r = new RecordReader(payload, 'TIMINGS');
  const F = Field.Timings;
  return {
    initStartNs: r.u64(F.initStartNs) ?? 0,
    specReceivedNs: r.u64(F.specReceivedNs) ?? 0,
    commandStartNs: r.u64(F.commandStartNs) ?? 0,
    commandEndNs: r.u64(F.commandEndNs) ?? 0,
    outputsEndNs: r.u64(F.outputsEndNs) ?? 0,
  };
}

export function decodeError(payload: Buffer): ErrorMessage {
  const r = new RecordReader(payload, 'ERROR');
  return { stage: r.string(Field.Error.stage) ?? 'unknown', message: r.string(Field.Error.message) ?? '(no message)' };
}

export function encodeError(stage: string, message: string): Buffer {
  return encodeFrame(MessageType.Error, encodeRecord([[Field.Error.stage, stage], [Field.Error.message, message]]));
}

// Encoders for the guest's messages: tests use them to play a (fake) guest.

export function encodeStarted(m: StartedMessage): Buffer {
  return encodeFrame(MessageType.Started, encodeRecord([[Field.Started.pid, m.pid], [Field.Started.commandStartNs, m.commandStartNs]]));
}

export function encodeExit(m: { code: number; signal?: number; signalName?: string; error?: string }): Buffer {
  const F = Field.Exit;
  const fields: [number, FieldValue][] = [[F.code, m.code], [F.signal, m.signal ?? 0]];
  if (m.signalName) fields.push([F.signalName, m.signalName]);
  if (m.error) fields.push([F.error, m.error]);
  return encodeFrame(MessageType.Exit, encodeRecord(fields));
}

export function encodeFile(m: FileMessage): Buffer {
  const F = Field.File;
  return encodeFrame(MessageType.File, encodeRecord([[F.path, m.path], [F.mode, m.mode], [F.size, m.size]]));
}

export function encodeFileEnd(error?: string): Buffer {
  return encodeFrame(MessageType.FileEnd, encodeRecord(error ? [[Field.FileEnd.error, error]] : []));
}

export function encodeTimings(t: GuestTimings): Buffer {
  const F = Field.Timings;
  return encodeFrame(
    MessageType.Timings,
    encodeRecord([
      [F.initStartNs, t.initStartNs],
      [F.specReceivedNs, t.specReceivedNs],
      [F.commandStartNs, t.commandStartNs],
      [F.commandEndNs, t.commandEndNs],
      [F.outputsEndNs, t.outputsEndNs],
    ]),
  );
}

// Service mode (docs/protocol.md, "Service mode") ------------------------------

/** What guest init needs to serve a long-lived VM: like RunSpec minus outputs, stdin and limits. */
export interface ServeSpec {
  /** The main process's command line; absent or empty: no main process, the VM serves sessions until POWEROFF. */
  argv?: string[];
  /** `NAME=value` entries for the main process. */
  env: string[];
  /** The main process's working directory (absolute, created when missing). Default `/`. */
  workdir?: string;
  /** The main process's user, also the owner of the volumes. Default root. */
  user?: string;
  /** Default `vmstep`. */
  hostname?: string;
  /** The main process keeps capabilities, and so may every exec that asks for it. Default false. */
  privileged?: boolean;
  volumeDevice?: string;
  volumes?: VolumeMount[];
  /** The vsock port guest init listens on for sessions. Default EXEC_VSOCK_PORT. */
  execPort?: number;
}

export function validateServeSpec(spec: ServeSpec): void {
  // The shared fields follow RUN's rules; a stand-in argv lets the run check cover them.
  validateRunSpec({ ...spec, argv: spec.argv && spec.argv.length > 0 ? spec.argv : ['-'] });
  if (spec.execPort !== undefined && (!Number.isInteger(spec.execPort) || spec.execPort <= 0 || spec.execPort > 0xffffffff)) {
    throw new Error(`execPort must be a vsock port (1 to 4294967295), got ${spec.execPort}`);
  }
}

export function encodeServe(spec: ServeSpec, defaultExecPort: number): Buffer {
  validateServeSpec(spec);
  const F = Field.Serve;
  const fields: [number, FieldValue][] = [];
  for (const a of spec.argv ?? []) fields.push([F.arg, a]);
  for (const e of spec.env) fields.push([F.env, e]);
  if (spec.workdir) fields.push([F.workdir, spec.workdir]);
  if (spec.user) fields.push([F.user, spec.user]);
  if (spec.hostname) fields.push([F.hostname, spec.hostname]);
  fields.push([F.privileged, spec.privileged ?? false]);
  if (spec.volumeDevice) fields.push([F.volumeDevice, spec.volumeDevice]);
  for (const v of spec.volumes ?? []) fields.push([F.volume, `${v.name}:${v.guestPath}`]);
  fields.push([F.execPort, spec.execPort ?? defaultExecPort]);
  return encodeFrame(MessageType.Serve, encodeRecord(fields));
}

export function decodeReady(payload: Buffer): { readyNs: number } {
  return { readyNs: new RecordReader(payload, 'READY').u64(Field.Ready.readyNs) ?? 0 };
}

export function encodeReady(readyNs: number): Buffer {
  return encodeFrame(MessageType.Ready, encodeRecord([[Field.Ready.readyNs, readyNs]]));
}

export function encodePoweroff(graceMs: number): Buffer {
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw new RangeError(`the power-off grace must be a non-negative number of milliseconds, got ${graceMs}`);
  return encodeFrame(MessageType.Poweroff, encodeRecord([[Field.Poweroff.graceMs, graceMs]]));
}

/** PUT, GET and LIST: the request that opens a transfer session. */
export function encodeTransferRequest(kind: 'put' | 'get' | 'list', guestPath: string, user?: string): Buffer {
  if (!guestPath.startsWith('/') || guestPath.includes('\0')) throw new Error(`the guest path ${JSON.stringify(guestPath)} is not absolute or contains NUL`);
  if (kind === 'put') {
    const fields: [number, FieldValue][] = [[Field.Put.path, guestPath]];
    if (user) fields.push([Field.Put.user, user]);
    return encodeFrame(MessageType.Put, encodeRecord(fields));
  }
  return encodeFrame(kind === 'get' ? MessageType.Get : MessageType.List, encodeRecord([[Field.Get.path, guestPath]]));
}

export function encodePutEnd(): Buffer {
  return encodeFrame(MessageType.PutEnd);
}

export interface DoneMessage {
  error: string | null;
  entries: number;
}

export function decodeDone(payload: Buffer): DoneMessage {
  const r = new RecordReader(payload, 'DONE');
  return { error: r.string(Field.Done.error) ?? null, entries: r.u64(Field.Done.entries) ?? 0 };
}

export function encodeDone(m: { error?: string; entries?: number }): Buffer {
  const fields: [number, FieldValue][] = [];
  if (m.error) fields.push([Field.Done.error, m.error]);
  fields.push([Field.Done.entries, m.entries ?? 0]);
  return encodeFrame(MessageType.Done, encodeRecord(fields));
}

export type EntryType = 'file' | 'dir' | 'symlink';

/** One file, directory or symbolic link of a transfer; `path` is relative, normalised, without `..`. */
export interface EntryMeta {
  path: string;
  type: EntryType;
  /** Permission bits (& 0o7777). */
  mode: number;
  /** File bytes (0 for directories and links). */
  size: number;
  /** The link's target, as stored (never followed). */
  linkTarget?: string;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs?: bigint;
}

/**
 * Checks an entry path from either side: relative, normalised (no empty,
 * `.` or `..` components, no trailing slash), no NUL, bounded. Returns why
 * not, or null when it is fine.
 */
export function entryPathProblem(path: string): string | null {
  if (path === '') return 'it is empty';
  if (Buffer.byteLength(path) > MAX_ENTRY_PATH_BYTES) return `it is longer than ${MAX_ENTRY_PATH_BYTES} bytes`;
  if (path.includes('\0')) return 'it contains a NUL byte';
  if (path.startsWith('/')) return 'it is absolute';
  for (const c of path.split('/')) {
    if (c === '..') return 'it contains ..';
    if (c === '' || c === '.') return 'it is not normalised';
  }
  return null;
}

export function encodeEntry(e: EntryMeta): Buffer {
  const F = Field.Entry;
  const fields: [number, FieldValue][] = [[F.path, e.path], [F.type, e.type], [F.mode, e.mode & 0o7777], [F.size, e.type === 'file' ? e.size : 0]];
  if (e.type === 'symlink') fields.push([F.linkTarget, e.linkTarget ?? '']);
  if (e.mtimeNs !== undefined) fields.push([F.mtimeNs, e.mtimeNs]);
  return encodeFrame(MessageType.Entry, encodeRecord(fields));
}

/** Decodes an ENTRY from the guest: untrusted, so its path and type are checked here, in one place. */
export function decodeEntry(payload: Buffer): EntryMeta {
  const r = new RecordReader(payload, 'ENTRY');
  const F = Field.Entry;
  const path = r.requireString(F.path);
  const problem = entryPathProblem(path);
  if (problem) throw new ProtocolError(`guest init sent the entry path ${JSON.stringify(path.slice(0, 200))}, refused: ${problem}`);
  const type = r.requireString(F.type);
  if (type !== 'file' && type !== 'dir' && type !== 'symlink') throw new ProtocolError(`ENTRY ${path}: unknown type ${JSON.stringify(type.slice(0, 40))}`);
  const entry: EntryMeta = { path, type, mode: r.requireU64(F.mode) & 0o7777, size: type === 'file' ? r.requireU64(F.size) : 0 };
  if (type === 'symlink') {
    const target = r.requireString(F.linkTarget);
    if (target === '' || target.includes('\0') || Buffer.byteLength(target) > MAX_ENTRY_PATH_BYTES) throw new ProtocolError(`ENTRY ${path}: the link target is empty, too long or contains NUL`);
    entry.linkTarget = target;
  }
  const mtime = r.bigU64(F.mtimeNs);
  if (mtime !== undefined) entry.mtimeNs = mtime;
  return entry;
}
