// CPUID for each vCPU, from what the host's KVM supports: the topology of an
// N-vCPU single-socket machine (one thread per core), the vCPU's APIC id, and
// the hypervisor bit so that the guest knows it runs under KVM.
#pragma once
#include <linux/kvm.h>

#include <vector>

namespace vmstep {

std::vector<kvm_cpuid_entry2> NormalizeCpuid(const std::vector<kvm_cpuid_entry2>& supported, unsigned vcpu_index,
                                             unsigned vcpu_count);

}  // namespace vmstep
