// The steps every VM goes through before its guest init connects, shared by
// a one-shot run (run.ts) and a long-lived VM's keeper (src/vms/keeper.ts):
// checks that cost nothing first, then the image, the root filesystem (a
// copy-on-write overlay over the cached base, held until released), the
// volume disk, the listening socket for guest init, and the VMM. Everything
// taken is handed to scope.cleanups, so the caller releases it on every path.
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { GuestError, guestSocketPath, listenForGuest, type GuestListener, type VolumeMount } from '../session/index.js';
import { checkImageReference, resolveImage, type Image, type ImageConfig, type ProgressEvent } from '../image/index.js';
import { RootfsCache, buildVolumeDisk } from '../rootfs/index.js';
import { mountOrder } from './volumes.js';
import { initPath, kernelPath } from './assets.js';
import { ConsoleFollower } from './console.js';
import { checkKvm } from './kvm-check.js';
import { VmstepError } from './errors.js';
import { chooseVcpuCpus } from './bench-pinning.js';
import { reserveCapacity, type Reservation } from './capacity.js';
import type { Phase, RunEvents, RunOptions, VcpuPinning } from './types.js';
import { formatBytes } from './units.js';
import { launchVm as launchRealVm, probeKvm, type LaunchVm, type VmExit, type VmHandle } from './vm-port.js';

/** Free space on the volume disk for what the command writes into its volumes, unless --disk says more; sparse, so unused space costs nothing. */
const VOLUME_HEADROOM_BYTES = 4 * 2 ** 30;
/** The volume disk is the VM's second virtio-blk device; the root disk is the first (/dev/vda). */
export const VOLUME_DEVICE = '/dev/vdb';

/** The run was cancelled (Ctrl-C, a cancelled job). */
export class RunCancelledError extends VmstepError {
  override name = 'RunCancelledError';
  constructor() {
    super('the run was cancelled', '');
  }
}

export interface PrepareControl {
  signal?: AbortSignal;
  /**
   * Starts the VM. Tests replace it to run guest init in its Unix-socket test
   * mode on hosts whose KVM cannot boot Linux; production uses the VMM.
   */
  launchVm?: LaunchVm;
}

/** Where the VM's files go and how the VMM is told to run. */
export interface PrepareScope {
  cacheDir: string;
  cleanups: (() => Promise<unknown> | unknown)[];
  /** What holds the sockets, and the variable that moves it, for the error when its path is too long. */
  socketDir: { what: string; variable: string };
  /** The VMM's Unix socket; guest init's boot connection arrives on `<path>_1024`. */
  vsockUdsPath: string;
  consoleLogPath: string;
  /** Where the volume disk is written, when there are volumes. */
  volumeDiskPath: string;
  /** The VMM's own wall-clock limit (0: none). */
  vmmTimeoutMs: number;
  /** Follow the console live into events.console (with --debug). */
  followConsole: boolean;
}

export interface PreparedVm<Spec> {
  image: Image;
  spec: Spec;
  volumes: { mounts: VolumeMount[]; device: string; ms: number } | null;
  listener: GuestListener;
  vm: VmHandle;
  vcpuPinning?: VcpuPinning;
  timings: { imageMs: number; rootfsMs: number; bootStarted: number };
  phase: PhaseTimer;
}

