// Can this host run vmstep's guests? The VMM's probe opens /dev/kvm, checks
// the API and capabilities, and boots a tiny guest that runs the FPU state
// instructions Linux needs at boot (see native/src/kvm/probe.h): a KVM that
// cannot emulate them (kvm_pvm) runs tiny guests but not Linux.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { addonPath, vmmPath } from './assets.js';

export interface KvmProbe {
  /** /dev/kvm opens and offers what the VMM needs. */
  available: boolean;
  /** The probe guest ran: an unmodified Linux kernel will boot. */
  canRunLinux: boolean;
  /** Why not (cause and fix), or what was found, in plain words. */
  reason: string;
  /** kvm_intel, kvm_amd, kvm_pvm, or '' when unknown. */
  module: string;
}

interface Addon {
  probeKvm(path?: string): KvmProbe & { apiVersion: number; irqfd: boolean; ioeventfd: boolean; maxVcpus: number };
  abiVersion: number;
}

let addon: Addon | null = null;

/** The native addon, loaded once. Throws with the fix when it is missing or broken. */
export function loadAddon(): Addon {
  if (addon) return addon;
  const path = addonPath();
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    throw new Error(`cannot load the vmstep addon ${path}: ${(err as Error).message}; rebuild it (npm run build)`, { cause: err });
  }
  return addon;
}

/**
 * Probes /dev/kvm (or `devicePath`). Uses the addon in-process; where the
 * addon cannot be loaded, asks the VMM executable (`vmstep-vmm --probe`).
 */
export function probeKvm(devicePath = '/dev/kvm'): KvmProbe {
  let viaAddon: Addon | null = null;
  try {
    viaAddon = loadAddon();
  } catch {
    viaAddon = null;
  }
  if (viaAddon) {
    const p = viaAddon.probeKvm(devicePath);
    return { available: p.available, canRunLinux: p.canRunLinux, reason: p.reason, module: p.module };
  }
  if (devicePath !== '/dev/kvm') throw new Error('probing a device other than /dev/kvm needs the addon');
  const res = spawnSync(vmmPath(), ['--probe'], { encoding: 'utf8', timeout: 10_000 });
  const line = res.stdout?.trim().split('\n').pop();
  if (!line) throw new Error(`vmstep-vmm --probe printed nothing (${res.error?.message ?? `exit ${res.status}`}): ${res.stderr?.trim() ?? ''}`);
  const p = JSON.parse(line) as KvmProbe;
  return { available: p.available, canRunLinux: p.canRunLinux, reason: p.reason, module: p.module ?? '' };
}
