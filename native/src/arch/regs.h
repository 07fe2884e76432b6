// The state a vCPU starts in. The boot vCPU enters the kernel in 64-bit mode
// as the Linux x86 boot protocol asks ("64-bit BOOT PROTOCOL" in
// Documentation/arch/x86/boot.rst): flat __BOOT_CS (0x10) / __BOOT_DS (0x18),
// paging on with an identity map, RSI pointing at boot_params. Secondary
// vCPUs stay in their reset state until the guest wakes them with INIT/SIPI
// through the in-kernel local APIC; they only get MSRs, FPU and LAPIC set-up.
#pragma once
#include <cstdint>

#include "kvm/kvm.h"
#include "memory/guest_memory.h"

namespace vmstep {

// Writes the boot GDT, IDT and identity-mapping page tables into guest memory.
void WriteBootTables(const GuestMemory& mem);
// Long mode, flat segments, paging via the boot page tables.
void SetupLongModeSregs(Vcpu& vcpu);
void SetupBootRegs(Vcpu& vcpu, uint64_t entry, uint64_t boot_params);
void SetupFpu(Vcpu& vcpu);
void SetupBootMsrs(Vcpu& vcpu);
// LINT0 as ExtINT (the PIC's output) and LINT1 as NMI, as on a PC.
void SetupLapicLints(Vcpu& vcpu);

namespace gdt {
constexpr uint16_t kCodeSelector = 0x10;
constexpr uint16_t kDataSelector = 0x18;
constexpr uint16_t kTssSelector = 0x20;
}  // namespace gdt

}  // namespace vmstep
