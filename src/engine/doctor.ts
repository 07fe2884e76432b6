// `vmstep doctor`: can this host run vmstep, and will its numbers be quiet?
// Each check reads the host as it is (files under /dev, /proc and /sys, the
// PATH) and, when something is wrong, says the exact command that fixes it.
// `root` lets tests point the checks at a fake tree of those files.
import { accessSync, constants, existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { chooseVcpuCpus, hostTopology } from './bench-pinning.js';
import { checkCacheDir } from './cache.js';
import { capacityStatus } from './capacity.js';
import { VmstepError } from './errors.js';
import { currentUserName, kvmAccessProblem } from './kvm-access.js';
import { formatBytes } from './units.js';
import { probeKvm, shippedFile } from './vm-port.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** The exact fix, when the status is not ok. */
  fix?: string;
}

/** What the VMM's own probe says about /dev/kvm (src/vm probeKvm). */
export interface KvmProbe {
  available: boolean;
  canRunLinux: boolean;
  reason: string;
}

export interface DoctorOptions {
  /** Prefix for /dev, /proc and /sys (tests); default "". */
  root?: string;
  /** Runs a tiny guest on /dev/kvm (default: the VMM's probe); when it throws, judged from CPU flags. */
  probeKvm?: () => KvmProbe;
  /** Where a shipped file is, by its override variable and name (default: the environment, then dist/). */
  findAsset?: (envVar: string, file: string) => string | null;
  cpus?: number;
  cacheDir?: string;
  user?: string;
  /** Where VMSTEP_MAX_* and VMSTEP_CAPACITY_DIR are read; absent: the capacity check is left out. */
  env?: NodeJS.ProcessEnv;
}

/** What vmstep needs of its own at run time: [what, override variable, file in dist/]. */
const ASSETS: [string, string, string][] = [
  ['VMM', 'VMSTEP_VMM', 'vmstep-vmm'],
  ['addon', 'VMSTEP_ADDON', 'vmstep.node'],
  ['guest kernel', 'VMSTEP_KERNEL', 'vmlinux.gz'],
  ['guest init', 'VMSTEP_INIT', 'vmstep-init'],
];

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export function runDoctor(opts: DoctorOptions = {}): Check[] {
  const root = opts.root ?? '';
  const checks: Check[] = [];
  const user = opts.user ?? currentUserName();
  const kvm = join(root || '/', 'dev', 'kvm');

  // 1. /dev/kvm: present, readable and writable, able to run an unmodified kernel.
  let kvmOpen = false;
  if (!existsSync(kvm)) {
    const cpuFlags = read(join(root || '/', 'proc', 'cpuinfo'))?.match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    const vendor = /\bsvm\b/.test(cpuFlags) ? 'kvm_amd' : 'kvm_intel';
    checks.push({
      name: '/dev/kvm',
      status: 'fail',
      detail: 'absent: this host offers no KVM',
      fix: /\b(vmx|svm)\b/.test(cpuFlags)
        ? `load the KVM module: sudo modprobe ${vendor}`
        : 'run on bare metal or on a VM with nested virtualisation enabled (the CPU shows no vmx/svm flag)',
    });
  } else {
    try {
      accessSync(kvm, constants.R_OK | constants.W_OK);
      closeSync(openSync(kvm, 'r+'));
      kvmOpen = true;
      checks.push({ name: '/dev/kvm', status: 'ok', detail: 'present, readable and writable by this user' });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const denied = code === 'EACCES' || code === 'EPERM';
      const access = denied ? kvmAccessProblem(kvm, join(root || '/', 'etc'), user) : null;
      checks.push({
        name: '/dev/kvm',
        status: 'fail',
        detail: access ? `present (${access.detail}), but ${user} cannot open it (${code})` : `present, but opening it fails (${code ?? (err as Error).message})`,
        fix: access ? access.fix : 'check that the KVM module is loaded (lsmod | grep kvm; sudo modprobe kvm_intel or kvm_amd) and see dmesg for why it failed',
      });
    }
  }
  if (kvmOpen) checks.push(kvmCapability(root, opts.probeKvm ?? (() => probeKvm(kvm))));

  // 2. vmstep's own files, shipped in dist/. (No mke2fs or other host tool:
  // vmstep writes the ext4 root filesystem itself.)
  const find = opts.findAsset ?? ((envVar: string, file: string) => (process.env[envVar] ? (existsSync(process.env[envVar]!) ? process.env[envVar]! : null) : shippedFile(file)));
  const missing = ASSETS.filter(([, envVar, file]) => find(envVar, file) === null).map(([what, envVar, file]) => `${what} (${file}, or $${envVar})`);
  checks.push(
    missing.length === 0
      ? { name: 'vmstep files', status: 'ok', detail: 'VMM, addon, guest kernel and guest init found' }
      : { name: 'vmstep files', status: 'fail', detail: `missing: ${missing.join(', ')}`, fix: 'reinstall vmstep, or run `npm run build` in a source checkout' },
  );

  // 3. CPUs: a vCPU pinned to a core shares it with nothing only when there are cores to spare.
  const cpus = opts.cpus ?? availableParallelism();
  checks.push(
    cpus >= 3
      ? { name: 'CPUs', status: 'ok', detail: `${cpus} available` }
      : { name: 'CPUs', status: 'warn', detail: `${cpus} available: vCPUs share cores with vmstep and the runner`, fix: 'use a runner with at least 4 cores for benchmarks, and --vcpus 1 or 2' },
  );

  // 4. cgroup v2: the unified hierarchy is what lets a run get cores of its own.
  checks.push(
    existsSync(join(root || '/', 'sys', 'fs', 'cgroup', 'cgroup.controllers'))
      ? { name: 'cgroup v2', status: 'ok', detail: 'unified hierarchy mounted' }
      : { name: 'cgroup v2', status: 'warn', detail: 'not mounted (cgroup v1 or none)', fix: 'boot with systemd.unified_cgroup_hierarchy=1 (the default on Debian 11+, Ubuntu 21.10+)' },
  );

  checks.push(...noiseChecks(root), pinningCheck(root));
  if (opts.cacheDir) checks.push(cacheCheck(opts.cacheDir));
  if (opts.env) checks.push(capacityCheck(opts.env));
  return checks;
}

