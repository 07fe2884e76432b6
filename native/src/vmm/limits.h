// What the VMM accepts, in one place. src/vm/limits.ts holds the same numbers
// for the TypeScript side (launch options, users' inputs);
// test/unit/vmm-limits.test.ts reads this file and checks that they agree.
#pragma once
#include <cstdint>

#include "arch/layout.h"

namespace vmstep::limits {

// APIC ids 0..31 in the MP table, and what the guest kernel is built for.
constexpr unsigned kMaxVcpus = 32;
// Below this a Linux guest with our init does not get far enough to say why.
constexpr uint64_t kMinMemoryMiB = 32;
constexpr uint64_t kMaxMemoryMiB = 1u << 20;
// One virtio-mmio slot is kept for vsock.
constexpr unsigned kMaxDisks = layout::kMaxVirtioDevices - 1;

}  // namespace vmstep::limits
