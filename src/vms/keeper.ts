// The keeper: one detached process per long-lived VM (`vmstep start` spawns
// it as a hidden subcommand of the CLI). It holds what the VM needs for its
// whole life (the capacity reservation, the root filesystem overlay, the
// VMM as its child), tells the starter on fd 3 when the guest is ready or
// why it failed, then watches for the end: the main process's exit, a stop
// (SIGTERM, with the grace in the VM's `stop` file), the lifetime, the idle
// timeout. Then it powers the guest off, releases everything and leaves the
// record as `exited`. If the keeper itself is SIGKILLed, the VMM dies with it
// (the kernel's parent-death signal) and its own --timeout-ms ends it anyway;
// the next vmstep command collects the rest (registry.ts).
import { createWriteStream, readFileSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { checkCacheDir } from '../engine/cache.js';
import { toVmstepError } from '../engine/errors.js';
import { delay, prepareVm, sessionError, vmStoppedError } from '../engine/prepare.js';
import type { ImageConfig } from '../image/index.js';
import { defaultCacheDir } from '../image/index.js';
import { mergeEnv, resolveArgv, resolveUser, resolveWorkdir, startService, type ServeSpec } from '../session/index.js';
import type { VmExit } from '../engine/vm-port.js';
import { removeRuntimeFiles } from './registry.js';
import { processAlive, processRef, readRecord, selfRef, updateRecord, vmPaths, type ExecDefaults } from './state.js';
import type { RunOptions } from '../engine/types.js';
import { openVmNetwork } from '../ports/keeper.js';
import type { LinkSpec, PortMapping } from '../ports/spec.js';

/** What the starter hands the keeper on its stdin (never on disk: it may hold registry credentials). */
export interface KeeperSpec {
  run: RunOptions;
  name: string;
  /** Published ports and links (src/ports). */
  ports?: PortMapping[];
  links?: LinkSpec[];
  lifetimeMs: number;
  idleTimeoutMs: number;
  noCommand: boolean;
  /** Capacity wait in ms; null: without limit (JSON has no Infinity). */
  waitMs: number | null;
}

/** One line on fd 3 to the starter. */
export type KeeperReport = { event: 'progress'; line: string } | { event: 'ready' } | { event: 'failed'; message: string };

/** How long the guest gets to power off at the lifetime or idle limit before the VMM is killed. */
const LIMIT_GRACE_MS = 5000;
/** Beyond the guest's own grace, how long powering off may take before the VMM is killed. */
const POWEROFF_SLACK_MS = 5000;
/** How often the idle timeout looks at the VM's sessions. */
const IDLE_POLL_MS = 1000;

export const HOSTNAME = 'vmstep';

export async function runKeeper(dir: string): Promise<number> {
  const paths = vmPaths(dir);
  const report = (r: KeeperReport) => {
    try {
      writeSync(3, `${JSON.stringify(r)}\n`);
    } catch {
      // The starter went away (Ctrl-C, SIGKILL): the VM goes on without it.
    }
  };
  const spec = JSON.parse(await readStdin()) as KeeperSpec;
  // The lifetime runs from the VM's launch: a wait for capacity or a download does not use it up. Until then, an estimate.
  let deadline = Date.now() + spec.lifetimeMs;
  updateRecord(dir, (r) => {
    r.keeper = selfRef();
    r.deadline = deadline;
  });
  // SIGTERM is how `vmstep stop` asks; the terminal's signals are not ours (we are detached, but a shell may still send them).
  let onStop: (() => void) | null = null;
  let stopRequested = false;
  const abort = new AbortController();
  let ready = false;
  process.on('SIGTERM', () => {
    stopRequested = true;
    // Before the VM runs, a stop cancels the start (a wait for capacity, a download).
    if (!ready && !onStop) abort.abort();
    onStop?.();
  });
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});

  const cleanups: (() => unknown)[] = [];
  let exitCode: number | null = null;
  let error: string | null = null;
  try {
    const cacheDir = spec.run.cacheDir ?? defaultCacheDir();
    checkCacheDir(cacheDir);
    // Published ports are bound before the boot, so a port in use fails the start at once.
    const network = await openVmNetwork(dir, spec.ports ?? [], spec.links ?? []);
    cleanups.push(() => network.close());
    let serve: ServeSpec = { env: [] };
    let execDefaults: ExecDefaults | null = null;
    // The VM's share of the host's capacity is taken in prepareVm, held until the cleanups run at the VM's end.
    const run = { ...spec.run, capacityLabel: `vm ${spec.name}`, capacityWaitMs: spec.waitMs ?? Infinity };
    const prepared = await prepareVm(
      run,
      {
        progress: (line) => report({ event: 'progress', line }),
        waiting: (line) => report({ event: 'progress', line }),
        warning: (m) => report({ event: 'progress', line: `warning: ${m}` }),
      },
      { signal: abort.signal },
      {
        cacheDir,
        cleanups,
        socketDir: { what: 'VM state directory', variable: 'VMSTEP_STATE_DIR' },
        vsockUdsPath: paths.vsock,
        consoleLogPath: paths.console,
        volumeDiskPath: paths.volumes,
        vmmTimeoutMs: spec.lifetimeMs,
        followConsole: false,
      },
      (config) => {
        ({ serve, execDefaults } = serviceSpec(config, spec));
        return serve;
      },
    );
    const { vm, listener, volumes, image } = prepared;
    if (volumes) Object.assign(serve, { volumeDevice: volumes.device, volumes: volumes.mounts });
    cleanups.push(() => stopVmm(vm));
    deadline = Date.now() + spec.lifetimeMs;
    updateRecord(dir, (r) => {
      r.deadline = deadline;
      r.vmm = processRef(vm.pid);
      r.image = { reference: image.reference, digest: image.digest };
      // Kept so that a caller (the runner plugin) need not ask the registry for it again.
      r.imageConfig = image.config;
      r.command = serve.argv ?? [];
      r.exec = execDefaults;
    });

    const ends = endConditions(vm.exited, deadline, spec.idleTimeoutMs, paths.sessions);
    onStop = () => ends.stop();
    if (stopRequested) ends.stop();
    cleanups.push(() => ends.dispose());

    const connected = await Promise.race([listener.accept().then((socket: Socket) => ({ kind: 'connected' as const, socket })), ends.promise]);
    if (connected.kind !== 'connected') {
      vm.kill();
      const exit = connected.kind === 'vm-exit' ? connected.exit : await vm.exited;
      throw connected.kind === 'vm-exit' ? vmStoppedError(exit, 'during boot') : new Error(`the VM was ${connected.kind === 'stop' ? 'stopped' : `past its ${connected.kind}`} during boot`);
    }
    const service = startService(connected.socket, serve);
    const log = createWriteStream(paths.main, { flags: 'a', mode: 0o600 });
    service.mainStdout.pipe(log, { end: false });
    service.mainStderr.pipe(log, { end: false });
    cleanups.push(() => new Promise((r) => log.end(r)));
    const booted = await Promise.race([service.ready.then(() => null), ends.promise]).catch((err: unknown) => {
      throw sessionError(err);
    });
    if (booted !== null) {
      vm.kill();
      throw booted.kind === 'vm-exit' ? vmStoppedError(booted.exit, 'during boot') : new Error(`the VM was ${booted.kind === 'stop' ? 'stopped' : `past its ${booted.kind}`} during boot`);
    }
    await network.serve({ kind: 'vmm', udsPath: paths.vsock });
    updateRecord(dir, (r) => (r.status = 'running'));
    ready = true;
    report({ event: 'ready' });

    const end = await ends.promise;
    if (end.kind !== 'vm-exit') {
      updateRecord(dir, (r) => (r.status = 'stopping'));
      const grace = end.kind === 'stop' ? stopGrace(paths.stopRequest) : LIMIT_GRACE_MS;
      service.poweroff(grace);
      const exited = await Promise.race([vm.exited, delay(grace + POWEROFF_SLACK_MS).then(() => null)]);
      if (!exited) vm.kill();
      if (end.kind !== 'stop') error = `stopped at its ${end.kind} limit`;
    }
    const exit = await vm.exited;
    const main = await Promise.race([service.mainExit, delay(1000).then(() => null)]);
    if (main) exitCode = main.code;
    if (end.kind === 'vm-exit' && !main && exit.reason !== 'poweroff') error = vmStoppedError(exit, 'while it served').oneLine();
    if (exit.reason === 'timeout') error = 'stopped at its lifetime limit';
  } catch (err) {
    error = toVmstepError(err).oneLine();
    if (!ready) report({ event: 'failed', message: error });
  } finally {
    abort.abort();
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // Best effort: the next vmstep command collects what is left.
      }
    }
    removeRuntimeFiles(dir);
    if (readRecord(dir)) {
      updateRecord(dir, (r) => {
        r.status = 'exited';
        r.vmm = null;
        r.exitCode = exitCode;
        r.error = error;
        r.ended = Date.now();
      });
    }
  }
  return 0;
}

