#include "arch/regs.h"

#include <cstring>
#include <vector>

#include "arch/layout.h"
#include "util/error.h"

namespace vmstep {

namespace {

// Control-register and EFER bits (Intel SDM vol. 3, 2.5 and 2.2.1).
constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

// Page-table entry bits.
constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPtePageSize = 1ull << 7;

// MSR numbers (arch/x86/include/asm/msr-index.h).
constexpr uint32_t kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrStar = 0xc0000081, kMsrLstar = 0xc0000082, kMsrCstar = 0xc0000083, kMsrSyscallMask = 0xc0000084;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint64_t kMiscEnableFastString = 1;
constexpr uint32_t kMsrMtrrDefType = 0x2ff;
constexpr uint64_t kMtrrEnable = 1ull << 11;
constexpr uint64_t kMtrrTypeWriteBack = 6;

// LAPIC register offsets and delivery modes (Intel SDM vol. 3, 10.5.1).
constexpr unsigned kApicLvt0 = 0x350;
constexpr unsigned kApicLvt1 = 0x360;
constexpr uint32_t kApicModeNmi = 4;
constexpr uint32_t kApicModeExtInt = 7;

// A GDT descriptor from its fields (Intel SDM vol. 3, 3.4.5).
constexpr uint64_t GdtEntry(uint16_t flags, uint32_t base, uint32_t limit) {
  return ((uint64_t(base) & 0xff000000ull) << 32) | ((uint64_t(flags) & 0xf0ffull) << 40) |
         ((uint64_t(limit) & 0x000f0000ull) << 32) | ((uint64_t(base) & 0x00ffffffull) << 16) | (uint64_t(limit) & 0xffffull);
}

// Index = selector / 8. Entries 0 and 1 are unused so that the selectors
// match the boot protocol's __BOOT_CS and __BOOT_DS.
constexpr uint64_t kGdt[] = {
    0,
    0,
    GdtEntry(0xa09b, 0, 0xfffff),  // 0x10: 64-bit code, present, DPL0, 4 KiB granular
    GdtEntry(0xc093, 0, 0xfffff),  // 0x18: data, read/write
    GdtEntry(0x808b, 0, 0xfffff),  // 0x20: busy 64-bit TSS (KVM insists on a usable TR)
};

kvm_segment SegmentFromGdt(uint64_t entry, uint16_t selector) {
  kvm_segment s{};
  s.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24);
  uint32_t limit = (entry & 0xffff) | (((entry >> 48) & 0xf) << 16);
  s.g = (entry >> 55) & 1;
  s.limit = s.g ? (limit << 12) | 0xfff : limit;
  s.selector = selector;
  s.type = (entry >> 40) & 0xf;
  s.present = (entry >> 47) & 1;
  s.dpl = (entry >> 45) & 3;
  s.db = (entry >> 54) & 1;
  s.s = (entry >> 44) & 1;
  s.l = (entry >> 53) & 1;
  s.avl = (entry >> 52) & 1;
  s.unusable = s.present ? 0 : 1;
  return s;
}

void Put64(const GuestMemory& mem, uint64_t gpa, uint64_t value) {
  if (!mem.Write(gpa, &value, sizeof value)) throw VmmError("guest memory too small for the boot tables");
}

}  // namespace

void WriteBootTables(const GuestMemory& mem) {
  for (size_t i = 0; i < sizeof kGdt / sizeof kGdt[0]; i++) Put64(mem, layout::kGdtStart + i * 8, kGdt[i]);
  Put64(mem, layout::kIdtStart, 0);
  Put64(mem, layout::kPml4Start, layout::kPdptStart | kPtePresent | kPteWritable);
  constexpr uint64_t kGiB = 1ull << 30, k2MiB = 2ull << 20;
  for (uint64_t gib = 0; gib < layout::kIdentityMappedBytes / kGiB; gib++) {
    uint64_t pd = layout::kPdStart + gib * 0x1000;
    Put64(mem, layout::kPdptStart + gib * 8, pd | kPtePresent | kPteWritable);
    for (uint64_t i = 0; i < 512; i++) {
      Put64(mem, pd + i * 8, (gib * kGiB + i * k2MiB) | kPtePresent | kPteWritable | kPtePageSize);
    }
  }
}

void SetupLongModeSregs(Vcpu& vcpu) {
  kvm_sregs s = vcpu.GetSregs();
  s.gdt.base = layout::kGdtStart;
  s.gdt.limit = sizeof kGdt - 1;
  s.idt.base = layout::kIdtStart;
  s.idt.limit = sizeof(uint64_t) - 1;
  s.cs = SegmentFromGdt(kGdt[2], gdt::kCodeSelector);
  kvm_segment data = SegmentFromGdt(kGdt[3], gdt::kDataSelector);
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  s.tr = SegmentFromGdt(kGdt[4], gdt::kTssSelector);
  s.cr3 = layout::kPml4Start;
  s.cr4 |= kCr4Pae;
  s.cr0 |= kCr0Pe | kCr0Et | kCr0Pg;
  s.efer |= kEferLme | kEferLma;
  vcpu.SetSregs(s);
}

void SetupBootRegs(Vcpu& vcpu, uint64_t entry, uint64_t boot_params) {
  kvm_regs r{};
  r.rflags = 0x2;  // bit 1 is reserved and always set
  r.rip = entry;
  r.rsp = layout::kBootStackPointer;
  r.rbp = layout::kBootStackPointer;
  r.rsi = boot_params;
  vcpu.SetRegs(r);
}

void SetupFpu(Vcpu& vcpu) {
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;     // x87 default control word (FNINIT)
  fpu.mxcsr = 0x1f80;  // all SSE exceptions masked
  vcpu.SetFpu(fpu);
}

void SetupBootMsrs(Vcpu& vcpu) {
  std::vector<kvm_msr_entry> msrs;
  auto add = [&](uint32_t index, uint64_t value) {
    kvm_msr_entry e{};
    e.index = index;
    e.data = value;
    msrs.push_back(e);
  };
  for (uint32_t m : {kMsrSysenterCs, kMsrSysenterEsp, kMsrSysenterEip, kMsrStar, kMsrCstar, kMsrKernelGsBase,
                     kMsrSyscallMask, kMsrLstar, kMsrTsc}) {
    add(m, 0);
  }
  add(kMsrMiscEnable, kMiscEnableFastString);
  // All memory write-back unless the guest's MTRRs say otherwise.
  add(kMsrMtrrDefType, kMtrrEnable | kMtrrTypeWriteBack);
  vcpu.SetMsrs(msrs);
}

void SetupLapicLints(Vcpu& vcpu) {
  kvm_lapic_state lapic = vcpu.GetLapic();
  auto set_mode = [&](unsigned reg, uint32_t mode) {
    uint32_t v;
    std::memcpy(&v, &lapic.regs[reg], 4);
    v = (v & ~0x700u) | (mode << 8);
    std::memcpy(&lapic.regs[reg], &v, 4);
  };
  set_mode(kApicLvt0, kApicModeExtInt);
  set_mode(kApicLvt1, kApicModeNmi);
  vcpu.SetLapic(lapic);
}

}  // namespace vmstep
