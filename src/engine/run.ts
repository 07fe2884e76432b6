// One run, end to end: image -> root filesystem -> VM -> guest init -> result.
// This is the only module that knows all the pieces; the CLI and the action
// call runImage() and render what it reports. Every path out of here (the
// command's exit, a timeout, a crash of the VM, a cancellation, an error in
// any step) releases what the run took: the VMM process, the listening
// socket, the writable disk copy and the scratch directory.
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { runSpecFromImage, startGuestSession, type RunSpec } from '../session/index.js';
import { defaultCacheDir, type Image, type ImageConfig } from '../image/index.js';
import { checkCacheDir } from './cache.js';
import { EXIT_TIMEOUT, VmstepError } from './errors.js';
import { createScratchDir, processStartTicks } from './leftovers.js';
import { reserveCapacity, type Reservation } from './capacity.js';
import { shellQuote } from './shell.js';
import type { OutputFile, OutputIssue, RunEvents, RunOptions, RunResources, RunResult } from './types.js';
import type { VmExit, VmHandle } from './vm-port.js';
import { RunCancelledError, delay, prepareVm, quietly, sessionError, vmStoppedError, type PrepareControl } from './prepare.js';

export { RunCancelledError } from './prepare.js';

/** How long a guest that finished gets to power off by itself before its VMM is killed. */
const POWEROFF_GRACE_MS = 5000;
/** How long to wait for the VM's exit reason after the guest connection broke (it names the crash). */
const CRASH_REPORT_GRACE_MS = 1000;

export interface RunControl extends PrepareControl {
  /** Cancels the run: the VM is killed and runImage rejects with a cancellation error. */
  signal?: AbortSignal;
  /** The command's stdin when RunOptions.interactive is set (the CLI passes its own stdin). */
  stdin?: Readable;
}

export async function runImage(options: RunOptions, events: RunEvents = {}, control: RunControl = {}): Promise<RunResult> {
  const started = performance.now();
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  checkCacheDir(cacheDir);
  const scratchDir = createScratchDir(options.scratchRoot);
  const resources: RunResources = { scratchDir, cacheDir };
  const report = (r: RunResources | null) => quietly(() => events.resources?.(r && { ...r }));
  const cleanups: (() => Promise<unknown> | unknown)[] = [() => rmSync(scratchDir, { recursive: true, force: true })];
  report(resources);
  let result: RunResult;
  try {
    result = await runSteps(options, events, control, { scratchDir, cacheDir, resources, report, cleanups });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        quietly(() => events.warning?.(`cleaning up after the run: ${(err as Error).message}`));
      }
    }
    report(null);
  }
  result.timings.totalMs = performance.now() - started;
  return result;
}

interface RunScope {
  scratchDir: string;
  cacheDir: string;
  resources: RunResources;
  report(r: RunResources | null): void;
  cleanups: (() => Promise<unknown> | unknown)[];
}

