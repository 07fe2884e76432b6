// One run, end to end: image -> root filesystem -> VM -> guest init -> result.
// This is the only module that knows all the pieces; the CLI and the action
// call runImage() and render what it reports. Every path out of here (the
// command's exit, a timeout, a crash of the VM, a cancellation, an error in
// any step) releases what the run took: the VMM process, the listening
// socket, the writable disk copy and the scratch directory.
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { GuestError, guestSocketPath, listenForGuest, runSpecFromImage, startGuestSession, type RunSpec, type VolumeMount } from '../session/index.js';
import { checkImageReference, defaultCacheDir, resolveImage, type Image, type ImageConfig, type ProgressEvent } from '../image/index.js';
import { RootfsCache, buildVolumeDisk } from '../rootfs/index.js';
import { mountOrder } from './volumes.js';
import { initPath, kernelPath } from './assets.js';
import { ConsoleFollower } from './console.js';
import { checkCacheDir } from './cache.js';
import { checkKvm } from './kvm-check.js';
import { EXIT_TIMEOUT, VmstepError } from './errors.js';
import { createScratchDir, processStartTicks } from './leftovers.js';
import { reserveCapacity, type Reservation } from './capacity.js';
import { shellQuote } from './shell.js';
import { chooseVcpuCpus } from './bench-pinning.js';
import type { OutputFile, OutputIssue, Phase, RunEvents, RunOptions, RunResources, RunResult, VcpuPinning } from './types.js';
import { formatBytes } from './units.js';
import { launchVm as launchRealVm, probeKvm, type LaunchVm, type VmExit, type VmHandle } from './vm-port.js';

/** How long a guest that finished gets to power off by itself before its VMM is killed. */
const POWEROFF_GRACE_MS = 5000;
/** How long to wait for the VM's exit reason after the guest connection broke (it names the crash). */
const CRASH_REPORT_GRACE_MS = 1000;
/** Free space on the volume disk for what the command writes into its volumes, unless --disk says more; sparse, so unused space costs nothing. */
const VOLUME_HEADROOM_BYTES = 4 * 2 ** 30;
/** The volume disk is the VM's second virtio-blk device; the root disk is the first (/dev/vda). */
const VOLUME_DEVICE = '/dev/vdb';

export interface RunControl {
  /** Cancels the run: the VM is killed and runImage rejects with a cancellation error. */
  signal?: AbortSignal;
  /** The command's stdin when RunOptions.interactive is set (the CLI passes its own stdin). */
  stdin?: Readable;
  /**
   * Starts the VM. Tests replace it to run guest init in its Unix-socket test
   * mode on hosts whose KVM cannot boot Linux; production uses the VMM.
   */
  launchVm?: LaunchVm;
}

/** The run was cancelled (Ctrl-C, a cancelled job). */
export class RunCancelledError extends VmstepError {
  override name = 'RunCancelledError';
  constructor() {
    super('the run was cancelled', '');
  }
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
  const checkCancelled = () => {
    if (signal?.aborted) throw new RunCancelledError();
  };
  const phase = phaseTimer(events);

  const vsockUdsPath = join(scope.scratchDir, 'vsock');
  // sun_path holds 108 bytes; the guest's socket is the longest name used.
  if (Buffer.byteLength(guestSocketPath(vsockUdsPath)) > 107) {
    throw new VmstepError(`the scratch directory ${scope.scratchDir} is too deep for a Unix socket path (at most 107 bytes)`, 'set TMPDIR to a shorter directory, such as /tmp');
  }
  // Assets first: a missing kernel or guest init should not cost a download.
  const kernel = kernelPath(options.kernel, scope.cacheDir);
  const init = initPath();
  if (options.interactive && !control.stdin) throw new VmstepError('an interactive run needs a stdin stream to read', '');
  // A mistyped local image path is reported as such, even on a host that could not run it.
  checkImageReference(options.image);
  // Nor should a KVM that cannot boot Linux cost a download. (A stand-in launcher, in tests, needs none.)
  if (!control.launchVm) checkKvm(scope.cacheDir);
  checkCancelled();

  phase.start('image', options.image);
  let image: Image;
  try {
    image = await resolveImage(options.image, {
      cacheDir: scope.cacheDir,
      ...(options.credentials ? { credentials: { username: options.credentials.username, password: options.credentials.password } } : {}),
      ...(signal ? { signal } : {}),
      onProgress: downloadReporter(events),
    });
  } catch (err) {
    checkCancelled();
    throw err;
  }
  const imageMs = phase.end('image', `${image.reference} ${image.digest}`);