/** The SERVE spec and what execs inherit, from the image's config and the start options (docker run's rules). */
function serviceSpec(config: ImageConfig, spec: KeeperSpec): { serve: ServeSpec; execDefaults: ExecDefaults } {
  const image = { Entrypoint: config.entrypoint, Cmd: config.cmd, Env: config.env, WorkingDir: config.workingDir, User: config.user };
  const o = spec.run;
  try {
    const env = mergeEnv(image.Env, o.env, { hostname: HOSTNAME });
    const workdir = resolveWorkdir(image, o.workdir ?? undefined);
    const user = resolveUser(image, o.user ?? undefined);
    const argv = spec.noCommand ? [] : resolveArgv(image, { ...(o.entrypoint !== null ? { entrypoint: o.entrypoint } : {}), cmd: o.command });
    return {
      serve: { ...(argv.length > 0 ? { argv } : {}), env, workdir, user, hostname: HOSTNAME, privileged: o.privileged },
      execDefaults: { env, workdir, user, privileged: o.privileged },
    };
  } catch (err) {
    const message = (err as Error).message;
    throw toVmstepError(/no command/.test(message) ? new Error(`${message}, or start it with --no-command`) : err);
  }
}

type End = { kind: 'vm-exit'; exit: VmExit } | { kind: 'stop' } | { kind: 'lifetime' } | { kind: 'idle timeout' };

