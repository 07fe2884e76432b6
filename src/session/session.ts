// The host side of one run (docs/protocol.md, "The conversation"): checks the
// guest's hello, sends the run spec, and turns the guest's messages into an
// async, streaming API: stdout and stderr as Readable streams, output files
// written to disk as they arrive, and promises for the start, the exit and
// the whole result.
//
// Backpressure: the socket is read only while the consumers keep up. After
// each chunk the socket is paused until every frame in it has been handled;
// a stdout/stderr frame is handled once its stream is below its high-water
// mark (or destroyed), a file frame once it is on disk. So host memory stays
// bounded however fast the guest writes, and guest init's blocking writes
// stall it (and the workload) instead.
import { constants as osConstants } from 'node:os';
import { Readable, type Duplex } from 'node:stream';
import {
  decodeError,
  decodeExit,
  decodeFile,
  decodeFileEnd,
  decodeOutputIssue,
  decodeStarted,
  decodeStdinAck,
  decodeTimings,
  encodeError,
  encodeRun,
  encodeSignal,
  validateRunSpec,
  type ExitMessage,
  type GuestTimings,
  type OutputIssue,
  type RunSpec,
  type StartedMessage,
} from './messages.js';
import { OutputDirectory, type OpenOutputFile } from './outputs.js';
import { StdinPump } from './stdin.js';
import {
  DEFAULT_MAX_FILES,
  DEFAULT_MAX_FILE_BYTES,
  FrameDecoder,
  MessageType,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeHello,
  describeType,
  encodeHello,
  type Frame,
} from './protocol.js';

/** Guest init reported a failure of its own (bad spec, unknown user, mounts, version). */
export class GuestError extends Error {
  override name = 'GuestError';
  constructor(
    readonly stage: string,
    readonly guestMessage: string,
  ) {
    super(`guest init failed (${stage}): ${guestMessage}`);
  }
}

/** The guest speaks another protocol version than this host. */
export class ProtocolVersionError extends ProtocolError {
  override name = 'ProtocolVersionError';
  constructor(
    readonly guestVersion: number,
    readonly hostVersion: number,
  ) {
    super(
      `protocol version mismatch: guest init speaks version ${guestVersion}, this vmstep speaks version ${hostVersion}; ` +
        'the VM runs a vmstep-init from another vmstep release: rebuild the root filesystem with this release (its cache key includes the init binary) or point VMSTEP_INIT at the matching dist/vmstep-init',
    );
  }
}

export interface ReturnedFile {
  /** Absolute path in the guest. */
  guestPath: string;
  /** Where it was written: under the output directory, at the guest path. */
  hostPath: string;
  /** Permission bits as in the guest (the host copy gets `mode & 0o777`). */
  mode: number;
  size: number;
}

export interface SessionResult {
  /** The guest's agent string from its hello. */
  guestAgent: string;
  /** The command's pid in the guest; null when it could not start. */
  pid: number | null;
  exit: ExitMessage;
  files: ReturnedFile[];
  issues: OutputIssue[];
  timings: GuestTimings;
}

export interface GuestSessionOptions {
  /** Where returned files are written; required when the spec asks for outputs. */
  outputDir?: string;
  /** Called as each output file is complete on disk. */
  onFile?: (file: ReturnedFile) => void;
  /** Called for each output the guest could not return (missing, too large, over the limit). */
  onOutputIssue?: (issue: OutputIssue) => void;
  /** High-water mark of the stdout and stderr streams, in bytes. Default 1 MiB. */
  streamHighWaterMark?: number;
  /** Streamed to the command's stdin (its end is the command's EOF); requires spec.stdin. Without it the command reads /dev/null. */
  stdin?: Readable;
}

/** A Readable fed by the session, which waits for the consumer when it is full. */
class GuestOutputStream extends Readable {
  private wake: (() => void) | undefined;
  private ended = false;

