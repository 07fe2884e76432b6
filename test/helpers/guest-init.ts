// Guest init for the tests: $VMSTEP_INIT, else a build of this checkout's
// guest/ made with guest/build.sh (about a second) and kept under
// $VMSTEP_CACHE/test (default ~/.cache/vmstep/test) by the hash of guest/**, so that `vitest run` works on a fresh
// checkout without `npm test` and never tests a stale binary.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { listenForGuest } from '../../src/session/listener.js';
import { startGuestSession, type GuestSessionOptions, type SessionResult } from '../../src/session/session.js';
import type { RunSpec } from '../../src/session/messages.js';
import { FrameDecoder, type Frame } from '../../src/session/protocol.js';
import type { Socket } from 'node:net';
import { repoRoot } from './artifacts.js';
import type { LaunchOptions, LaunchVm, VmExit } from '../../src/engine/vm-port.js';

function hashGuestSources(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (name === 'corpus-run') continue; // the fuzzer's working corpus is no source
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(`${relative(repoRoot, p)}\0`).update(readFileSync(p)).update('\0');
    }
  };
  walk(join(repoRoot, 'guest'));
  return h.digest('hex').slice(0, 16);
}

let cached: string | null = null;

/** The path of a vmstep-init binary built from this checkout's guest/. */
export function guestInitBinary(): string {
  if (cached) return cached;
  if (process.env.VMSTEP_INIT) return (cached = process.env.VMSTEP_INIT);
  // Under the project's cache, not TMPDIR: the emulated KVM host gives each job its own TMPDIR.
  const dir = join(process.env.VMSTEP_CACHE || join(homedir(), '.cache', 'vmstep'), 'test', `guest-init-${hashGuestSources()}`);
  const binary = join(dir, 'vmstep-init');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const tmp = mkdtempSync(join(dir, 'build-'));
    execFileSync('bash', [join(repoRoot, 'guest', 'build.sh'), tmp], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('mv', [join(tmp, 'vmstep-init'), binary]);
    rmSync(tmp, { recursive: true, force: true });
  }
  return (cached = binary);
}

/** Starts guest init in test mode against a Unix socket; resolves with its exit status and what it printed. */
export function spawnTestModeInit(socketPath: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(guestInitBinary(), [], {
    env: { VMSTEP_INIT_SOCKET: socketPath, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
  return { child, exited };
}

/** Reads a stream to its end. */
export async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

export interface TestModeRun {
  stdout: Buffer;
  stderr: Buffer;
  result: SessionResult;
  /** Guest init's own exit and console output. */
  init: { code: number | null; signal: NodeJS.Signals | null; output: string };
}

/**
 * Runs a spec through the real guest init in test mode and the real host
 * session: a Unix socket stands in for vsock, everything else is as in a VM.
 */
export async function runInTestMode(spec: RunSpec, options: GuestSessionOptions = {}, initEnv: NodeJS.ProcessEnv = {}): Promise<TestModeRun> {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-guest-test-'));
  const listener = await listenForGuest(join(dir, 'vsock'));
  try {
    const init = spawnTestModeInit(listener.path, initEnv);
    const socket = await Promise.race([
      listener.accept(),
      init.exited.then((e) => Promise.reject(new Error(`guest init exited before connecting: ${e.code} ${e.output}`))),
    ]);
    const session = startGuestSession(socket, spec, options);
    const [stdout, stderr] = await Promise.all([collect(session.stdout), collect(session.stderr)]);
    const result = await session.result;
    return { stdout, stderr, result, init: await init.exited };
  } finally {
    await listener.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads whole frames off a socket one at a time, for tests that play one side of the protocol by hand. */
export function frameReader(socket: Socket): { next(): Promise<Frame | null> } {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    frames.push(...decoder.push(chunk));
    wake?.();
  });
  socket.on('close', () => {
    ended = true;
    wake?.();
  });
  return {
    async next() {
      while (frames.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
      return frames.shift() ?? null;
    },
  };
}

/** Starts guest init in test mode and hands over its raw connection, for tests that play the host by hand. */
export async function connectTestModeInit(env: NodeJS.ProcessEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vmstep-guest-test-'));
  const listener = await listenForGuest(join(dir, 'vsock'));
  const init = spawnTestModeInit(listener.path, env);
  const socket = await listener.accept();
  return {
    socket,
    frames: frameReader(socket),
    exited: init.exited,
    async cleanup() {
      socket.destroy();
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A launchVm that stands in for the VMM: guest init in test mode, connected
 * to the run's vsock socket, running the command on this host. With
 * reportPinning it reports, as our VMM does, the CPUs it was asked to pin to
 * (without, it plays a VMM that could not pin); onLaunch sees each launch.
 */
export function testModeVm(options: { reportPinning?: boolean; onLaunch?: (o: LaunchOptions) => void } = {}): LaunchVm {
  return async (o) => {
    options.onLaunch?.(o);
    const child = spawn(guestInitBinary(), [], { env: { VMSTEP_INIT_SOCKET: `${o.vsockUdsPath}_1024` }, stdio: 'ignore' });
    const exited = new Promise<VmExit>((resolve) =>
      child.on('close', (code, signal) => resolve({ reason: signal ? 'killed' : code === 0 ? 'poweroff' : 'error', detail: '', consoleTail: '' })),
    );
    return { pid: child.pid!, exited, kill: () => child.kill('SIGKILL'), ...(options.reportPinning && o.pinCpus ? { pinning: { cpus: o.pinCpus } } : {}) };
  };
}

/**
 * A host for testModeVm in a new temporary directory named from `prefix`:
 * its scratch directory, a placeholder kernel (test mode boots none) and
 * guest init in VMSTEP_INIT, where the engine looks for it.
 */
export function testModeHost(prefix: string): { work: string; kernel: string } {
  const work = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(work, 'scratch'));
  const kernel = join(work, 'vmlinux');
  writeFileSync(kernel, 'not booted by the test-mode launcher');
  process.env.VMSTEP_INIT = guestInitBinary();
  return { work, kernel };
}
