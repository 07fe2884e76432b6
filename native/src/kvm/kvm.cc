#include "kvm/kvm.h"

#include <fcntl.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/error.h"

namespace vmstep {

namespace {

// The name of the user running us, for the kvm-group fix. From the
// environment: the static VMM cannot use NSS (getpwuid).
std::string UserName() {
  for (const char* var : {"USER", "LOGNAME"}) {
    const char* v = getenv(var);
    if (v && *v) return v;
  }
  return "$USER";
}

int Ioctl(int fd, unsigned long request, const char* name, const void* arg) {
  int r = ioctl(fd, request, arg);
  if (r < 0) throw SystemError(name);
  return r;
}

// Debian 12's <linux/kvm.h> declares the flexible arrays of kvm_cpuid2 and
// kvm_msrs with __DECLARE_FLEX_ARRAY, which C++ compiles to a different size
// and entry offset than the kernel's. These structs are therefore built by
// hand: a 32-bit count, 32 bits of padding, then the entries at offset 8,
// and the ioctl numbers carry the kernel's 8-byte size.
constexpr size_t kFlexHeader = 8;
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, kFlexHeader);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, kFlexHeader);
constexpr unsigned long kSetMsrs = _IOC(_IOC_WRITE, KVMIO, 0x89, kFlexHeader);

template <typename Entry>
std::vector<uint8_t> FlexBuffer(uint32_t count, const Entry* entries) {
  std::vector<uint8_t> buf(kFlexHeader + size_t(count) * sizeof(Entry));
  std::memcpy(buf.data(), &count, 4);
  if (entries) std::memcpy(buf.data() + kFlexHeader, entries, size_t(count) * sizeof(Entry));
  return buf;
}

}  // namespace

std::string DescribeKvmOpenError(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return "no /dev/kvm: this machine does not offer KVM. On bare metal, enable VT-x or AMD-V in the firmware and "
             "load the module (sudo modprobe kvm_intel, or kvm_amd); on a cloud VM, pick an instance type with nested "
             "virtualisation enabled";
    case EACCES:
    case EPERM:
      return "permission denied on /dev/kvm: add the user to the kvm group (sudo usermod -aG kvm " + UserName() +
             ") and log in again (for a GitHub runner, restart the runner service)";
    default:
      return std::string("cannot open /dev/kvm: ") + std::strerror(err);
  }
}

Kvm Kvm::Open(const char* path) {
  UniqueFd fd(open(path, O_RDWR | O_CLOEXEC));
  if (!fd.valid()) throw VmmError(DescribeKvmOpenError(errno));
  int version = ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    throw VmmError("/dev/kvm speaks KVM API version " + std::to_string(version) + ", this VMM needs " +
                   std::to_string(KVM_API_VERSION) + ": the host kernel is too old or not Linux's KVM");
  }
  Kvm kvm(std::move(fd));
  struct Needed {
    int cap;
    const char* what;
  };
  for (const Needed& n : {Needed{KVM_CAP_USER_MEMORY, "user memory regions"}, Needed{KVM_CAP_IRQCHIP, "an in-kernel interrupt controller"},
                          Needed{KVM_CAP_PIT2, "an in-kernel PIT"}, Needed{KVM_CAP_EXT_CPUID, "KVM_GET_SUPPORTED_CPUID"},
                          Needed{KVM_CAP_IMMEDIATE_EXIT, "immediate exit"}}) {
    if (kvm.CheckExtension(n.cap) <= 0) {
      throw VmmError(std::string("this host's KVM lacks ") + n.what + ", which the VMM needs: use a Linux host kernel 4.14 or newer");
    }
  }
  return kvm;
}

int Kvm::CheckExtension(int cap) const { return ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap); }

int Kvm::VcpuMmapSize() const { return Ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE", nullptr); }

std::vector<kvm_cpuid_entry2> Kvm::SupportedCpuid() const {
  // KVM says E2BIG until the buffer is large enough.
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf = FlexBuffer<kvm_cpuid_entry2>(n, nullptr);
    if (ioctl(fd_.get(), kGetSupportedCpuid, buf.data()) == 0) {
      uint32_t got;
      std::memcpy(&got, buf.data(), 4);
      std::vector<kvm_cpuid_entry2> out(std::min(got, n));
      std::memcpy(out.data(), buf.data() + kFlexHeader, out.size() * sizeof(kvm_cpuid_entry2));
      return out;
    }
    if (errno != E2BIG) throw SystemError("KVM_GET_SUPPORTED_CPUID");
  }
  throw VmmError("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

VmFd::VmFd(const Kvm& kvm) : vcpu_mmap_size_(kvm.VcpuMmapSize()) {
  int fd;
  // KVM_CREATE_VM can fail with EINTR while the kernel sets up the VM.
  do fd = ioctl(kvm.fd(), KVM_CREATE_VM, 0);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) throw SystemError("KVM_CREATE_VM");
  fd_.reset(fd);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void VmFd::SetUserMemoryRegion(uint32_t slot, uint64_t guest_addr, uint64_t size, void* host) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = guest_addr;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  Ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", &region);
}

void VmFd::SetTssAddr(uint64_t addr) {
  if (ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr)) < 0) throw SystemError("KVM_SET_TSS_ADDR");
}

