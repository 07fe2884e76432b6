// Long-lived VMs: start one in the background, run commands in it, copy
// files in and out, list and stop them. The CLI (start, exec, cp, ps, logs,
// stop) and the runner plugin are thin faces over these functions. A VM is
// kept by a detached keeper process (keeper.ts) and recorded in the user's
// state directory (state.ts); any call here first collects the leftovers of
// VMs whose keeper died (registry.ts).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { VmstepError } from '../engine/errors.js';
import { RunCancelledError } from '../engine/prepare.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { shippedFile } from '../engine/vm-port.js';
import { connectSession, mergeEnv, startGuestSession, type RunSpec } from '../session/index.js';
import { HOSTNAME, type KeeperReport, type KeeperSpec } from './keeper.js';
import { allVms, lookupVm, markSession, removeRuntimeFiles, requireRunning, toInfo } from './registry.js';
import { checkVmName, newVmId, openStateRoot, processAlive, processRef, readRecord, removeVmDir, selfRef, vmDir, vmPaths, writeRecord, type ProcessRef, type VmRecord } from './state.js';
import { DEFAULT_LIFETIME_MS, DEFAULT_STOP_GRACE_MS, type ExecOptions, type ExecResult, type LookupOptions, type StartEvents, type StartOptions, type StopOptions, type VmInfo } from './types.js';

export * from './types.js';
export { stateRoot } from './state.js';
export { copyFromVm, copyIntoVm } from './copy.js';

/** The hidden CLI subcommand that runs a keeper. */
export const KEEPER_COMMAND = '__keeper';

/** The script the keeper runs: $VMSTEP_KEEPER_ENTRY (tests), else the cli.js shipped beside vmstep. */
function keeperEntry(): string {
  const entry = process.env.VMSTEP_KEEPER_ENTRY || shippedFile('cli.js');
  if (!entry) throw new VmstepError('cannot find vmstep\'s cli.js to run the VM\'s keeper process', 'reinstall vmstep, or run `npm run build` in a source checkout');
  return entry;
}

/** Boots a VM in the background; resolves when its guest serves exec and cp, rejects with the boot's failure. */
export async function startVm(opts: StartOptions, events: StartEvents = {}): Promise<VmInfo> {
  const env = opts.hostEnv ?? process.env;
  const root = openStateRoot(env);
  const existing = allVms(env);
  const id = newVmId();
  const name = opts.name ?? `vm-${id.slice(0, 6)}`;
  checkVmName(name);
  const clash = existing.find((v) => v.record.name === name);
  if (clash) throw new VmstepError(`the name "${name}" is already used by VM ${clash.record.id} (${clash.record.status})`, `choose another --name, or remove that VM with \`vmstep stop ${name}\``);
  const lifetimeMs = opts.lifetimeMs ?? DEFAULT_LIFETIME_MS;
  if (!(lifetimeMs > 0)) throw new VmstepError('--lifetime must be more than 0', 'give a duration such as 30m or 8h');

  const dir = vmDir(root, id);
  mkdirSync(dir, { mode: 0o700 });
  const record: VmRecord = {
    id,
    name,
    image: { reference: opts.run.image, digest: '' },
    created: new Date().toISOString(),
    vcpus: opts.run.vcpus,
    memoryMiB: opts.run.memoryMiB,
    status: 'starting',
    keeper: selfRef(),
    vmm: null,
    deadline: Date.now() + lifetimeMs,
    lifetimeMs,
    idleTimeoutMs: opts.idleTimeoutMs ?? 0,
    command: [],
    exec: null,
    exitCode: null,
    error: null,
    ended: null,
  };
  writeRecord(dir, record);
  // JSON has no Infinity: the keeper reads null as waiting without limit.
  const waitMs = opts.waitMs ?? opts.run.capacityWaitMs ?? 0;
  const spec: KeeperSpec = { run: opts.run, name, lifetimeMs, idleTimeoutMs: opts.idleTimeoutMs ?? 0, noCommand: opts.noCommand ?? false, waitMs: waitMs === Infinity ? null : waitMs };
  // Published ports and links (src/ports) travel with the spec.
  Object.assign(spec, { ports: opts.ports ?? [], links: opts.links ?? [] });

  const log = openSync(vmPaths(dir).keeperLog, 'a', 0o600);
  let child;
  try {
    child = spawn(process.execPath, ['--', keeperEntry(), KEEPER_COMMAND, dir], { detached: true, stdio: ['pipe', log, log, 'pipe'], env: { ...process.env, ...env } });
  } finally {
    closeSync(log);
  }
  child.on('error', () => {});
  child.stdin!.on('error', () => {});
  child.stdin!.end(JSON.stringify(spec));
  const pid = child.pid;
  if (pid !== undefined) {
    record.keeper = processRef(pid);
    if (readRecord(dir)?.keeper.pid === process.pid) writeRecord(dir, record);
  }

  let cancelled = false;
  const outcome = await new Promise<KeeperReport | null>((resolve) => {
    const status = child.stdio[3] as NodeJS.ReadableStream;
    createInterface({ input: status }).on('line', (line) => {
      let r: KeeperReport | null = null;
      try {
        r = JSON.parse(line) as KeeperReport;
      } catch {
        r = null;
      }
      if (r?.event === 'progress') events.progress?.(r.line);
      else if (r) resolve(r);
    });
    status.on('error', () => resolve(null));
    events.signal?.addEventListener('abort', () => {
      cancelled = true;
      child.kill('SIGTERM');
    }, { once: true });
    status.on('end', () => resolve(null));
    child.on('exit', () => setTimeout(() => resolve(null), 100));
  });
  (child.stdio[3] as NodeJS.ReadableStream & { destroy(): void }).destroy();
  child.unref();

  if (outcome?.event === 'ready' && !cancelled) return toInfo({ dir, record: readRecord(dir) ?? record });
  if (cancelled) {
    // Ready in the meantime or not, the VM was not wanted any more.
    await stopVm(id, { timeSeconds: 0, hostEnv: env }).catch(() => {});
    throw new RunCancelledError();
  }
  // A failed start leaves nothing behind: the keeper released what it took; the record goes too.
  const message = outcome?.event === 'failed' ? outcome.message : (readRecord(dir)?.error ?? `the VM's keeper process ended without a word (see ${vmPaths(dir).keeperLog})`);
  const last = readRecord(dir);
  await waitForExit(last ? [last.keeper, ...(last.vmm ? [last.vmm] : [])] : [], 10_000);
  removeVmDir(dir);
  throw new VmstepError(message, '');
}

