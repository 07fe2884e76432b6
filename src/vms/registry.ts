// Finding VMs in the state directory, and collecting the leftovers of VMs
// whose keeper died (SIGKILL, a host crash of the process, OOM): every
// lookup first marks those exited and removes what they held, so `ps` never
// shows a VM that is gone and nothing they held outlives them.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmstepError } from '../engine/errors.js';
import { processStartTicks } from '../engine/leftovers.js';
import { RootfsCache } from '../rootfs/index.js';
import { defaultCacheDir } from '../image/index.js';
import { listVmDirs, openStateRoot, processAlive, readRecord, selfRef, vmPaths, writeRecord, type VmRecord } from './state.js';
import type { VmInfo } from './types.js';

export interface FoundVm {
  dir: string;
  record: VmRecord;
}

/** A record whose keeper has gone, whatever its status says; an exited one stays as it is. */
export function collectIfDead(dir: string, record: VmRecord): VmRecord {
  if (record.status === 'exited' || processAlive(record.keeper)) return record;
  // The VMM dies with its keeper (it asks the kernel for that), but make sure.
  const vmm = record.vmm;
  if (vmm && processStartTicks(vmm.pid) === vmm.startTicks) {
    try {
      process.kill(vmm.pid, 'SIGKILL');
    } catch {
      // Gone in between.
    }
  }
  removeRuntimeFiles(dir);
  const ended: VmRecord = {
    ...record,
    status: 'exited',
    vmm: null,
    exitCode: null,
    error: record.status === 'starting' ? 'the VM never finished starting: its vmstep process was killed' : 'its vmstep keeper process was killed; the VM was stopped',
    ended: Date.now(),
  };
  writeRecord(dir, ended);
  // The keeper's disk overlay lives in the cache under the keeper's pid; the rootfs cache removes those of dead processes.
  void new RootfsCache(defaultCacheDir()).sweep().catch(() => {});
  return ended;
}

/** What a running VM holds on disk beside its record and logs: sockets, the volume disk, exec markers, a stop request. */
export function removeRuntimeFiles(dir: string): void {
  const p = vmPaths(dir);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n === 'vsock' || n.startsWith('vsock_')) rmSync(join(dir, n), { force: true });
  for (const f of [p.volumes, p.stopRequest, p.sessions]) rmSync(f, { recursive: true, force: true });
}

/** Every VM of this user, leftovers collected. */
export function allVms(env: NodeJS.ProcessEnv = process.env): FoundVm[] {
  const root = openStateRoot(env);
  const out: FoundVm[] = [];
  for (const dir of listVmDirs(root)) {
    const record = readRecord(dir);
    if (record) out.push({ dir, record: collectIfDead(dir, record) });
  }
  return out.sort((a, b) => b.record.created.localeCompare(a.record.created));
}

/** A VM by ID, name or unique ID prefix. */
export function lookupVm(ref: string, env: NodeJS.ProcessEnv = process.env): FoundVm {
  if (ref === '') throw new VmstepError('no VM given', 'name a VM by its ID, a unique ID prefix or its name (see `vmstep ps -a`)');
  const vms = allVms(env);
  const exact = vms.find((v) => v.record.id === ref) ?? vms.find((v) => v.record.name === ref);
  if (exact) return exact;
  const byPrefix = /^[0-9a-f]+$/.test(ref) ? vms.filter((v) => v.record.id.startsWith(ref)) : [];
  if (byPrefix.length === 1) return byPrefix[0]!;
  if (byPrefix.length > 1) throw new VmstepError(`VM ID prefix "${ref}" is ambiguous: it matches ${byPrefix.map((v) => v.record.id).join(', ')}`, 'give more of the ID, or the name');
  throw new VmstepError(`no such VM: ${ref}`, 'see `vmstep ps -a` for your VMs');
}

export function toInfo(v: FoundVm): VmInfo {
  const r = v.record;
  return {
    id: r.id,
    name: r.name,
    image: r.image,
    status: r.status,
    created: r.created,
    vcpus: r.vcpus,
    memoryMiB: r.memoryMiB,
    exitCode: r.exitCode,
    error: r.error,
    deadline: r.deadline,
    dir: v.dir,
  };
}

/** Refuses a VM that is not serving, with the reason in one line. */
export function requireRunning(v: FoundVm): void {
  const r = v.record;
  if (r.status === 'running') return;
  if (r.status === 'exited') {
    const how = r.error ?? (r.exitCode !== null ? `its main process exited with status ${r.exitCode}` : 'it was stopped');
    throw new VmstepError(`VM ${r.name} is not running: ${how}`, `start a new one with vmstep start; \`vmstep stop ${r.name}\` removes this record`);
  }
  throw new VmstepError(`VM ${r.name} is ${r.status}, not running`, r.status === 'starting' ? 'wait until `vmstep start` has printed its ID' : 'it is being stopped; start a new one');
}

/** Marks an exec or cp as in flight for the idle timeout; returns the function that ends it. */
export function markSession(v: FoundVm): () => void {
  const dir = vmPaths(v.dir).sessions;
  const me = selfRef();
  const file = join(dir, `${me.pid}-${me.startTicks}`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(file, '');
  } catch {
    return () => {};
  }
  return () => {
    try {
      // Left behind with a fresh mtime when others are in flight; removed by the keeper's end otherwise.
      writeFileSync(join(dir, 'last'), '');
      rmSync(file, { force: true });
    } catch {
      // The VM ended meanwhile.
    }
  };
}