async function runSteps(options: RunOptions, events: RunEvents, control: RunControl, scope: RunScope): Promise<RunResult> {
  const signal = control.signal;
  if (options.interactive && !control.stdin) throw new VmstepError('an interactive run needs a stdin stream to read', '');
  const prepared = await prepareVm(
    options,
    events,
    control,
    {
      cacheDir: scope.cacheDir,
      cleanups: scope.cleanups,
      socketDir: { what: 'scratch directory', variable: 'TMPDIR' },
      vsockUdsPath: join(scope.scratchDir, 'vsock'),
      consoleLogPath: join(scope.scratchDir, 'console.log'),
      volumeDiskPath: join(scope.scratchDir, 'volumes.ext4'),
      // The engine keeps the clock itself (it must also tell the guest's
      // command apart from its boot); the VMM's own limit is a backstop.
      vmmTimeoutMs: options.timeoutMs > 0 ? options.timeoutMs + 30_000 : 0,
      followConsole: options.debug,
    },
    (config) => buildSpec(config, options),
  );
  const { image, spec, volumes, listener, vm, vcpuPinning, phase } = prepared;
  const { imageMs, rootfsMs, bootStarted } = prepared.timings;
  if (volumes) Object.assign(spec, { volumeDevice: volumes.device, volumes: volumes.mounts });
  if (options.interactive) spec.stdin = true;
  scope.resources.vmmPid = vm.pid;
  const ticks = processStartTicks(vm.pid);
  if (ticks !== null) scope.resources.vmmStartTicks = ticks;
  scope.report(scope.resources);
  scope.cleanups.push(() => stopVm(vm));

  // From here the time limit runs: it covers boot, command and outputs.
  const stop = stopConditions(vm, options.timeoutMs, signal);
  scope.cleanups.push(() => stop.dispose());

  const connected = await Promise.race([listener.accept().then((socket) => ({ kind: 'connected' as const, socket })), stop.promise]);
  if (connected.kind !== 'connected') {
    if (connected.kind !== 'vm-exit') vm.kill();
    if (connected.kind === 'timeout') return timedOutResult(image, spec, options, { imageMs, rootfsMs, bootMs: performance.now() - bootStarted });
    if (connected.kind === 'cancelled') throw new RunCancelledError();
    throw vmStoppedError(connected.exit, 'before guest init connected');
  }
  const bootMs = phase.end('boot', `VMM pid ${vm.pid}`);

  phase.start('command', shellQuote(spec.argv));
  const files: OutputFile[] = [];
  const issues: OutputIssue[] = [];
  const session = startGuestSession(connected.socket, spec, {
    ...(options.outputs.length > 0 ? { outputDir: options.outputDir } : {}),
    ...(options.interactive && control.stdin ? { stdin: control.stdin } : {}),
    onFile: (f) => files.push({ guestPath: f.guestPath, hostPath: f.hostPath, bytes: f.size }),
    onOutputIssue: (i) => {
      issues.push({ request: i.request, path: i.path, reason: i.reason, message: i.message });
      quietly(() => events.warning?.(`output ${i.request || i.path}: ${i.message}`));
    },
  });
  if (options.outputs.length > 0) mkdirSync(options.outputDir, { recursive: true });
  const stdoutSink = sink(session.stdout, options.logDir && join(options.logDir, 'stdout.txt'), (c) => events.stdout?.(c));
  const stderrSink = sink(session.stderr, options.logDir && join(options.logDir, 'stderr.txt'), (c) => events.stderr?.(c));
  const commandStarted = performance.now();

  const settled = session.result.then(
    (r) => ({ kind: 'done' as const, r }),
    (err: unknown) => ({ kind: 'failed' as const, err }),
  );
  let outcome = await Promise.race([settled, stop.promise]);
  // Guest init powers off right after its last message: the VMM's exit can
  // overtake the end of the result still in the socket. Let it arrive.
  if (outcome.kind === 'vm-exit' && outcome.exit.reason === 'poweroff') {
    outcome = (await Promise.race([settled, delay(CRASH_REPORT_GRACE_MS).then(() => null)])) ?? outcome;
  }
  if (outcome.kind !== 'done') session.abort(new Error('the run was stopped'));
  // A time limit or a cancellation ends the VM at once: the command gets no say.
  if (outcome.kind === 'timeout' || outcome.kind === 'cancelled') vm.kill();
  // A run that did not finish has nothing more to deliver; a consumer that
  // stopped reading (a closed pipe) must not keep us waiting for the streams.
  if (outcome.kind !== 'done') {
    session.stdout.destroy();
    session.stderr.destroy();
  }
  // The streams end with the session either way; wait until every byte reached the consumer and the files.
  const [stdoutBytes, stderrBytes] = await Promise.all([stdoutSink.done, stderrSink.done]);

  if (outcome.kind === 'timeout') {
    const r = timedOutResult(image, spec, options, { imageMs, rootfsMs, bootMs });
    r.timings.commandMs = performance.now() - commandStarted;
    Object.assign(r, { stdoutBytes, stderrBytes, outputs: files, outputIssues: issues, stdoutFile: stdoutSink.path, stderrFile: stderrSink.path });
    phase.end('command', 'timed out');
    return r;
  }
  if (outcome.kind === 'cancelled') throw new RunCancelledError();
  if (outcome.kind === 'vm-exit') throw vmStoppedError(outcome.exit, 'while the command ran');
  if (outcome.kind === 'failed') {
    // A broken connection usually means the VM died: its exit names the cause better than the socket.
    const exit = await Promise.race([vm.exited, delay(CRASH_REPORT_GRACE_MS).then(() => null)]);
    if (exit && exit.reason !== 'poweroff') throw vmStoppedError(exit, 'while the command ran');
    throw sessionError(outcome.err);
  }

  const r = outcome.r;
  const guestCommandNs = r.timings.commandEndNs > r.timings.commandStartNs && r.timings.commandStartNs > 0 ? r.timings.commandEndNs - r.timings.commandStartNs : null;
  const commandMs = guestCommandNs !== null ? guestCommandNs / 1e6 : performance.now() - commandStarted;
  phase.end('command', `exit ${r.exit.code}`);
  if (r.exit.error) quietly(() => events.warning?.(r.exit.error!));

  return {
    exitCode: r.exit.code,
    signal: r.exit.signalName,
    timedOut: false,
    image: { reference: image.reference, digest: image.digest },
    command: spec.argv,
    outputs: files,
    outputIssues: issues,
    timings: { imageMs, rootfsMs, ...(volumes ? { volumesMs: volumes.ms } : {}), bootMs, commandMs, totalMs: 0 },
    stdoutFile: stdoutSink.path,
    stderrFile: stderrSink.path,
    stdoutBytes,
    stderrBytes,
    outputDir: options.outputDir,
    ...(vcpuPinning ? { vcpuPinning } : {}),
  };
}

