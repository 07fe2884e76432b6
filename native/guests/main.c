/* One freestanding guest for every KVM device test; the command line picks
   the test: vmstep.test=NAME. Each test reports on the serial console, in
   lines the host-side test (test/kvm/) checks, and ends the VM itself. */
#include "lib.h"
#include "tests.h"

static void test_hello(void) { print("HELLO FROM GUEST\n"); }

static void test_bootinfo(void) {
  const u8 *bp = boot_params;
  print("BOOT_PARAMS %x\n", (u64)bp);
  print("BOOT_FLAG %x\n", (u64)*(const u16 *)(bp + 0x1fe));
  print("HEADER %x\n", (u64)*(const u32 *)(bp + 0x202));
  print("LOADER %x\n", (u64)bp[0x210]);
  print("CMDLINE_SIZE %d\n", (u64)*(const u32 *)(bp + 0x238));
  print("CMDLINE [%s]\n", cmdline());
  u8 n = bp[0x1e8];
  print("E820_ENTRIES %d\n", (u64)n);
  for (u8 i = 0; i < n; i++) {
    const u8 *e = bp + 0x2d0 + 20 * i;
    print("E820 %x %x %d\n", *(const u64 *)e, *(const u64 *)(e + 8), (u64) * (const u32 *)(e + 16));
  }
  u32 a, b, c, d;
  cpuid(1, 0, &a, &b, &c, &d);
  print("CPUID_HYPERVISOR %d\n", (u64)(c >> 31));
  print("CPUID_APIC_ID %d\n", (u64)(b >> 24));
  cpuid(0x40000000, 0, &a, &b, &c, &d);
  char sig[13];
  memcpy(sig, &b, 4); memcpy(sig + 4, &c, 4); memcpy(sig + 8, &d, 4); sig[12] = 0;
  print("CPUID_HV_SIGNATURE %s\n", sig);
  print("MPTABLE_CPUS %d\n", (u64)mptable_cpus(0, 0));
}

static void test_triple_fault(void) {
  print("TRIPLE FAULT NEXT\n");
  struct { u16 limit; u64 base; } __attribute__((packed)) empty = {0, 0};
  __asm__ volatile("lidt %0; ud2" ::"m"(empty));
}

static void test_panic(void) {
  print("Kernel panic - not syncing: vmstep test guest panics on purpose\n");
  print("Rebooting in 1 seconds..\n");
}

static void test_hang(void) {
  print("HANGING\n");
  for (;;) __asm__ volatile("cli; hlt");
}

static void test_cf9(void) {
  print("RESET THROUGH 0xCF9\n");
  outb(0xcf9, 0x06);
  for (;;) __asm__ volatile("cli; hlt");
}

static void test_spin(void) {
  print("SPINNING\n");
  for (;;) cpu_relax();
}

void guest_main(const u8 *bp) {
  boot_params = bp;
  char name[32];
  if (!cmdline_get("vmstep.test", name, sizeof name)) name[0] = 0;
  print("GUEST START test=%s\n", name);
  struct { const char *name; void (*fn)(void); } tests[] = {
      {"hello", test_hello}, {"bootinfo", test_bootinfo}, {"triple-fault", test_triple_fault},
      {"panic", test_panic}, {"hang", test_hang}, {"spin", test_spin}, {"cf9", test_cf9},
      {"blk", test_blk}, {"blkcow", test_blkcow}, {"irq", test_irq}, {"smp", test_smp}, {"vsock", test_vsock}, {"vsockflood", test_vsockflood},
  };
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    if (strlen(name) == strlen(tests[i].name) && memcmp(name, tests[i].name, strlen(name)) == 0) {
      tests[i].fn();
      print("GUEST DONE\n");
      return; /* _start powers off */
    }
  }
  print("UNKNOWN TEST %s\n", name);
}
