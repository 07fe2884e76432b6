#include "kvm/probe.h"

#include <cpuid.h>
#include <sys/stat.h>

#include <cstring>

#include "arch/cpuid.h"
#include "arch/layout.h"
#include "arch/regs.h"
#include "kvm/kvm.h"
#include "memory/guest_memory.h"
#include "util/error.h"

namespace vmstep {

namespace {

constexpr uint16_t kProgressPort = 0x501;
constexpr uint64_t kCodeAddr = layout::kHighMemoryStart;

// The probe guest, 64-bit code: the FPU-state instructions Linux runs at
// boot, in the forms it uses (REX.W, all XCR0 components), on memory the
// host has never touched (kvm_pvm handles these instructions until they
// fault on a fresh page, then fails to emulate them), each followed by a
// progress report on port 0x501. Assembled from:
//   mov $0x501,%dx; mov $1,%al; out %al,%dx
//   fxsave64 0x400000;  mov $2,%al; out %al,%dx
//   fxrstor64 0x400000; mov $3,%al; out %al,%dx
//   mov $-1,%eax; mov $-1,%edx; xsave64 0x600000;  mov $0x501,%dx; mov $4,%al; out %al,%dx
//   mov $-1,%eax; mov $-1,%edx; xrstor64 0x700000; mov $0x501,%dx; mov $5,%al; out %al,%dx
//   hlt
const uint8_t kProbeCode[] = {
    0x66, 0xba, 0x01, 0x05, 0xb0, 0x01, 0xee, 0x48, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0xb0, 0x02,
    0xee, 0x48, 0x0f, 0xae, 0x0c, 0x25, 0x00, 0x00, 0x40, 0x00, 0xb0, 0x03, 0xee, 0xb8, 0xff, 0xff, 0xff, 0xff,
    0xba, 0xff, 0xff, 0xff, 0xff, 0x48, 0x0f, 0xae, 0x24, 0x25, 0x00, 0x00, 0x60, 0x00, 0x66, 0xba, 0x01, 0x05,
    0xb0, 0x04, 0xee, 0xb8, 0xff, 0xff, 0xff, 0xff, 0xba, 0xff, 0xff, 0xff, 0xff, 0x48, 0x0f, 0xae, 0x2c, 0x25,
    0x00, 0x00, 0x70, 0x00, 0x66, 0xba, 0x01, 0x05, 0xb0, 0x05, 0xee, 0xf4,
};
// Guest RAM: the code page plus the three fresh 2 MiB-aligned operand areas.
constexpr uint64_t kProbeMemory = 8u << 20;
const char* const kProbeSteps[] = {"the first instruction", "FXSAVE", "FXRSTOR", "XSAVE", "XRSTOR"};

constexpr uint64_t kCr4Osfxsr = 1ull << 9, kCr4Osxmmexcpt = 1ull << 10, kCr4Osxsave = 1ull << 18;
constexpr uint32_t kCpuid1EcxXsave = 1u << 26;

std::string KvmModule() {
  struct stat st {};
  for (const char* m : {"kvm_pvm", "kvm_intel", "kvm_amd"}) {
    if (stat((std::string("/sys/module/") + m).c_str(), &st) == 0) return m;
  }
  return "";
}

// Runs the probe guest; returns the last progress value it reported, or -1
// with `failure` set when KVM stopped it.
int RunProbeGuest(const Kvm& kvm, std::string* failure) {
  VmFd vm(kvm);
  vm.SetIdentityMapAddr(layout::kIdentityMapAddr);
  vm.SetTssAddr(layout::kTssAddr);
  GuestMemory mem(kProbeMemory);
  vm.SetUserMemoryRegion(0, 0, mem.size(), mem.regions()[0].host);
  WriteBootTables(mem);
  mem.Write(kCodeAddr, kProbeCode, sizeof kProbeCode);

  auto vcpu = vm.CreateVcpu(0);
  std::vector<kvm_cpuid_entry2> cpuid = NormalizeCpuid(kvm.SupportedCpuid(), 0, 1);
  // Some KVMs (kvm_pvm) cannot hide the host's CPUID from the guest: Linux
  // then uses XSAVE even where KVM's supported CPUID lacks it. Probe it when
  // either says so.
  unsigned a = 0, b = 0, c = 0, d = 0;
  __get_cpuid(1, &a, &b, &c, &d);
  bool has_xsave = (c & kCpuid1EcxXsave) != 0;
  uint64_t xcr0 = 3;
  for (const auto& e : cpuid) {
    if (e.function == 1) has_xsave |= (e.ecx & kCpuid1EcxXsave) != 0;
    // Leaf 0xd.0: the state components XCR0 may enable; Linux enables them all.
    if (e.function == 0xd && e.index == 0) xcr0 = e.eax | (uint64_t(e.edx) << 32);
  }
  vcpu->SetCpuid(cpuid);
  SetupFpu(*vcpu);
  SetupLongModeSregs(*vcpu);
  kvm_sregs s = vcpu->GetSregs();
  s.cr4 |= kCr4Osfxsr | kCr4Osxmmexcpt | (has_xsave ? kCr4Osxsave : 0);
  vcpu->SetSregs(s);
  if (has_xsave) {
    kvm_xcrs xcrs{};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0].xcr = 0;
    xcrs.xcrs[0].value = xcr0 | 3;
    try {
      vcpu->SetXcrs(xcrs);
    } catch (const VmmError&) {
      has_xsave = false;  // a guest could not enable XSAVE here either
    }
  }
  SetupBootRegs(*vcpu, kCodeAddr, 0);