/** The run spec from the image's config and the user's overrides (docker run semantics, src/session/command.ts). */
function buildSpec(config: ImageConfig, options: RunOptions): RunSpec {
  try {
    return runSpecFromImage(
      { Entrypoint: config.entrypoint, Cmd: config.cmd, Env: config.env, WorkingDir: config.workingDir, User: config.user },
      {
        ...(options.entrypoint !== null ? { entrypoint: options.entrypoint } : {}),
        cmd: options.command,
        env: options.env,
        ...(options.workdir !== null ? { workdir: options.workdir } : {}),
        ...(options.user !== null ? { user: options.user } : {}),
        outputs: options.outputs,
        privileged: options.privileged,
      },
    );
  } catch (err) {
    const message = (err as Error).message;
    // The guest module's words already say what is wrong; add where a command goes, unless they say it.
    const fix = /no command/.test(message) && !/give a command/.test(message) ? 'give a COMMAND after the image (the `run` or `args` input in the action)' : '';
    throw new VmstepError(message, fix, { cause: err });
  }
}

function timedOutResult(image: Image, spec: RunSpec, options: RunOptions, t: { imageMs: number; rootfsMs: number; bootMs: number }): RunResult {
  return {
    exitCode: EXIT_TIMEOUT,
    signal: null,
    timedOut: true,
    image: { reference: image.reference, digest: image.digest },
    command: spec.argv,
    outputs: [],
    outputIssues: [],
    timings: { ...t, commandMs: 0, totalMs: 0 },
    stdoutFile: null,
    stderrFile: null,
    stdoutBytes: 0,
    stderrBytes: 0,
    outputDir: options.outputDir,
  };
}

type StopReason = { kind: 'timeout' } | { kind: 'cancelled' } | { kind: 'vm-exit'; exit: VmExit };

/** Resolves with the first of: the time limit, a cancellation, the VM's exit. */
function stopConditions(vm: VmHandle, timeoutMs: number, signal?: AbortSignal) {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<StopReason>((resolve) => {
    if (timeoutMs > 0) timer = setTimeout(() => resolve({ kind: 'timeout' }), timeoutMs);
    if (signal) {
      onAbort = () => resolve({ kind: 'cancelled' });
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    vm.exited.then(
      (exit) => resolve({ kind: 'vm-exit', exit }),
      (err: unknown) => resolve({ kind: 'vm-exit', exit: { reason: 'error', detail: (err as Error).message, consoleTail: '' } }),
    );
  });
  return {
    promise,
    dispose() {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** Waits for a clean power-off, then makes sure the VMM is gone. */
async function stopVm(vm: VmHandle): Promise<void> {
  const exited = await Promise.race([vm.exited.then(() => true, () => true), delay(POWEROFF_GRACE_MS).then(() => false)]);
  if (!exited) {
    vm.kill();
    await Promise.race([vm.exited.catch(() => {}), delay(POWEROFF_GRACE_MS)]);
  }
}

/** Reads a guest stream to its end, into the live callback and (optionally) a file; resolves with the byte count. */
function sink(stream: Readable, path: string | null | undefined | '', live: (chunk: Buffer) => unknown) {
  let bytes = 0;
  let file: WriteStream | null = null;
  if (path) {
    mkdirSync(join(path, '..'), { recursive: true });
    file = createWriteStream(path);
  }
  // A slow consumer or disk holds the guest (the session stops reading the
  // socket while the stream is paused), never host memory.
  let holds = 0;
  const hold = () => {
    if (holds++ === 0) stream.pause();
  };
  const release = () => {
    if (--holds === 0) stream.resume();
  };
  stream.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    let pending: unknown;
    try {
      pending = live(chunk);
    } catch {
      pending = undefined;
    }
    if (pending instanceof Promise) {
      hold();
      pending.catch(() => {}).finally(release);
    }
    if (file && !file.write(chunk)) {
      hold();
      file.once('drain', release);
    }
  });
  const done = (async () => {
    await finished(stream).catch(() => {});
    if (file) {
      file.end();
      await finished(file);
    }
    return bytes;
  })();
  return { path: path || null, done };
}

