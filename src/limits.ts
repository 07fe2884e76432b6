// The limits of a run, written once. engine/validate.ts holds the user's
// values to them (and names them in its errors), vm/launch.ts holds every
// launch to them, test/unit/limits.test.ts checks that action.yml and the
// README say the same numbers, and the VMM's own argument checks
// (native/src/vmm/limits.h, checked against this file by
// test/unit/vmm-limits.test.ts) refuse anything outside them.
export const LIMITS = {
  /** The VMM describes the CPUs in an MP table; beyond 32 nobody benchmarks in a microVM. */
  maxVcpus: 32,
  /** The guest kernel with guest init needs this much to boot and run a command. */
  minMemoryMiB: 32,
  /** The most guest memory the VMM maps (1 TiB); the host's own memory is the real bound. */
  maxMemoryMiB: 2 ** 20,
  /** The default, or half the host's memory when that is less. */
  defaultMemoryMiB: 1024,
  /** The root disk must hold the image plus ext4's own metadata. */
  minDiskBytes: 16 * 2 ** 20,
  /** virtio-mmio slots the VMM gives to disks. */
  maxDisks: 15,
} as const;
