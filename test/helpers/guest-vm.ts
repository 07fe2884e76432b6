// Real guest kernel runs for the e2e tests: a test root filesystem (busybox,
// iputils ping and guest init at /.vmstep/init), and one helper that boots it
// on our VMM and runs a spec through the real GuestSession.
// VMSTEP_E2E_DEBUG=1 copies each guest's console to stderr as it boots.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { homedir, tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { Socket } from 'node:net';
import { launchVm, type LaunchOptions, type LaunchVm, type VmExit } from '../../src/engine/vm-port.js';
import { createOverlay, flattenOverlay } from '../../src/vm/overlay.js';
import { listenForGuest } from '../../src/session/listener.js';
import type { RunSpec } from '../../src/session/messages.js';
import { startGuestSession, type GuestSessionOptions, type SessionResult } from '../../src/session/session.js';
import { builtArtifacts } from './artifacts.js';
import { collect, guestInitBinary } from './guest-init.js';
import { nativeBuild } from '../kvm/vm-helpers.js';

export function guestKernelPath(): string {
  return builtArtifacts().guestKernel;
}

/** Users and groups of the test image, for user-resolution tests. */
export const TEST_PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'app:x:1000:1000:app user:/home/app:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false', ''].join('\n');
export const TEST_GROUP = ['root:x:0:', 'app:x:1000:', 'audio:x:29:app', 'staff:x:50:', 'nogroup:x:65534:', ''].join('\n');

const PING = '/usr/bin/ping';
const execFileAsync = promisify(execFile);

/** The absolute paths of a dynamic executable's libraries and loader, from ldd. */
async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ldd', [binary], { encoding: 'utf8' });
  return [...stdout.matchAll(/(\/\S+\.so[.\d]*)\s+\(0x/g)].map((m) => m[1]!);
}

/**
 * An ext4 image with busybox (every applet linked in /bin), iputils ping,
 * guest init at /.vmstep/init, /etc/passwd and /etc/group, and nothing else:
 * no /proc, /sys, /dev, /run or /etc/hosts, as in many OCI images, so guest
 * init has to create what it mounts. Asynchronous throughout: inside the
 * emulated KVM host this takes minutes, and a blocked test worker misses
 * vitest's RPC deadlines.
 */
export async function buildTestRootfs(dir: string, initBinary = guestInitBinary()): Promise<string> {
  const root = join(dir, 'rootfs');
  await rm(root, { recursive: true, force: true });
  for (const d of ['bin', 'etc', '.vmstep', 'home/app', 'work', 'tmp', 'usr']) await mkdir(join(root, d), { recursive: true });
  await chmod(join(root, 'tmp'), 0o1777);
  await chown(join(root, 'home/app'), 1000, 1000);
  await copyFile('/bin/busybox', join(root, 'bin', 'busybox'));
  await chmod(join(root, 'bin', 'busybox'), 0o755);
  const { stdout } = await execFileAsync('/bin/busybox', ['--list'], { encoding: 'utf8' });
  for (const a of stdout.split('\n')) if (a && a !== 'busybox') await symlink('busybox', join(root, 'bin', a));
  await symlink('../bin', join(root, 'usr', 'bin'));
  // iputils ping (with its shared libraries) as Debian images have it: unlike
  // busybox ping it falls back to an ICMP datagram socket without CAP_NET_RAW.
  // Tests call it as /bin/ping: Debian's static busybox shell prefers its own
  // applets to PATH.
  await rm(join(root, 'bin', 'ping'));
  await copyFile(PING, join(root, 'bin', 'ping'));
  await chmod(join(root, 'bin', 'ping'), 0o755);
  for (const lib of await sharedLibraries(PING)) {
    await mkdir(join(root, dirname(lib)), { recursive: true });
    await copyFile(lib, join(root, lib));
  }
  await copyFile(initBinary, join(root, '.vmstep', 'init'));
  await chmod(join(root, '.vmstep', 'init'), 0o755);
  await writeFile(join(root, 'etc', 'passwd'), TEST_PASSWD);
  await writeFile(join(root, 'etc', 'group'), TEST_GROUP);
  const image = join(dir, 'rootfs.ext4');
  await rm(image, { force: true });
  await execFileAsync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, image, '32M']);
  return image;
}

/**
 * buildTestRootfs, cached under $VMSTEP_CACHE/test by the contents of guest
 * init, busybox and ping. Runs copy it; the cached image is never booted.
 */
