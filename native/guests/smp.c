/* SMP start-up: find the CPUs in the MP table, wake each AP with
   INIT-SIPI-SIPI, and wait for all of them to check in from long mode. */
#include "tests.h"

extern u8 trampoline_image[], trampoline_start[], trampoline_end[];
static volatile u32 aps_up;

int mptable_cpus(u8 *ids, int max) {
  const u8 *fp = 0;
  for (u64 a = 0x9fc00; a < 0xa0000; a += 16) {
    if (memcmp((const void *)a, "_MP_", 4) == 0) { fp = (const u8 *)a; break; }
  }
  if (!fp) return -1;
  u8 sum = 0;
  for (int i = 0; i < 16; i++) sum += fp[i];
  if (sum) return -2;
  const u8 *t = (const u8 *)(u64) * (const u32 *)(fp + 4);
  if (memcmp(t, "PCMP", 4) != 0) return -3;
  u16 len = *(const u16 *)(t + 4), count = *(const u16 *)(t + 34);
  sum = 0;
  for (u16 i = 0; i < len; i++) sum += t[i];
  if (sum) return -4;
  const u8 *e = t + 44;
  int cpus = 0;
  for (u16 i = 0; i < count; i++) {
    if (e[0] == 0) {
      if ((e[3] & 1) && cpus < max && ids) ids[cpus] = e[1];
      if (e[3] & 1) cpus++;
      e += 20;
    } else {
      e += 8;
    }
  }
  return cpus;
}

void ap_main(void) {
  u32 a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  print("AP UP apic=%d cpuid_apic=%d\n", (u64)lapic_id(), (u64)(b >> 24));
  __atomic_fetch_add(&aps_up, 1, __ATOMIC_SEQ_CST);
}

void test_smp(void) {
  u8 ids[32];
  int n = mptable_cpus(ids, 32);
  print("MPTABLE_CPUS %d\n", (u64)n);
  if (n < 1) return;
  memcpy(trampoline_start, trampoline_image, (size_t)(trampoline_end - trampoline_start));
  lapic_enable();
  u32 self = lapic_id();
  for (int i = 0; i < n; i++) {
    if (ids[i] == self) continue;
    lapic_send_ipi(ids[i], 0x4500);  /* INIT */
    lapic_send_ipi(ids[i], 0x4600 | ((u64)trampoline_start >> 12));  /* SIPI */
  }
  for (u64 spins = 0; aps_up < (u32)(n - 1) && spins < 10000000ull; spins++) cpu_relax();
  print("SMP CPUS_UP %d OF %d\n", (u64)aps_up + 1, (u64)n);
}
