// The Intel MultiProcessor Specification 1.4 table: how a guest without ACPI
// learns its CPUs (one entry per vCPU, APIC id = vCPU index), the I/O APIC
// and the ISA interrupt wiring. Linux reads it with CONFIG_X86_MPPARSE.
#pragma once
#include "memory/guest_memory.h"

namespace vmstep {

// Writes the floating pointer and the configuration table at
// layout::kMptableStart. Throws when vcpu_count is outside 1..limits::kMaxVcpus.
void WriteMptable(const GuestMemory& mem, unsigned vcpu_count);

}  // namespace vmstep