void VmFd::SetIdentityMapAddr(uint64_t addr) { Ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", &addr); }

void VmFd::CreateIrqchip() { Ioctl(fd_.get(), KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP", nullptr); }

void VmFd::CreatePit() {
  kvm_pit_config config{};
  // No PC speaker port: nothing in the guest needs one.
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  Ioctl(fd_.get(), KVM_CREATE_PIT2, "KVM_CREATE_PIT2", &config);
}

std::unique_ptr<Vcpu> VmFd::CreateVcpu(unsigned index) {
  int fd = ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(index));
  if (fd < 0) throw SystemError("KVM_CREATE_VCPU " + std::to_string(index));
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  return std::make_unique<Vcpu>(fd, vcpu_mmap_size_, index);
}

void VmFd::SetIrqLine(unsigned gsi, bool level) {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  Ioctl(fd_.get(), KVM_IRQ_LINE, "KVM_IRQ_LINE", &irq);
}

void VmFd::PulseIrq(unsigned gsi) {
  SetIrqLine(gsi, true);
  SetIrqLine(gsi, false);
}

bool VmFd::RegisterIrqfd(int eventfd, unsigned gsi) {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  return ioctl(fd_.get(), KVM_IRQFD, &irqfd) == 0;
}

bool VmFd::RegisterIoeventfd(int eventfd, uint64_t addr, uint32_t len, uint64_t datamatch) {
  kvm_ioeventfd io{};
  io.addr = addr;
  io.len = len;
  io.fd = eventfd;
  io.datamatch = datamatch;
  io.flags = KVM_IOEVENTFD_FLAG_DATAMATCH;
  return ioctl(fd_.get(), KVM_IOEVENTFD, &io) == 0;
}

Vcpu::Vcpu(int fd, int mmap_size, unsigned index) : fd_(fd), mmap_size_(mmap_size), index_(index) {
  void* p = mmap(nullptr, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw SystemError("mmap of vCPU " + std::to_string(index) + " run area");
  run_ = static_cast<kvm_run*>(p);
}

Vcpu::~Vcpu() {
  if (run_) munmap(run_, mmap_size_);
}

int Vcpu::Run() { return ioctl(fd_.get(), KVM_RUN, 0) < 0 ? -errno : 0; }

kvm_regs Vcpu::GetRegs() const {
  kvm_regs r{};
  Ioctl(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS", &r);
  return r;
}
void Vcpu::SetRegs(const kvm_regs& regs) { Ioctl(fd_.get(), KVM_SET_REGS, "KVM_SET_REGS", &regs); }
kvm_sregs Vcpu::GetSregs() const {
  kvm_sregs s{};
  Ioctl(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS", &s);
  return s;
}
void Vcpu::SetSregs(const kvm_sregs& sregs) { Ioctl(fd_.get(), KVM_SET_SREGS, "KVM_SET_SREGS", &sregs); }
void Vcpu::SetFpu(const kvm_fpu& fpu) { Ioctl(fd_.get(), KVM_SET_FPU, "KVM_SET_FPU", &fpu); }

void Vcpu::SetCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  std::vector<uint8_t> buf = FlexBuffer(static_cast<uint32_t>(entries.size()), entries.data());
  Ioctl(fd_.get(), kSetCpuid2, "KVM_SET_CPUID2", buf.data());
}

void Vcpu::SetMsrs(const std::vector<kvm_msr_entry>& msrs) {
  std::vector<uint8_t> buf = FlexBuffer(static_cast<uint32_t>(msrs.size()), msrs.data());
  int set = Ioctl(fd_.get(), kSetMsrs, "KVM_SET_MSRS", buf.data());
  if (set != static_cast<int>(msrs.size())) {
    throw VmmError("KVM_SET_MSRS: KVM refused MSR 0x" + [&] {
      char hex[16];
      snprintf(hex, sizeof hex, "%x", msrs[set].index);
      return std::string(hex);
    }());
  }
}

void Vcpu::OpenStats() {
  int fd = ioctl(fd_.get(), KVM_GET_STATS_FD, nullptr);
  if (fd >= 0) stats_.reset(fd);
}

std::string Vcpu::StatsSummary() const {
  if (!stats_.valid()) return "";
  kvm_stats_header h{};
  if (pread(stats_.get(), &h, sizeof h, 0) != sizeof h || h.num_desc > 1024 || h.name_size > 256) return "";
  // Each descriptor: the fixed fields (16 bytes, see kvm_stats_desc), then the name.
  const size_t desc_size = 16 + h.name_size;
  std::vector<uint8_t> descs(h.num_desc * desc_size);
  if (pread(stats_.get(), descs.data(), descs.size(), h.desc_offset) != static_cast<ssize_t>(descs.size())) return "";
  std::string out;
  for (uint32_t i = 0; i < h.num_desc; i++) {
    const uint8_t* d = &descs[i * desc_size];
    uint16_t size;
    uint32_t offset;
    std::memcpy(&size, d + 6, 2);
    std::memcpy(&offset, d + 8, 4);
    if (size != 1) continue;
    uint64_t value = 0;
    if (pread(stats_.get(), &value, 8, h.data_offset + offset) != 8 || value == 0) continue;
    std::string name(reinterpret_cast<const char*>(d + 16), strnlen(reinterpret_cast<const char*>(d + 16), h.name_size));
    out += (out.empty() ? "" : " ") + name + "=" + std::to_string(value);
  }
  return out;
}

kvm_lapic_state Vcpu::GetLapic() const {
  kvm_lapic_state s{};
  Ioctl(fd_.get(), KVM_GET_LAPIC, "KVM_GET_LAPIC", &s);
  return s;
}
void Vcpu::SetLapic(const kvm_lapic_state& lapic) { Ioctl(fd_.get(), KVM_SET_LAPIC, "KVM_SET_LAPIC", &lapic); }
void Vcpu::SetXcrs(const kvm_xcrs& xcrs) { Ioctl(fd_.get(), KVM_SET_XCRS, "KVM_SET_XCRS", &xcrs); }

}  // namespace vmstep
