// @ts-check
// Can this host's /dev/kvm run an unmodified Linux kernel? The VMM's own probe
// (a tiny guest that uses the FPU at CPL0) answers exactly once the addon is
// built; before that, hardware virtualisation flags tell: kvm_pvm, the
// software hypervisor some sandboxes provide, has neither vmx nor svm.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** @param {string | null} nativeDir @returns {{ hasKvm: boolean, canRunLinux: boolean, reason: string }} */
export function probeHostKvm(nativeDir) {
  if (!existsSync('/dev/kvm')) return { hasKvm: false, canRunLinux: false, reason: 'no /dev/kvm' };
  const addon = nativeDir ? join(nativeDir, 'vmstep.node') : null;
  if (addon && existsSync(addon)) {
    try {
      const probe = createRequire(import.meta.url)(addon).probeKvm?.();
      if (probe && typeof probe.canRunLinux === 'boolean') {
        return { hasKvm: Boolean(probe.available), canRunLinux: probe.canRunLinux, reason: String(probe.reason ?? '') };
      }
    } catch {
      // Fall through to the CPU flags: the probe failing is itself a reason to be careful.
    }
  }
  const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m)?.[1] ?? '';
  const hw = /\b(vmx|svm)\b/.test(flags);
  if (existsSync('/sys/module/kvm_pvm')) return { hasKvm: true, canRunLinux: false, reason: 'this /dev/kvm is kvm_pvm, a software hypervisor that cannot run an unmodified kernel' };
  return hw
    ? { hasKvm: true, canRunLinux: true, reason: 'hardware virtualisation (vmx/svm)' }
    : { hasKvm: true, canRunLinux: false, reason: 'the CPU shows no vmx or svm flag' };
}
