// SMP start-up: the boot vCPU wakes every other vCPU listed in the MP table
// with INIT-SIPI-SIPI through the in-kernel local APIC; each comes up in real
// mode at the trampoline, reaches long mode and checks in, and CPUID's APIC
// id matches its local APIC's.
import { beforeAll, expect, test } from 'vitest';
import { nativeBuild, runTestGuest } from './vm-helpers.js';

beforeAll(async () => {
  await nativeBuild();
}, 600_000);

test.each([1, 2, 4, 8, 32])('with %i vCPUs, every secondary vCPU starts and reports its own APIC id', async (vcpus) => {
  const exit = await runTestGuest({ test: 'smp', vcpus, timeoutMs: 50_000 });
  expect(exit.reason).toBe('poweroff');
  expect(exit.consoleTail).toContain(`MPTABLE_CPUS ${vcpus}`);
  expect(exit.consoleTail).toContain(`SMP CPUS_UP ${vcpus} OF ${vcpus}`);
  const ups = [...exit.consoleTail.matchAll(/AP UP apic=(\d+) cpuid_apic=(\d+)/g)];
  expect(ups.length).toBe(vcpus - 1);
  for (const [, apic, cpuidApic] of ups) expect(apic).toBe(cpuidApic);
  expect(new Set(ups.map((m) => m[1])).size).toBe(vcpus - 1);
});