/** A VM by ID, unique ID prefix or name; VmstepError when there is none (or several). */
export function findVm(ref: string, opts: LookupOptions = {}): VmInfo {
  return toInfo(lookupVm(ref, opts.hostEnv));
}

/** This user's VMs, newest first; without `all` only those not exited. */
export function listVms(opts: { all?: boolean } & LookupOptions = {}): VmInfo[] {
  return allVms(opts.hostEnv)
    .filter((v) => opts.all || v.record.status !== 'exited')
    .map(toInfo);
}

/**
 * Stops a VM: its processes get SIGTERM and timeSeconds before SIGKILL, the
 * VM powers off, and its disk copy, sockets and record are removed. Stopping
 * an exited VM removes its record.
 */
export async function stopVm(ref: string, opts: StopOptions & LookupOptions = {}): Promise<void> {
  const v = lookupVm(ref, opts.hostEnv);
  const graceMs = opts.timeSeconds !== undefined ? Math.round(opts.timeSeconds * 1000) : DEFAULT_STOP_GRACE_MS;
  const r = v.record;
  if (r.status !== 'exited' && processAlive(r.keeper)) {
    writeFileSync(vmPaths(v.dir).stopRequest, String(graceMs), { mode: 0o600 });
    try {
      process.kill(r.keeper.pid, 'SIGTERM');
    } catch {
      // Gone in between: collected below.
    }
    // Stopped means gone: the keeper and its VMM both, not merely a record that says so.
    const procs = [r.keeper, r.vmm].filter((p): p is ProcessRef => p !== null);
    if (!(await waitForExit(procs, graceMs + 15_000))) {
      // A keeper or VMM that does not end is killed.
      for (const p of procs.filter(processAlive)) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await waitForExit(procs, 5000);
    }
  }
  removeRuntimeFiles(v.dir);
  removeVmDir(v.dir);
}

/** Waits until every one of these processes has ended; false on timeout. */
async function waitForExit(procs: ProcessRef[], ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (!procs.some(processAlive)) return true;
    if (Date.now() > end) return false;
    await sleep(25);
  }
}

/** Runs a command in a running VM; resolves with its exit status. Its stdout and stderr stream live. */
export async function execInVm(ref: string, opts: ExecOptions & LookupOptions): Promise<ExecResult> {
  const v = lookupVm(ref, opts.hostEnv);
  requireRunning(v);
  const defaults = v.record.exec!;
  let spec: RunSpec;
  try {
    spec = {
      argv: opts.argv,
      env: mergeEnv(defaults.env, opts.env ?? [], { hostname: HOSTNAME }),
      workdir: opts.workdir ?? defaults.workdir,
      user: opts.user ?? defaults.user,
      hostname: HOSTNAME,
      privileged: defaults.privileged,
      stdin: opts.stdin !== undefined,
    };
  } catch (err) {
    throw new VmstepError((err as Error).message, 'write -e NAME=value');
  }
  if (spec.argv.length === 0) throw new VmstepError('no command to run in the VM', 'usage: vmstep exec [OPTIONS] VM COMMAND [ARG...]');
  const endSession = markSession(v);
  try {
    const socket = await connectSession({ kind: 'vmm', udsPath: vmPaths(v.dir).vsock }, opts.signal).catch((err: Error) => {
      throw new VmstepError(`VM ${v.record.name}: ${err.message}`, 'see `vmstep ps -a`');
    });
    const session = startGuestSession(socket, spec, opts.stdin ? { stdin: opts.stdin } : {});
    let timedOut = false;
    let cancelled = false;
    const timer = opts.timeoutMs && opts.timeoutMs > 0 ? setTimeout(() => ((timedOut = true), session.signal('SIGKILL')), opts.timeoutMs) : null;
    const onAbort = () => {
      cancelled = true;
      session.signal('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const pump = (from: NodeJS.ReadableStream, to: NodeJS.WritableStream) =>
      new Promise<void>((resolve) => {
        from.on('data', (c: Buffer) => {
          if (!to.write(c)) {
            from.pause();
            to.once('drain', () => from.resume());
          }
        });
        from.on('end', resolve);
        from.on('close', resolve);
        from.on('error', () => resolve());
      });
    try {
      const [result] = await Promise.all([session.result, pump(session.stdout, opts.stdout), pump(session.stderr, opts.stderr)]);
      return { exitCode: result.exit.code, ...(result.exit.signalName ? { signal: result.exit.signalName } : {}), timedOut, cancelled };
    } catch (err) {
      const now = lookupVm(ref, opts.hostEnv);
      if (now.record.status !== 'running') throw new VmstepError(`VM ${now.record.name} stopped while the command ran`, 'see `vmstep ps -a` and `vmstep logs`');
      throw err instanceof VmstepError ? err : new VmstepError(`exec in VM ${v.record.name}: ${(err as Error).message}`, '');
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
    }
  } finally {
    endSession();
  }
}