  int progress = 0;
  const int done = has_xsave ? 5 : 3;
  // Straight-line code: a handful of exits at most.
  for (int exits = 0; exits < 16; exits++) {
    int r = vcpu->Run();
    if (r == -EINTR || r == -EAGAIN) continue;
    if (r < 0) {
      *failure = std::string("KVM_RUN failed: ") + std::strerror(-r);
      return -1;
    }
    kvm_run* run = vcpu->run();
    switch (run->exit_reason) {
      case KVM_EXIT_IO:
        if (run->io.port == kProgressPort && run->io.direction == KVM_EXIT_IO_OUT) {
          progress = reinterpret_cast<uint8_t*>(run)[run->io.data_offset];
        }
        if (progress == 3 && !has_xsave) {
          // Without XSAVE in CPUID the guest kernel would not use it either.
          return progress;
        }
        continue;
      case KVM_EXIT_HLT:
        if (progress < done) *failure = "the probe guest stopped early";
        return progress < done ? -1 : progress;
      case KVM_EXIT_INTERNAL_ERROR:
        *failure = kProbeSteps[progress >= 0 && progress < 5 ? progress : 0];
        *failure += " at CPL0 ended in a KVM internal error (emulation failure, suberror " +
                    std::to_string(run->internal.suberror) + ")";
        return -1;
      default:
        *failure = "the probe guest stopped with KVM exit " + std::to_string(run->exit_reason) + " after step " + std::to_string(progress);
        return -1;
    }
  }
  *failure = "the probe guest did not finish";
  return -1;
}

}  // namespace

KvmProbe ProbeKvm(const char* path) {
  KvmProbe p;
  p.module = KvmModule();
  try {
    Kvm kvm = Kvm::Open(path);
    p.available = true;
    p.api_version = KVM_API_VERSION;
    p.irqfd = kvm.CheckExtension(KVM_CAP_IRQFD) > 0;
    p.ioeventfd = kvm.CheckExtension(KVM_CAP_IOEVENTFD) > 0;
    p.max_vcpus = kvm.CheckExtension(KVM_CAP_MAX_VCPUS);
    std::string failure;
    int progress = RunProbeGuest(kvm, &failure);
    if (progress > 0) {
      p.can_run_linux = true;
      p.reason = "KVM runs unmodified guests" + (p.module.empty() ? std::string() : " (" + p.module + ")");
    } else {
      p.reason = "this host's KVM" + (p.module.empty() ? std::string() : " (" + p.module + ")") +
                 " cannot run an unmodified Linux kernel: " + failure +
                 ". Tiny test guests work, but a Linux guest needs a host with hardware virtualisation (VT-x or AMD-V): "
                 "bare metal, or a cloud VM with nested virtualisation enabled";
      if (p.module == "kvm_pvm") p.reason += " (kvm_pvm is a software hypervisor without it)";
    }
  } catch (const VmmError& e) {
    p.reason = e.what();
  }
  return p;
}

}  // namespace vmstep
