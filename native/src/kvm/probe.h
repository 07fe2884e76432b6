// Can this host run our guests? Opening /dev/kvm answers "is there KVM at
// all"; whether it runs an *unmodified* kernel only a guest can tell. Some
// KVMs (kvm_pvm, a software hypervisor found in some sandboxes) run tiny
// guests but fail on the FPU state instructions (FXSAVE, FXRSTOR, XSAVE, XRSTOR) that Linux
// executes at CPL0 during boot. The probe boots a 90-byte guest that runs
// exactly those, in the long mode the real kernel starts in.
#pragma once
#include <string>

namespace vmstep {

struct KvmProbe {
  bool available = false;      // /dev/kvm opens and has what the VMM needs
  bool can_run_linux = false;  // the FPU probe guest ran to its end
  std::string reason;          // why not, or what was found, in plain words
  int api_version = 0;
  bool irqfd = false;
  bool ioeventfd = false;
  int max_vcpus = 0;
  std::string module;          // kvm_intel, kvm_amd, kvm_pvm, or "" when unknown
};

KvmProbe ProbeKvm(const char* path = "/dev/kvm");

}  // namespace vmstep