/** Resolves with the first of: the VM's exit, a stop, the lifetime, the idle timeout. */
function endConditions(exited: Promise<VmExit>, deadline: number, idleMs: number, sessionsDir: string) {
  let resolveEnd!: (e: End) => void;
  const promise = new Promise<End>((r) => (resolveEnd = r));
  const timers: NodeJS.Timeout[] = [setTimeout(() => resolveEnd({ kind: 'lifetime' }), Math.max(0, deadline - Date.now()))];
  let lastActive = Date.now();
  if (idleMs > 0) {
    timers.push(
      setInterval(() => {
        const latest = sessionActivity(sessionsDir);
        if (latest === 'busy') lastActive = Date.now();
        else if (latest !== null) lastActive = Math.max(lastActive, latest);
        if (Date.now() - lastActive >= idleMs) resolveEnd({ kind: 'idle timeout' });
      }, Math.min(IDLE_POLL_MS, idleMs)),
    );
  }
  exited.then((exit) => resolveEnd({ kind: 'vm-exit', exit }));
  return {
    promise,
    stop: () => resolveEnd({ kind: 'stop' }),
    dispose: () => timers.forEach((t) => clearTimeout(t)),
  };
}

/**
 * 'busy' while an exec or cp is in flight (a marker file named by its
 * process, which is alive); else when the last one ended (ms), or null.
 */
function sessionActivity(dir: string): 'busy' | number | null {
  let latest: number | null = null;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  for (const n of names) {
    const [pid, ticks] = n.split('-').map(Number);
    const path = join(dir, n);
    if (pid && ticks !== undefined && processAlive({ pid, startTicks: ticks })) return 'busy';
    try {
      latest = Math.max(latest ?? 0, statSync(path).mtimeMs);
    } catch {
      // Removed in between.
    }
  }
  return latest;
}

function stopGrace(file: string): number {
  try {
    const ms = Number(readFileSync(file, 'utf8').trim());
    if (Number.isFinite(ms) && ms >= 0) return ms;
  } catch {
    // No request file: the default.
  }
  return 10_000;
}

async function stopVmm(vm: { exited: Promise<VmExit>; kill(): void }): Promise<void> {
  const done = await Promise.race([vm.exited.then(() => true), delay(100).then(() => false)]);
  if (!done) {
    vm.kill();
    await vm.exited;
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d: string) => (text += d));
    process.stdin.on('end', () => resolve(text));
    process.stdin.on('error', reject);
  });
}
