// Every guest-physical address the VMM uses, in one place. The boot
// structures sit in the first megabyte, below where any kernel loads; the
// device MMIO window sits in the 32-bit hole below 4 GiB, so RAM beyond
// kRamBelow4GEnd continues at 4 GiB.
#pragma once
#include <cstdint>

namespace vmstep::layout {

// Boot GDT and IDT (the kernel replaces both almost at once).
constexpr uint64_t kGdtStart = 0x500;
constexpr uint64_t kIdtStart = 0x520;
// Linux's struct boot_params ("zero page"), passed in RSI.
constexpr uint64_t kZeroPageStart = 0x7000;
// The boot stack grows down from here (below the page tables).
constexpr uint64_t kBootStackPointer = 0x8ff0;
// Identity-mapped boot page tables: PML4, one PDPT, four page directories of
// 2 MiB pages, so that [0, 4 GiB) is mapped: RAM and the MMIO window alike
// (the tiny test guests drive devices before building page tables of their own).
constexpr uint64_t kPml4Start = 0x9000;
constexpr uint64_t kPdptStart = 0xa000;
constexpr uint64_t kPdStart = 0xb000;  // four pages: 0xb000..0xefff
constexpr uint64_t kIdentityMappedBytes = 4ull << 30;
// Kernel command line (Linux reads at most cmdline_size bytes from here).
constexpr uint64_t kCmdlineStart = 0x20000;
constexpr uint64_t kCmdlineMaxBytes = 0x10000;
// The Intel MP table lives in the last KiB of base memory, one of the
// places Linux scans for the "_MP_" floating pointer; reserved in e820 up to 1 MiB.
constexpr uint64_t kMptableStart = 0x9fc00;
constexpr uint64_t kEbdaEnd = 0x100000;
// Kernels and test guests load at or above 1 MiB.
constexpr uint64_t kHighMemoryStart = 0x100000;

// The 32-bit hole: RAM stops here and resumes at 4 GiB.
constexpr uint64_t kRamBelow4GEnd = 0xc0000000;
constexpr uint64_t kRamAbove4GStart = 1ull << 32;
// virtio-mmio devices, one 4 KiB page each, from here up.
constexpr uint64_t kVirtioMmioStart = 0xd0000000;
constexpr uint64_t kVirtioMmioSize = 0x1000;
constexpr unsigned kMaxVirtioDevices = 16;
// Local and I/O APIC (architectural defaults).
constexpr uint64_t kIoapicStart = 0xfec00000;
constexpr uint64_t kLapicStart = 0xfee00000;
// Intel VMX needs three pages for the real-mode TSS and one for the identity
// map; KVM wants them inside the guest-physical space but outside RAM.
constexpr uint64_t kIdentityMapAddr = 0xfeffc000;
constexpr uint64_t kTssAddr = 0xfeffd000;

// Legacy I/O ports.
constexpr uint16_t kSerialPort = 0x3f8;
constexpr unsigned kSerialIrq = 4;
constexpr uint16_t kI8042DataPort = 0x60;
constexpr uint16_t kI8042CommandPort = 0x64;
constexpr uint16_t kResetControlPort = 0xcf9;

// IRQs for virtio-mmio devices: ISA-free lines first, then IOAPIC pins 16-23.
constexpr unsigned kVirtioIrqs[kMaxVirtioDevices] = {5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22};
constexpr unsigned kIoapicPins = 24;

}  // namespace vmstep::layout
