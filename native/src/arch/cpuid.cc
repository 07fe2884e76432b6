#include "arch/cpuid.h"

#include <cstdint>

namespace vmstep {

namespace {

// Bits defined in the Intel SDM and AMD APM, volume 3, "CPUID".
constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;
constexpr uint32_t kLeaf1EdxHtt = 1u << 28;
constexpr uint32_t kLeafBTypeSmt = 1;
constexpr uint32_t kLeafBTypeCore = 2;

// Bits needed to number `count` APIC ids.
unsigned IdBits(unsigned count) {
  unsigned bits = 0;
  while ((1u << bits) < count) bits++;
  return bits;
}

}  // namespace

std::vector<kvm_cpuid_entry2> NormalizeCpuid(const std::vector<kvm_cpuid_entry2>& supported, unsigned vcpu_index,
                                             unsigned vcpu_count) {
  std::vector<kvm_cpuid_entry2> out;
  out.reserve(supported.size());
  const uint32_t apic_id = vcpu_index;
  for (kvm_cpuid_entry2 e : supported) {
    switch (e.function) {
      case 0x1:
        e.ebx = (e.ebx & 0x0000ffffu) | (apic_id << 24) | ((vcpu_count & 0xffu) << 16);
        e.ecx |= kLeaf1EcxHypervisor;
        if (vcpu_count > 1) e.edx |= kLeaf1EdxHtt;
        else e.edx &= ~kLeaf1EdxHtt;
        break;
      case 0x4:
        // Cores per package - 1 in EAX[31:26]; each cache is private to a core.
        if ((e.eax & 0x1f) != 0) e.eax = (e.eax & 0x00003fffu) | ((vcpu_count - 1) << 26);
        break;
      case 0xb:
      case 0x1f:
        // Extended topology: level 0 is SMT (one thread per core), level 1 is
        // the core level spanning all vCPUs; further levels are invalid.
        e.edx = apic_id;
        if (e.index == 0) {
          e.eax = 0;
          e.ebx = 1;
          e.ecx = (kLeafBTypeSmt << 8) | 0;
        } else if (e.index == 1) {
          e.eax = IdBits(vcpu_count);
          e.ebx = vcpu_count;
          e.ecx = (kLeafBTypeCore << 8) | 1;
        } else {
          e.eax = 0;
          e.ebx = 0;
          e.ecx = e.index;
        }
        break;
      case 0x80000008:
        // AMD: number of cores - 1 and the APIC id bits they use.
        e.ecx = (e.ecx & ~0xf0ffu) | (IdBits(vcpu_count) << 12) | ((vcpu_count - 1) & 0xffu);
        break;
      case 0x8000001e:
        // AMD: extended APIC id, one thread per compute unit, one node.
        e.eax = apic_id;
        e.ebx = (e.ebx & ~0xffffu) | (apic_id & 0xffu);
        e.ecx = 0;
        break;
      default:
        break;
    }
    out.push_back(e);
  }
  return out;
}

}  // namespace vmstep