export async function prepareVm<Spec>(options: RunOptions, events: RunEvents, control: PrepareControl, scope: PrepareScope, makeSpec: (config: ImageConfig) => Spec): Promise<PreparedVm<Spec>> {
  const signal = control.signal;
  const checkCancelled = () => {
    if (signal?.aborted) throw new RunCancelledError();
  };
  const phase = phaseTimer(events);
  // sun_path holds 108 bytes; the guest's socket is the longest name used.
  if (Buffer.byteLength(guestSocketPath(scope.vsockUdsPath)) > 107) {
    throw new VmstepError(`the ${scope.socketDir.what} ${dirname(scope.vsockUdsPath)} is too deep for a Unix socket path (at most 107 bytes)`, `set ${scope.socketDir.variable} to a shorter directory, such as /tmp`);
  }
  // Assets first: a missing kernel or guest init should not cost a download.
  const kernel = kernelPath(options.kernel, scope.cacheDir);
  const init = initPath();
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

  const spec = makeSpec(image.config);
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

  const volumes = await copyVolumes(options, scope.volumeDiskPath, phase, events);
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
  const listener = await listenForGuest(scope.vsockUdsPath);
  scope.cleanups.push(() => listener.close());
  if (scope.followConsole && events.console) {
    const follower = new ConsoleFollower(scope.consoleLogPath, (chunk) => quietly(() => events.console?.(chunk)));
    scope.cleanups.push(() => follower.stop());
  }
  const launch = control.launchVm ?? launchRealVm;
  const pinChoice = options.pinVcpus ? chooseVcpuCpus(options.vcpus) : null;
  const bootStarted = performance.now();
  let vm: VmHandle;
  try {
    vm = await launch({
      kernelPath: kernel,
      disks: [{ path: prepared.basePath, readOnly: false, overlayPath: prepared.overlayPath }, ...(volumes ? [{ path: scope.volumeDiskPath, readOnly: false }] : [])],
      vcpus: options.vcpus,
      memoryMiB: options.memoryMiB,
      cmdline: options.kernelArgs.join(' '),
      vsockUdsPath: scope.vsockUdsPath,
      consoleLogPath: scope.consoleLogPath,
      debug: options.debug,
      timeoutMs: scope.vmmTimeoutMs,
      ...(pinChoice?.cpus ? { pinCpus: pinChoice.cpus } : {}),
    });
  } catch (err) {
    throw new VmstepError(`${(err as Error).message}${kvmExplanation()}`, 'run `vmstep doctor` to check this host', { cause: err });
  }
  const vcpuPinning = pinChoice ? pinningReport(pinChoice, vm) : undefined;
  return {
    image,
    spec,
    volumes: volumes && { mounts: volumes.mounts, device: VOLUME_DEVICE, ms: volumes.ms },
    listener,
    vm,
    ...(vcpuPinning ? { vcpuPinning } : {}),
    timings: { imageMs, rootfsMs, bootStarted },
    phase,
  };
}

/**
 * Writes the volumes onto a disk of their own (the VM's second disk); null
 * without volumes. Entries that cannot be copied (sockets, devices, fifos)
 * are named in one warning.
 */
async function copyVolumes(options: RunOptions, diskPath: string, phase: PhaseTimer, events: RunEvents): Promise<{ mounts: VolumeMount[]; ms: number } | null> {
  if (options.volumes.length === 0) return null;
  const ordered = mountOrder(options.volumes);
  phase.start('volumes', ordered.map((v) => `${v.hostPath}:${v.guestPath}`).join(' '));
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
  return { mounts: ordered.map((v, i) => ({ name: String(i), guestPath: v.guestPath })), ms };
}

/** What became of the pinning asked for: the VMM says what it did; a launcher that says nothing pinned nothing. */
function pinningReport(choice: ReturnType<typeof chooseVcpuCpus>, vm: VmHandle): VcpuPinning {
  if (choice.cpus === null) return { pinned: false, cpus: [], reason: choice.reason };
  if (vm.pinning && 'cpus' in vm.pinning) return { pinned: true, cpus: vm.pinning.cpus, reason: '' };
  if (vm.pinning) return { pinned: false, cpus: [], reason: `the VMM could not pin its vCPU threads: ${vm.pinning.error}` };
  return { pinned: false, cpus: [], reason: 'the VM launcher does not pin vCPU threads' };
}

/**
 * Why this host's KVM may be the cause, asked only after a VM failed (the
 * probe boots a tiny guest: free of cost on the normal path). Empty when the
 * probe finds nothing wrong or cannot run.
 */
export function kvmExplanation(): string {
  try {
    const p = probeKvm();
    return p.available && p.canRunLinux ? '' : ` (this host's KVM: ${p.reason})`;
  } catch {
    return '';
  }
}

export function vmStoppedError(exit: VmExit, when: string): VmstepError {
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

export function sessionError(err: unknown): VmstepError {
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

export type PhaseTimer = ReturnType<typeof phaseTimer>;

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

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Callbacks belong to the faces; one that throws must not break the run. */
export function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // ignored on purpose: see above
  }
}