  const spec = buildSpec(image.config, options);
  checkCancelled();

  phase.start('rootfs', image.reference);
  const rootfsCache = new RootfsCache(scope.cacheDir);
  const prepared = await rootfsCache.prepare(image, {
    initPath: init,
    ...(options.diskBytes !== null ? { diskBytes: options.diskBytes } : {}),
    onLayer: (i, n, digest) => quietly(() => events.progress?.(`unpacking layer ${i + 1}/${n} ${digest.slice(0, 19)}`)),
    onWarning: (m) => quietly(() => events.warning?.(`${image.reference}: ${m}`)),
  });
  scope.cleanups.push(() => prepared.release());
  const rootfsMs = phase.end('rootfs', prepared.cached ? 'cached' : 'built');
  checkCancelled();

  const volumes = await copyVolumes(options, scope.scratchDir, phase, events);
  if (volumes) Object.assign(spec, { volumeDevice: VOLUME_DEVICE, volumes: volumes.mounts });
  if (options.interactive) spec.stdin = true;
  checkCancelled();

  if (options.vcpus > availableParallelism()) {
    quietly(() => events.warning?.(`${options.vcpus} vCPUs on a host with ${availableParallelism()} CPUs: vCPUs will share cores, and timings will be noisy`));
  }
  // The VM's share of the host, held until it is gone (cleanups run in
  // reverse: after the VMM stopped). Taken this late so that a download or a
  // rootfs build holds no share; the wait is not boot time.
  let reservation: Reservation;
  try {
    reservation = await reserveCapacity({
      vcpus: options.vcpus,
      memoryMiB: options.memoryMiB,
      label: options.capacityLabel ?? `vmstep run ${image.reference}`,
      wait: options.capacityWaitMs ?? 0,
      ...(signal ? { signal } : {}),
      onWait: (m) => quietly(() => events.waiting?.(m)),
      onWarning: (m) => quietly(() => events.warning?.(m)),
    });
  } catch (err) {
    checkCancelled();
    throw err;
  }
  scope.cleanups.push(() => reservation.release());
  phase.start('boot', `${options.vcpus} vCPU${options.vcpus === 1 ? '' : 's'}, ${formatBytes(options.memoryMiB * 2 ** 20)}`);
  const listener = await listenForGuest(vsockUdsPath);
  scope.cleanups.push(() => listener.close());
  const consoleLogPath = join(scope.scratchDir, 'console.log');
  let follower: ConsoleFollower | null = null;
  if (options.debug && events.console) {
    follower = new ConsoleFollower(consoleLogPath, (chunk) => quietly(() => events.console?.(chunk)));
    scope.cleanups.push(() => follower?.stop());
  }
  const launch = control.launchVm ?? launchRealVm;
  const pinChoice = options.pinVcpus ? chooseVcpuCpus(options.vcpus) : null;
  const bootStarted = performance.now();
  let vm: VmHandle;
  try {
    vm = await launch({
      kernelPath: kernel,
      disks: [{ path: prepared.basePath, readOnly: false, overlayPath: prepared.overlayPath }, ...(volumes ? [{ path: volumes.diskPath, readOnly: false }] : [])],
      vcpus: options.vcpus,
      memoryMiB: options.memoryMiB,
      cmdline: options.kernelArgs.join(' '),
      vsockUdsPath,
      consoleLogPath,
      debug: options.debug,
      // The engine keeps the clock itself (it must also tell the guest's
      // command apart from its boot); the VMM's own limit is a backstop.
      timeoutMs: options.timeoutMs > 0 ? options.timeoutMs + 30_000 : 0,
      ...(pinChoice?.cpus ? { pinCpus: pinChoice.cpus } : {}),
    });
  } catch (err) {
    throw new VmstepError(`${(err as Error).message}${kvmExplanation()}`, 'run `vmstep doctor` to check this host', { cause: err });
  }
  const vcpuPinning = pinChoice ? pinningReport(pinChoice, vm) : undefined;
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

/**
 * Writes the volumes onto a disk of their own in the scratch directory (the
 * VM's second disk); null without volumes. Entries that cannot be copied
 * (sockets, devices, fifos) are named in one warning.
 */
async function copyVolumes(options: RunOptions, scratchDir: string, phase: ReturnType<typeof phaseTimer>, events: RunEvents): Promise<{ diskPath: string; mounts: VolumeMount[]; ms: number } | null> {
  if (options.volumes.length === 0) return null;
  const ordered = mountOrder(options.volumes);
  phase.start('volumes', ordered.map((v) => `${v.hostPath}:${v.guestPath}`).join(' '));
  const diskPath = join(scratchDir, 'volumes.ext4');
  const built = await buildVolumeDisk(
    ordered.map((v, i) => ({ name: String(i), hostPath: v.hostPath })),
    diskPath,
    { headroomBytes: Math.max(options.diskBytes ?? 0, VOLUME_HEADROOM_BYTES) },
  );
  if (built.skipped.length > 0) {
    const n = built.skipped.length;
    quietly(() => events.warning?.(`volumes: skipped ${n} ${n === 1 ? 'entry' : 'entries'} that cannot be copied (sockets, devices, fifos): ${built.skipped.join(', ')}`));
  }
  const ms = phase.end('volumes', `${built.entries} entries, ${formatBytes(built.contentBytes)}`);
  return { diskPath, mounts: ordered.map((v, i) => ({ name: String(i), guestPath: v.guestPath })), ms };
}

/** What became of the pinning asked for: the VMM says what it did; a launcher that says nothing pinned nothing. */
function pinningReport(choice: ReturnType<typeof chooseVcpuCpus>, vm: VmHandle): VcpuPinning {
  if (choice.cpus === null) return { pinned: false, cpus: [], reason: choice.reason };
  if (vm.pinning && 'cpus' in vm.pinning) return { pinned: true, cpus: vm.pinning.cpus, reason: '' };
  if (vm.pinning) return { pinned: false, cpus: [], reason: `the VMM could not pin its vCPU threads: ${vm.pinning.error}` };
  return { pinned: false, cpus: [], reason: 'the VM launcher does not pin vCPU threads' };
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

/**
 * Why this host's KVM may be the cause, asked only after a VM failed (the
 * probe boots a tiny guest: free of cost on the normal path). Empty when the
 * probe finds nothing wrong or cannot run.
 */
function kvmExplanation(): string {
  try {
    const p = probeKvm();
    return p.available && p.canRunLinux ? '' : ` (this host's KVM: ${p.reason})`;
  } catch {
    return '';
  }
}

function vmStoppedError(exit: VmExit, when: string): VmstepError {
  const last = exit.consoleTail
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-1)[0];
  const kvm = exit.reason === 'error' || exit.reason === 'triple-fault' ? kvmExplanation() : '';
  const detail = `${exit.reason}${exit.detail ? `: ${exit.detail}` : ''}${last ? `; console: ${last}` : ''}${kvm}`;
  const fix =
    exit.reason === 'panic'
      ? 'the guest kernel panicked: run again with --debug to see its console; give it more --memory if it ran out'
      : exit.reason === 'error'
        ? 'run `vmstep doctor` to check this host, and again with --debug to see the guest console'
        : 'run again with --debug to see the guest console';
  return new VmstepError(`the VM stopped ${when} (${detail})`, fix);
}

function sessionError(err: unknown): VmstepError {
  if (err instanceof VmstepError) return err;
  if (err instanceof GuestError) {
    const fixes: Record<string, string> = {
      user: 'check --user / the user input against the image (its /etc/passwd and /etc/group)',
      workdir: 'check --workdir / the workdir input',
      volume: 'check the guest paths of --volume / the volumes input against the image',
      spec: 'this vmstep and its guest init disagree: reinstall vmstep',
      hello: 'this vmstep and its guest init disagree: reinstall vmstep',
    };
    return new VmstepError(err.message, fixes[err.stage] ?? 'run again with --debug to see the guest console', { cause: err });
  }
  return new VmstepError((err as Error)?.message ?? String(err), 'run again with --debug to see the guest console', { cause: err });
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

function phaseTimer(events: RunEvents) {
  const starts = new Map<Phase, number>();
  return {
    start(p: Phase, detail: string) {
      starts.set(p, performance.now());
      quietly(() => events.phaseStart?.(p, detail));
    },
    end(p: Phase, detail: string): number {
      const ms = performance.now() - (starts.get(p) ?? performance.now());
      quietly(() => events.phaseEnd?.(p, ms, detail));
      return ms;
    },
  };
}

/** One progress line per finished layer download (registries), not one per chunk. */
function downloadReporter(events: RunEvents): (e: ProgressEvent) => void {
  return (e) => {
    if (e.done) quietly(() => events.progress?.(`downloaded ${e.digest.slice(0, 19)} (${formatBytes(e.total)})`));
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Callbacks belong to the faces; one that throws must not break the run. */
function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // ignored on purpose: see above
  }
}
