// What the VMM accepts (native/src/vmm/limits.h holds the same numbers for
// vmstep-vmm; test/unit/vmm-limits.test.ts checks that both say the same).
export const VMM_LIMITS = {
  maxVcpus: 32,
  minMemoryMiB: 32,
  maxMemoryMiB: 2 ** 20,
  maxDisks: 15,
} as const;
