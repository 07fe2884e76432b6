// A thin layer over the KVM ioctls: /dev/kvm, one VM, its vCPUs. Failures
// become VmmError with the ioctl's name; opening /dev/kvm explains the usual
// causes (no KVM at all, no permission) and their fixes in plain words.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/fd.h"

namespace vmstep {

// Plain-language reasons a host cannot run VMs, shared with the probe.
std::string DescribeKvmOpenError(int err);

class Kvm {
 public:
  // Opens /dev/kvm and checks the API version and the capabilities the VMM
  // cannot do without. Throws VmmError with the cause and the fix.
  static Kvm Open(const char* path = "/dev/kvm");

  int fd() const { return fd_.get(); }
  int CheckExtension(int cap) const;
  int VcpuMmapSize() const;
  // KVM_GET_SUPPORTED_CPUID: what this host can offer a guest.
  std::vector<kvm_cpuid_entry2> SupportedCpuid() const;

 private:
  explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

class Vcpu {
 public:
  Vcpu(int fd, int mmap_size, unsigned index);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  int fd() const { return fd_.get(); }
  unsigned index() const { return index_; }
  kvm_run* run() const { return run_; }
  // KVM_RUN; returns 0, or -errno (EINTR when kicked by a signal).
  int Run();

  kvm_regs GetRegs() const;
  void SetRegs(const kvm_regs& regs);
  kvm_sregs GetSregs() const;
  void SetSregs(const kvm_sregs& sregs);
  void SetFpu(const kvm_fpu& fpu);
  void SetCpuid(const std::vector<kvm_cpuid_entry2>& entries);
  void SetMsrs(const std::vector<kvm_msr_entry>& msrs);
  kvm_lapic_state GetLapic() const;
  void SetLapic(const kvm_lapic_state& lapic);
  void SetXcrs(const kvm_xcrs& xcrs);
  // KVM's binary statistics for this vCPU (exit counts...), opened at set-up
  // so that a stuck guest can be described after the jail is in place.
  void OpenStats();
  // The non-zero counters, "name=value ...", or "" without statistics.
  std::string StatsSummary() const;

 private:
  UniqueFd fd_;
  UniqueFd stats_;
  kvm_run* run_ = nullptr;
  int mmap_size_;
  unsigned index_;
};

class VmFd {
 public:
  explicit VmFd(const Kvm& kvm);
  int fd() const { return fd_.get(); }
  void SetUserMemoryRegion(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host);
  void SetTssAddr(uint64_t addr);
  void SetIdentityMapAddr(uint64_t addr);
  void CreateIrqchip();
  void CreatePit();
  std::unique_ptr<Vcpu> CreateVcpu(unsigned index);
  // Raises and lowers a line: an edge, as ISA devices give.
  void PulseIrq(unsigned gsi);
  void SetIrqLine(unsigned gsi, bool level);
  // Both return false when KVM refuses (the caller falls back to exits).
  bool RegisterIrqfd(int eventfd, unsigned gsi);
  bool RegisterIoeventfd(int eventfd, uint64_t addr, uint32_t len, uint64_t datamatch);

 private:
  int vcpu_mmap_size_;
  UniqueFd fd_;
};

}  // namespace vmstep