export async function cachedTestRootfs(): Promise<string> {
  const init = guestInitBinary();
  const h = createHash('sha256');
  for (const f of [init, '/bin/busybox', PING]) h.update(await readFile(f));
  h.update(TEST_PASSWD).update(TEST_GROUP);
  const dir = join(process.env.VMSTEP_CACHE || join(homedir(), '.cache', 'vmstep'), 'test');
  const image = join(dir, `guest-rootfs-${h.digest('hex').slice(0, 16)}.ext4`);
  if (!existsSync(image)) {
    await mkdir(dir, { recursive: true });
    const tmp = await mkdtemp(join(dir, 'rootfs-build-'));
    try {
      await rename(await buildTestRootfs(tmp, init), image);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  return image;
}

/** Reads a file out of an ext4 image without mounting it. */
export function readFromExt4(image: string, path: string): string {
  return execFileSync('debugfs', ['-R', `cat ${path}`, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Our VMM (src/vm's launchVm) with the built VMM executable, as the engine launches it. */
async function launcher(): Promise<LaunchVm> {
  const { vmm } = await nativeBuild();
  return (o: LaunchOptions) => launchVm({ ...o, vmmPath: vmm });
}

export interface VmRun {
  stdout: Buffer;
  stderr: Buffer;
  /** The session's result, or its error. */
  result: SessionResult | null;
  error: Error | null;
  vm: VmExit;
  /** The run's disk as the guest left it (base + overlay flattened), after the VM ended. */
  disk: string;
  /** Milliseconds (host clock) from the session's start to the first stdout byte and to the exit message. */
  firstStdoutMs: number | null;
  exitMs: number | null;
}

export interface VmRunOptions {
  /** The base image the run's copy-on-write disk reads (default: cachedTestRootfs()); never written. */
  rootfs?: string;
  vcpus?: number;
  memoryMiB?: number;
  session?: GuestSessionOptions;
  timeoutMs?: number;
  /** Plays the host by hand instead of running a GuestSession; vsockUdsPath is where the VMM takes host-initiated connections. */
  manual?: (socket: Socket, vsockUdsPath: string) => Promise<void>;
}

const runDirs: string[] = [];

/** Removes the scratch directories (disks, sockets, console logs) of every runInVm so far. */
export function removeVmRunDirs(): void {
  for (const d of runDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * Boots a VM on the root filesystem as the engine does (a copy-on-write
 * overlay over the read-only base), runs spec through guest init, and waits
 * for the VM to end.
 */
export async function runInVm(spec: RunSpec, options: VmRunOptions = {}): Promise<VmRun> {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-e2e-guest-'));
  runDirs.push(dir);
  const disk = join(dir, 'disk.ext4');
  const base = options.rootfs ?? (await cachedTestRootfs());
  const overlay = join(dir, 'overlay');
  createOverlay(overlay, { baseBytes: statSync(base).size });
  const vsockUdsPath = join(dir, 'vsock');
  const listener = await listenForGuest(vsockUdsPath);
  const vm = await (await launcher())({
    kernelPath: guestKernelPath(),
    disks: [{ path: base, readOnly: false, overlayPath: overlay }],
    vcpus: options.vcpus ?? 2,
    memoryMiB: options.memoryMiB ?? 256,
    cmdline: '',
    vsockUdsPath,
    debug: process.env.VMSTEP_E2E_DEBUG === '1',
    timeoutMs: options.timeoutMs ?? 240_000,
    consoleLogPath: join(dir, 'console.log'),
  });
  const run: VmRun = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), result: null, error: null, vm: undefined as unknown as VmExit, disk, firstStdoutMs: null, exitMs: null };
  try {
    const socket = await Promise.race([
      listener.accept(),
      vm.exited.then((e) => Promise.reject(new Error(`the VM ended (${e.reason}: ${e.detail}) before guest init connected; console:\n${e.consoleTail}`))),
    ]);
    if (options.manual) {
      await options.manual(socket, vsockUdsPath);
    } else {
      const t0 = performance.now();
      const session = startGuestSession(socket, spec, options.session);
      session.stdout.once('data', () => (run.firstStdoutMs ??= performance.now() - t0));
      session.exit.then(() => (run.exitMs = performance.now() - t0), () => {});
      const [stdout, stderr] = await Promise.all([collect(session.stdout), collect(session.stderr)]);
      run.stdout = stdout;
      run.stderr = stderr;
      run.result = await session.result.catch((e: Error) => ((run.error = e), null));
    }
  } catch (e) {
    run.error = e as Error;
    vm.kill();
  } finally {
    run.vm = await vm.exited;
    await listener.close();
  }
  await flattenOverlay(base, overlay, disk);
  return run;
}
