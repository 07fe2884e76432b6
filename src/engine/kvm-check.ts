// Before the first VM on a host: can its KVM boot an unmodified Linux
// kernel? Some cannot (kvm_pvm, the software hypervisor of some sandboxes,
// faults on the FPU set-up; a guest there never reaches init), and a run
// there must end at once with the reason, not at its timeout. The VMM's
// probe boots a tiny guest (a few ms, tens on slow hosts), so a positive
// answer is remembered for the rest of the host's boot; a negative one is
// asked again each time (it is on a failing path anyway, and the host may
// have been fixed).
import { accessSync, constants, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VmstepError } from './errors.js';
import { kvmAccessProblem } from './kvm-access.js';
import { probeKvm, type KvmProbe } from './vm-port.js';

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

/** Cause and fix when this user may not open `path`; null when it may (or the device is not there). */
export function kvmAccessDenied(path = '/dev/kvm'): { detail: string; fix: string } | null {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? kvmAccessProblem(path) : null;
  }
}

export function checkKvm(cacheDir: string, probe: () => KvmProbe = () => probeKvm(), accessDenied: () => { detail: string; fix: string } | null = () => kvmAccessDenied()): void {
  const id = bootId();
  const file = join(cacheDir, 'kvm-probe.json');
  if (id) {
    try {
      const cached = JSON.parse(readFileSync(file, 'utf8')) as { bootId?: string; canRunLinux?: boolean };
      if (cached.bootId === id && cached.canRunLinux === true) return;
    } catch {
      // No record yet: probe.
    }
  }
  let p: KvmProbe;
  try {
    p = probe();
  } catch {
    // No addon and no VMM to probe with: launching will say what is missing.
    return;
  }
  if (!p.available) {
    // The fix depends on the device's owner, group and mode, which the VMM does not look at.
    const denied = accessDenied();
    if (denied) throw new VmstepError(`permission denied on /dev/kvm (${denied.detail})`, denied.fix);
  }
  if (!p.available || !p.canRunLinux) {
    // The VMM's reason already names the cause and the fix, in its own words.
    const generic = p.available ? "this host's KVM cannot boot a Linux guest" : '/dev/kvm is not usable';
    throw new VmstepError(p.reason.trim() || generic, 'see `vmstep doctor` for the rest of this host');
  }
  if (!id) return;
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ bootId: id, canRunLinux: true, module: p.module }));
    renameSync(tmp, file);
  } catch {
    // A read-only cache only costs a probe per run.
  }
}