  override _read(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Pushes a chunk; resolves when the stream can take more (or nobody will read it). */
  async feed(chunk: Buffer): Promise<void> {
    if (this.destroyed || this.ended) return;
    if (this.push(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.wake = undefined;
        this.off('close', done);
        resolve();
      };
      this.wake = done;
      this.once('close', done);
    });
  }

  /** Ends the stream (once). */
  finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.push(null);
  }
}

type State = 'hello' | 'running' | 'outputs' | 'done';

function settle<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void, reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A caller may await only `result`; the other promises must not count as unhandled.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class GuestSession {
  /** The command's stdout, as the guest sends it; ends at the command's exit. */
  readonly stdout: Readable;
  /** The command's stderr; ends at the command's exit. */
  readonly stderr: Readable;
  /** Resolves when the command has started (null when it could not start), rejects when the session fails first. */
  readonly started: Promise<StartedMessage | null>;
  /** Resolves with the command's exit; rejects when the session fails before it. */
  readonly exit: Promise<ExitMessage>;
  /** Resolves once everything has arrived (exit, files, timings); rejects on any failure. */
  readonly result: Promise<SessionResult>;

  private readonly out: GuestOutputStream;
  private readonly err: GuestOutputStream;
  private readonly startedP = settle<StartedMessage | null>();
  private readonly exitP = settle<ExitMessage>();
  private readonly resultP = settle<SessionResult>();
  private readonly decoder = new FrameDecoder();
  private readonly outputDir: OutputDirectory | null;
  private readonly maxFiles: number;
  private readonly maxFileBytes: number;
  private state: State = 'hello';
  private settled = false;
  private guestAgent = '';
  private pid: number | null = null;
  private exitMessage: ExitMessage | null = null;
  private readonly files: ReturnedFile[] = [];
  private readonly issues: OutputIssue[] = [];
  private fileCount = 0;
  private current: { guestPath: string; mode: number; size: number; written: number; file: OpenOutputFile } | null = null;
  /** The handling of every chunk received so far, in order (onData never rejects). */
  private handling: Promise<void> = Promise.resolve();
  private stdinPump: StdinPump | null = null;

  constructor(
    private readonly socket: Duplex,
    private readonly spec: RunSpec,
    private readonly options: GuestSessionOptions = {},
  ) {
    validateRunSpec(spec);
    if (Boolean(spec.stdin) !== Boolean(options.stdin)) throw new Error('spec.stdin and the stdin option go together: give both or neither');
    if ((spec.outputs?.length ?? 0) > 0 && !options.outputDir) {
      throw new Error('the run spec asks for output files but no outputDir was given to write them to');
    }
    const highWaterMark = options.streamHighWaterMark ?? 1 << 20;
    this.out = new GuestOutputStream({ highWaterMark });
    this.err = new GuestOutputStream({ highWaterMark });
    this.stdout = this.out;
    this.stderr = this.err;
    this.started = this.startedP.promise;
    this.exit = this.exitP.promise;
    this.result = this.resultP.promise;
    this.outputDir = options.outputDir ? new OutputDirectory(options.outputDir) : null;
    this.maxFiles = spec.maxFiles ?? DEFAULT_MAX_FILES;
    this.maxFileBytes = spec.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;

    socket.on('data', (chunk: Buffer) => {
      this.handling = this.handling.then(() => this.onData(chunk));
    });
    // Guest init half-closes right after its last message. Node may report
    // that end while the last chunk is still being handled (the socket is
    // paused, but its buffer is empty), so the end and close are judged only
    // once every chunk before them has been handled.
    socket.on('end', () =>
      this.afterHandling(
        () =>
          new ProtocolError(
            `guest init closed the connection before the run finished (${this.progress()}); the VM may have crashed, run out of memory or been killed: see its console log`,
          ),
      ),
    );
    socket.on('error', (e: Error) => this.fail(new ProtocolError(`the connection to guest init failed (${this.progress()}): ${e.message}`)));
    socket.on('close', () => this.afterHandling(() => new ProtocolError(`the connection to guest init closed (${this.progress()})`)));
  }

  /** Fails the session with why() unless the chunks already received complete it. */
  private afterHandling(why: () => Error): void {
    void this.handling.then(() => this.fail(why()));
  }

  /** Delivers a signal to the command's process group in the guest (ignored unless it is running). */
  signal(sig: NodeJS.Signals | number): void {
    const n = typeof sig === 'number' ? sig : osConstants.signals[sig];
    if (!Number.isInteger(n) || n <= 0 || n >= 65) throw new RangeError(`unknown signal ${String(sig)}`);
    if (this.state === 'running' && !this.settled) this.socket.write(encodeSignal(n));
  }

  /** Ends the session now; guest init sees the connection drop, kills the command and powers off. */
  abort(reason: Error = new Error('the run was aborted')): void {
    this.fail(reason);
  }

  private progress(): string {
    switch (this.state) {
      case 'hello':
        return 'no hello from guest init yet';
      case 'running':
        return this.pid === null ? 'the command had not started' : 'the command was running';
      case 'outputs':
        return `the command had exited with ${this.exitMessage?.code}; ${this.fileCount} output files received`;
      default:
        return 'after the end';
    }
  }

  private async onData(chunk: Buffer): Promise<void> {
    if (this.settled) return;
    this.socket.pause();
    try {
      for (const frame of this.decoder.push(chunk)) {
        await this.handle(frame);
        if (this.settled) return;
      }
    } catch (e) {
      this.fail(e);
      return;
    }
    this.socket.resume();
  }

  private async handle(frame: Frame): Promise<void> {
    const { type, payload } = frame;
    if (type === MessageType.Error) {
      const e = decodeError(payload);
      throw new GuestError(e.stage, e.message);
    }
    switch (this.state) {
      case 'hello':
        return this.onHello(frame);
      case 'running':
        if (type === MessageType.Stdout) return this.out.feed(payload);
        if (type === MessageType.Stderr) return this.err.feed(payload);
        if (type === MessageType.StdinAck && this.stdinPump) return this.stdinPump.ack(decodeStdinAck(payload));
        if (type === MessageType.Started && this.pid === null) {
          const started = decodeStarted(payload);
          this.pid = started.pid;
          this.startedP.resolve(started);
          return;
        }
        if (type === MessageType.Exit) {
          this.exitMessage = decodeExit(payload);
          this.state = 'outputs';
          this.stdinPump?.stop();
          if (this.pid === null) this.startedP.resolve(null);
          this.out.finish();
          this.err.finish();
          this.exitP.resolve(this.exitMessage);
          return;
        }
        break;
      case 'outputs':
        return this.onOutput(frame);
      default:
        break;
    }
    throw new ProtocolError(`guest init sent ${describeType(type)} out of order (${this.progress()})`);
  }

  private onHello({ type, payload }: Frame): void {
    const hello = type === MessageType.Hello ? decodeHello(payload) : null;
    if (!hello) {
      throw new ProtocolError(
        `the guest's first message is ${describeType(type)}, not a vmstep hello: the program on the other end of the guest socket does not speak the vmstep protocol`,
      );
    }
    if (hello.version !== PROTOCOL_VERSION) {
      const err = new ProtocolVersionError(hello.version, PROTOCOL_VERSION);
      this.refuse('hello', `protocol version mismatch: the host speaks version ${PROTOCOL_VERSION}, guest init speaks version ${hello.version}`);
      throw err;
    }
    this.guestAgent = hello.agent;
    this.state = 'running';
    this.socket.write(encodeHello());
    this.socket.write(encodeRun(this.spec));
    if (this.options.stdin) {
      this.stdinPump = new StdinPump(this.options.stdin, (frame) => {
        if (!this.settled && this.socket.writable) this.socket.write(frame);
      });
      this.stdinPump.start();
    }
  }

  private async onOutput({ type, payload }: Frame): Promise<void> {
    // Acknowledgements already on their way when the command exited mean nothing now.
    if (type === MessageType.StdinAck && this.stdinPump) return;
    const cur = this.current;
    if (type === MessageType.FileData && cur) {
      if (cur.written + payload.length > cur.size) {
        throw new ProtocolError(`guest init sent more than the ${cur.size} bytes it announced for ${cur.guestPath}`);
      }
      await cur.file.handle.write(payload);
      cur.written += payload.length;
      return;
    }
    if (type === MessageType.FileEnd && cur) {
      this.current = null;
      const { error } = decodeFileEnd(payload);
      if (error !== null) {
        await this.outputDir!.discard(cur.file);
        this.addIssue({ request: '', path: cur.guestPath, reason: 'unreadable', message: `${cur.guestPath}: ${error}` });
        return;
      }
      if (cur.written !== cur.size) {
        await this.outputDir!.discard(cur.file);
        throw new ProtocolError(`guest init ended ${cur.guestPath} after ${cur.written} of the ${cur.size} bytes it announced`);
      }
      await this.outputDir!.finish(cur.file, cur.mode);
      const done: ReturnedFile = { guestPath: cur.guestPath, hostPath: cur.file.hostPath, mode: cur.mode, size: cur.size };
      this.files.push(done);
      this.options.onFile?.(done);
      return;
    }
    if (cur) throw new ProtocolError(`guest init sent ${describeType(type)} in the middle of the file ${cur.guestPath}`);
    if (type === MessageType.File) {
      const f = decodeFile(payload);
      if (!this.outputDir) throw new ProtocolError(`guest init returned the file ${f.path} although the run spec asked for no outputs`);
      if (this.fileCount >= this.maxFiles) throw new ProtocolError(`guest init returned more than the ${this.maxFiles} output files the run allows`);
      if (f.size > this.maxFileBytes) {
        throw new ProtocolError(`guest init returned ${f.path} with ${f.size} bytes, over the limit of ${this.maxFileBytes} bytes per file`);
      }
      this.fileCount++;
      const file = await this.outputDir.create(f.path);
      this.current = { guestPath: f.path, mode: f.mode, size: f.size, written: 0, file };
      return;
    }
    if (type === MessageType.OutputIssue) return this.addIssue(decodeOutputIssue(payload));
    if (type === MessageType.Timings) {
      const timings = decodeTimings(payload);
      this.state = 'done';
      this.settled = true;
      // Closing our side tells guest init that everything arrived: it powers off.
      this.socket.end();
      this.resultP.resolve({ guestAgent: this.guestAgent, pid: this.pid, exit: this.exitMessage!, files: this.files, issues: this.issues, timings });
      return;
    }
    throw new ProtocolError(`guest init sent ${describeType(type)} out of order (${this.progress()})`);
  }

  private addIssue(issue: OutputIssue): void {
    this.issues.push(issue);
    this.options.onOutputIssue?.(issue);
  }

  /** Tells guest init why we stop, then closes. */
  private refuse(stage: string, message: string): void {
    if (this.socket.writable) this.socket.end(encodeError(stage, message));
  }

  private fail(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.stdinPump?.stop();
    const err = reason instanceof Error ? reason : new Error(String(reason));
    if (err instanceof ProtocolError && !(err instanceof ProtocolVersionError)) this.refuse('protocol', err.message);
    // Let the error frame go out, then drop the connection so a guest blocked
    // in a write sees it fail instead of waiting for us to read.
    if (this.socket.writableEnded && !this.socket.writableFinished) this.socket.once('finish', () => this.socket.destroy());
    else this.socket.destroy();
    const cur = this.current;
    this.current = null;
    if (cur) void this.outputDir?.discard(cur.file);
    this.startedP.reject(err);
    this.exitP.reject(err);
    this.resultP.reject(err);
    this.out.finish();
    this.err.finish();
  }
}

/** Starts the host side of a run on a connection accepted from guest init. */
export function startGuestSession(socket: Duplex, spec: RunSpec, options: GuestSessionOptions = {}): GuestSession {
  return new GuestSession(socket, spec, options);
}