/** The host-wide budget (capacity.ts) and how much of it is held now; who holds it, `capacityStatus` lists. */
function capacityCheck(env: NodeJS.ProcessEnv): Check {
  try {
    const s = capacityStatus(env);
    const waiting = s.waiting.length > 0 ? `, ${s.waiting.length} waiting` : '';
    const n = s.holders.length;
    const inUse = n === 0 ? 'none in use' : `in use ${s.used.vcpus} vCPUs and ${formatBytes(s.used.memoryMiB * 2 ** 20)} by ${n} VM${n === 1 ? '' : 's'}`;
    return {
      name: 'capacity',
      status: 'ok',
      detail: `${s.budget.vcpus} vCPUs (${s.sources.vcpus}) and ${formatBytes(s.budget.memoryMiB * 2 ** 20)} (${s.sources.memory}) for all VMs of this host; ${inUse}${waiting}`,
    };
  } catch (err) {
    if (err instanceof VmstepError) return { name: 'capacity', status: 'fail', detail: err.message, fix: err.fix };
    return { name: 'capacity', status: 'fail', detail: `cannot read the capacity pool (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, fix: 'set VMSTEP_CAPACITY_DIR to a directory every vmstep user can write (mode 1777)' };
  }
}

function kvmCapability(root: string, probe: () => KvmProbe): Check {
  let p: KvmProbe;
  let note = '';
  try {
    p = probe();
  } catch (err) {
    // Without the VMM (a broken install), judge from what the kernel shows, and say so.
    note = `; judged from CPU flags, the VMM's probe could not run: ${(err as Error).message}`;
    const flags = read(join(root || '/', 'proc', 'cpuinfo'))?.match(/^flags\s*:(.*)$/m)?.[1] ?? '';
    if (existsSync(join(root || '/', 'sys', 'module', 'kvm_pvm'))) {
      p = { available: true, canRunLinux: false, reason: 'this /dev/kvm is kvm_pvm, a software hypervisor that cannot run an unmodified kernel' };
    } else if (/\b(vmx|svm)\b/.test(flags)) {
      p = { available: true, canRunLinux: true, reason: 'hardware virtualisation (vmx/svm)' };
    } else {
      p = { available: true, canRunLinux: false, reason: 'the CPU shows no vmx or svm flag' };
    }
  }
  p = { ...p, reason: p.reason + note };
  if (p.available && p.canRunLinux) return { name: 'KVM guests', status: 'ok', detail: `can run an unmodified Linux guest (${p.reason})` };
  return {
    name: 'KVM guests',
    status: 'fail',
    detail: `cannot run an unmodified Linux guest: ${p.reason}`,
    fix: 'run on a host with hardware virtualisation: bare metal, a cloud VM with nested virtualisation, or a GitHub-hosted Linux runner with KVM enabled',
  };
}

/** Settings that make benchmark numbers wander: frequency scaling, SMT siblings, turbo. */
function noiseChecks(root: string): Check[] {
  const sys = join(root || '/', 'sys', 'devices', 'system', 'cpu');
  const out: Check[] = [];
  let governors: string[] = [];
  try {
    governors = readdirSync(sys)
      .filter((n) => /^cpu\d+$/.test(n))
      .map((n) => read(join(sys, n, 'cpufreq', 'scaling_governor')))
      .filter((g): g is string => g !== null);
  } catch {
    // No /sys/devices/system/cpu: nothing to say.
  }
  const slow = [...new Set(governors.filter((g) => g !== 'performance'))];
  if (governors.length === 0) {
    out.push({ name: 'CPU governor', status: 'ok', detail: 'no frequency scaling exposed (typical inside a VM)' });
  } else if (slow.length === 0) {
    out.push({ name: 'CPU governor', status: 'ok', detail: 'performance on every CPU' });
  } else {
    out.push({
      name: 'CPU governor',
      status: 'warn',
      detail: `${slow.join(', ')} (the frequency changes with load, adding noise)`,
      fix: 'echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor',
    });
  }
  const smt = read(join(sys, 'smt', 'control'));
  if (smt === 'on') {
    out.push({
      name: 'SMT',
      status: 'warn',
      detail: 'on (sibling hyperthreads share a core and disturb each other)',
      fix: 'echo off | sudo tee /sys/devices/system/cpu/smt/control',
    });
  } else {
    out.push({ name: 'SMT', status: 'ok', detail: smt ?? 'not reported' });
  }
  const noTurbo = read(join(sys, 'intel_pstate', 'no_turbo'));
  const boost = read(join(sys, 'cpufreq', 'boost'));
  if (noTurbo === '0') {
    out.push({ name: 'turbo', status: 'warn', detail: 'on (clock speed depends on temperature and load)', fix: 'echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo' });
  } else if (boost === '1') {
    out.push({ name: 'turbo', status: 'warn', detail: 'boost on (clock speed depends on temperature and load)', fix: 'echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost' });
  } else {
    out.push({ name: 'turbo', status: 'ok', detail: noTurbo === '1' || boost === '0' ? 'off' : 'not reported' });
  }
  return out;
}

/** Whether `vmstep bench` can give each vCPU a core of its own (bench-pinning.ts), at the default 2 vCPUs and at 1. */
function pinningCheck(root: string): Check {
  const topology = hostTopology(root);
  const two = chooseVcpuCpus(2, topology);
  if (two.cpus) return { name: 'vCPU pinning', status: 'ok', detail: `benchmark runs pin 2 vCPUs to host CPUs ${two.cpus.join(', ')} (the first core stays with the host)` };
  const one = chooseVcpuCpus(1, topology);
  return {
    name: 'vCPU pinning',
    status: 'warn',
    detail: `2 vCPUs cannot be pinned: ${two.reason}${one.cpus ? `; 1 vCPU can, to host CPU ${one.cpus[0]}` : ''}`,
    fix: one.cpus
      ? 'benchmark with --vcpus 1 (action input vcpus: 1), or on a runner with at least 3 physical cores'
      : 'benchmark on a runner with at least 2 physical cores (vmstep bench then pins the vCPU to one of its own)',
  };
}

function cacheCheck(dir: string): Check {
  try {
    checkCacheDir(dir);
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    if (free < 2 * 2 ** 30) {
      return { name: 'cache', status: 'warn', detail: `${dir}: only ${formatBytes(free)} free`, fix: 'free disk space or run: vmstep cache prune --max-size 2G' };
    }
    return { name: 'cache', status: 'ok', detail: `${dir} (${formatBytes(free)} free)` };
  } catch (err) {
    if (err instanceof VmstepError) return { name: 'cache', status: 'fail', detail: err.message, fix: err.fix };
    return { name: 'cache', status: 'fail', detail: `${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, fix: 'set VMSTEP_CACHE to a writable directory' };
  }
}
