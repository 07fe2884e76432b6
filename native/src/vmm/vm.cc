#include "vmm/vm.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "arch/boot.h"
#include "arch/cpuid.h"
#include "arch/layout.h"
#include "arch/mptable.h"
#include "arch/regs.h"
#include "util/error.h"
#include "virtio/blk.h"
#include "virtio/overlay.h"
#include "virtio/vsock.h"
#include "vmm/status.h"

namespace vmstep {

namespace {

// vCPU threads are kicked out of KVM_RUN with this signal; its handler does
// nothing, its only effect is the EINTR.
constexpr int kKickSignal = SIGUSR1;
void IgnoreKick(int) {}

// Port 0xcf9, the PCI reset control register: writing bit 2 resets the machine
// (Linux's reboot=pci, and the fallback of other reboot methods).
class ResetControl : public BusDevice {
 public:
  explicit ResetControl(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}
  void Read(uint64_t, uint8_t* data, size_t len) override { std::memset(data, 0, len); }
  void Write(uint64_t, const uint8_t* data, size_t len) override {
    if (len >= 1 && (data[0] & 0x04)) on_reset_();
  }

 private:
  std::function<void()> on_reset_;
};

std::string Hex(uint64_t v) {
  char b[24];
  snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// Opens an image file for the VM: read-only ones with a shared lock (many
// VMs may read one base), writable ones exclusively (two VMs writing one image
// would corrupt it).
UniqueFd OpenImage(const std::string& path, bool read_only, const char* what, uint64_t* size) {
  UniqueFd fd(open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) throw VmmError(std::string(what) + " " + path + " does not exist");
    if (errno == EACCES || errno == EROFS) {
      throw VmmError(std::string("cannot open ") + what + " " + path + (read_only ? "" : " for writing") +
                     ": permission denied (attach it read-only, or fix its permissions)");
    }
    throw SystemError(std::string("cannot open ") + what + " " + path);
  }
  if (flock(fd.get(), (read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    throw VmmError(std::string(what) + " " + path + " is in use by another VM");
  }
  off_t end = lseek(fd.get(), 0, SEEK_END);
  if (end < 0) throw SystemError(std::string("cannot size ") + what + " " + path);
  *size = static_cast<uint64_t>(end);
  return fd;
}

// Every file is opened here, before the jail closes.
std::unique_ptr<Disk> OpenDisk(const DiskConfig& disk) {
  uint64_t size = 0;
  if (disk.overlay.empty()) {
    UniqueFd fd = OpenImage(disk.path, disk.read_only, "disk image", &size);
    return std::make_unique<RawDisk>(fd.release(), size, disk.read_only);
  }
  UniqueFd base = OpenImage(disk.path, true, "base image", &size);
  uint64_t overlay_size = 0;
  UniqueFd overlay = OpenImage(disk.overlay, false, "overlay", &overlay_size);
  return std::make_unique<CowDisk>(base.release(), size, overlay.release(), disk.overlay);
}

}  // namespace

const char* ExitReasonName(ExitReason r) {
  switch (r) {
    case ExitReason::kPoweroff: return "poweroff";
    case ExitReason::kReset: return "reset";
    case ExitReason::kTripleFault: return "triple-fault";
    case ExitReason::kPanic: return "panic";
    case ExitReason::kTimeout: return "timeout";
    case ExitReason::kKilled: return "killed";
    case ExitReason::kError: return "error";
  }
  return "error";
}

Vm::Vm(const VmConfig& config) : config_(config), kvm_(Kvm::Open()) {
  vm_ = std::make_unique<VmFd>(kvm_);
  // Guest memory is registered before anything else exists in the VM: once
  // the in-kernel irqchip exists, each memory slot change waits for an SRCU
  // grace period inside KVM (5 to 8 ms measured on kvm_pvm, the larger part
  // of our start-up); before it, registration takes well under 0.1 ms.
  // Firecracker orders it the same way.
  mem_ = std::make_unique<GuestMemory>(config_.memory_mib << 20);
  uint32_t slot = 0;
  for (const MemoryRegion& r : mem_->regions()) vm_->SetUserMemoryRegion(slot++, r.guest_addr, r.size, r.host);
  // Both must be set before the first vCPU exists; VMX uses them for
  // real-mode emulation, other KVMs ignore them.
  vm_->SetIdentityMapAddr(layout::kIdentityMapAddr);
  vm_->SetTssAddr(layout::kTssAddr);
  vm_->CreateIrqchip();
  vm_->CreatePit();

  {
    UniqueFd kernel(open(config_.kernel.c_str(), O_RDONLY | O_CLOEXEC));
    if (!kernel.valid()) throw SystemError("cannot open the guest kernel " + config_.kernel);
    entry_ = LoadElfKernel(kernel.get(), *mem_).entry;
  }
  WriteBootTables(*mem_);
  WriteMptable(*mem_, config_.vcpus);

  if (!config_.console_log.empty()) {
    console_log_.reset(open(config_.console_log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!console_log_.valid()) throw SystemError("cannot open the console log " + config_.console_log);
    console_.SetLogFd(console_log_.get());
  } else if (config_.console_fd >= 0) {
    console_.SetLogFd(config_.console_fd);
  }

  cmdline_ = config_.cmdline;
  SetupDevices();
  WriteBootParams(*mem_, cmdline_);
  SetupVcpus();

  // Stop signals arrive through the event loop; blocked here, before any
  // thread exists, so that every thread inherits the mask.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  signals_.reset(signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals_.valid()) throw SystemError("signalfd");
  loop_.Add(signals_.get(), EPOLLIN, [this](uint32_t) {
    signalfd_siginfo info{};
    if (read(signals_.get(), &info, sizeof info) == sizeof info) {
      RequestExit(ExitReason::kKilled, std::string("stopped by ") + sigabbrev_np(static_cast<int>(info.ssi_signo)));
    }
  });
  if (config_.timeout_ms > 0) {
    timer_.reset(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!timer_.valid()) throw SystemError("timerfd_create");
    loop_.Add(timer_.get(), EPOLLIN, [this](uint32_t) {
      RequestExit(ExitReason::kTimeout, "the guest ran past its timeout of " + std::to_string(config_.timeout_ms) + " ms");
    });
  }
}

Vm::~Vm() {
  stopping_ = true;
  StopVcpus();
}

void Vm::SetupDevices() {
  serial_irq_ = std::make_unique<IrqLine>(vm_.get(), layout::kSerialIrq);
  serial_ = std::make_unique<Serial>(&console_, serial_irq_.get());
  pio_.Add(layout::kSerialPort, 8, serial_.get());

  i8042_irq_ = std::make_unique<IrqLine>(vm_.get(), 1);
  i8042_ = std::make_unique<I8042>(i8042_irq_.get(), [this] {
    // With panic=N the kernel reboots after a panic: the console tells a
    // panic from an orderly reboot.
    std::string tail = console_.Tail();
    size_t at = tail.rfind("Kernel panic - not syncing");
    if (at != std::string::npos) {
      size_t eol = tail.find('\n', at);
      RequestExit(ExitReason::kPanic, tail.substr(at, eol == std::string::npos ? std::string::npos : eol - at));
    } else {
      RequestExit(ExitReason::kPoweroff, "the guest rebooted through the i8042 reset line (reboot=k): its way to power off");
    }
  });
  pio_.Add(layout::kI8042DataPort, layout::kI8042CommandPort - layout::kI8042DataPort + 1, i8042_.get());
  reset_port_ = std::make_unique<ResetControl>([this] { RequestExit(ExitReason::kReset, "the guest reset through port 0xcf9"); });
  pio_.Add(layout::kResetControlPort, 1, reset_port_.get());

  auto add_virtio = [&](std::unique_ptr<VirtioDevice> device) {
    const size_t index = virtio_devices_.size();
    const uint64_t base = layout::kVirtioMmioStart + index * layout::kVirtioMmioSize;
    const unsigned irq = layout::kVirtioIrqs[index];
    auto transport = std::make_unique<MmioTransport>(device.get(), mem_.get());
    mmio_.Add(base, layout::kVirtioMmioSize, transport.get());
    // Queue notifications straight to the event loop, without a vCPU exit
    // to userspace, where KVM supports it.
    for (unsigned q = 0; q < device->queues().size(); q++) {
      UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!efd.valid() || !vm_->RegisterIoeventfd(efd.get(), base + MmioTransport::kQueueNotifyOffset, 4, q)) continue;
      int fd = efd.get();
      MmioTransport* t = transport.get();
      loop_.Add(fd, EPOLLIN, [fd, t, q](uint32_t) {
        uint64_t v;
        if (read(fd, &v, sizeof v) == sizeof v) t->Notify(q);
      });
      ioeventfds_.push_back(std::move(efd));
    }
    cmdline_ += (cmdline_.empty() ? "" : " ") + MmioTransport::CmdlineEntry(base, irq);
    virtio_devices_.push_back(std::move(device));
    transports_.push_back(std::move(transport));
  };

  for (size_t i = 0; i < config_.disks.size(); i++) {
    std::unique_ptr<Disk> disk = OpenDisk(config_.disks[i]);
    virtio_irqs_.push_back(std::make_unique<IrqLine>(vm_.get(), layout::kVirtioIrqs[virtio_devices_.size()]));
    add_virtio(std::make_unique<BlockDevice>(mem_.get(), virtio_irqs_.back().get(), std::move(disk), config_.disks[i].read_only,
                                             "vmstep" + std::to_string(i)));
  }
  if (!config_.vsock_uds.empty()) {
    virtio_irqs_.push_back(std::make_unique<IrqLine>(vm_.get(), layout::kVirtioIrqs[virtio_devices_.size()]));
    auto vsock = std::make_unique<VsockDevice>(mem_.get(), virtio_irqs_.back().get(), &loop_, config_.vsock_uds, config_.guest_cid);
    vsock->Listen();
    vsock_ = vsock.get();
    add_virtio(std::move(vsock));
  }
}

void Vm::SetupVcpus() {
  const std::vector<kvm_cpuid_entry2> supported = kvm_.SupportedCpuid();
  for (unsigned i = 0; i < config_.vcpus; i++) {
    auto vcpu = vm_->CreateVcpu(i);
    vcpu->OpenStats();
    vcpu->SetCpuid(NormalizeCpuid(supported, i, config_.vcpus));
    SetupBootMsrs(*vcpu);
    SetupFpu(*vcpu);
    SetupLapicLints(*vcpu);
    if (i == 0) {
      SetupLongModeSregs(*vcpu);
      SetupBootRegs(*vcpu, entry_, layout::kZeroPageStart);
    }
    vcpus_.push_back(std::move(vcpu));
  }
}

VmExit Vm::Run(const std::function<void()>& before_guest) {
  struct sigaction sa {};
  sa.sa_handler = IgnoreKick;  // no SA_RESTART: KVM_RUN must return EINTR
  sigaction(kKickSignal, &sa, nullptr);

  // Armed before the jail, which does not allow timerfd_settime.
  if (timer_.valid()) {
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(config_.timeout_ms / 1000);
    its.it_value.tv_nsec = static_cast<long>((config_.timeout_ms % 1000) * 1000000);
    timerfd_settime(timer_.get(), 0, &its, nullptr);
  }
  pin_errors_.assign(vcpus_.size(), "");
  for (auto& vcpu : vcpus_) threads_.emplace_back([this, v = vcpu.get()] { VcpuLoop(v); });
  {
    // The threads' own start-up (glibc registers rseq and robust lists)
    // must be over before the jail, which allows neither.
    std::unique_lock<std::mutex> lock(start_mu_);
    start_cv_.wait(lock, [this] { return threads_waiting_ == vcpus_.size(); });
  }
  if (vsock_) vsock_->muxer().LeaveSocketFile();
  try {
    before_guest();
  } catch (...) {
    stopping_ = true;
    StopVcpus();
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(start_mu_);
    start_ = true;
  }
  start_cv_.notify_all();
  loop_.Run();
  StopVcpus();
  console_.Flush();
  std::lock_guard<std::mutex> lock(exit_mu_);
  VmExit result = exit_;
  // Where a stuck guest was stuck: the first thing to look at.
  if (result.reason == ExitReason::kTimeout && !vcpus_.empty()) {
    try {
      result.detail += " (vCPU 0 was at rip " + Hex(vcpus_[0]->GetRegs().rip) + ")";
      std::string stats = vcpus_[0]->StatsSummary();
      if (!stats.empty()) result.detail += "; vCPU 0 KVM counters: " + stats;
    } catch (const VmmError&) {
    }
  }
  result.console_tail = console_.Tail(4096);
  return result;
}

void Vm::VcpuLoop(Vcpu* vcpu) {
  // Named for ps and /proc (before the jail, which forbids prctl).
  pthread_setname_np(pthread_self(), ("vcpu" + std::to_string(vcpu->index())).c_str());
  // Pinned before the jail too: it allows no sched_setaffinity.
  if (!config_.pin_cpus.empty()) PinVcpuThread(vcpu->index());
  {
    std::unique_lock<std::mutex> lock(start_mu_);
    threads_waiting_++;
    start_cv_.notify_all();
    start_cv_.wait(lock, [this] { return start_ || stopping_.load(); });
  }
  while (!stopping_) {
    int r = vcpu->Run();
    if (r == -EINTR || r == -EAGAIN) continue;
    if (r < 0) {
      RequestExit(ExitReason::kError, "KVM_RUN failed on vCPU " + std::to_string(vcpu->index()) + ": " + std::strerror(-r));
      return;
    }
    if (!HandleExit(vcpu)) return;
  }
}

void Vm::PinVcpuThread(unsigned index) {
  const int cpu = config_.pin_cpus[index];
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int r = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (r == 0) return;
  std::lock_guard<std::mutex> lock(start_mu_);
  pin_errors_[index] = "vCPU " + std::to_string(index) + " on host CPU " + std::to_string(cpu) + ": " + std::strerror(r) +
                       (r == EINVAL ? " (the CPU is offline or outside this process's allowed CPUs)" : "");
}

void Vm::ReportPinning(ReadyStatus* ready) const {
  if (config_.pin_cpus.empty()) return;
  ready->pin_requested = true;
  std::lock_guard<std::mutex> lock(start_mu_);
  for (const std::string& e : pin_errors_) {
    if (!e.empty()) ready->pin_error += (ready->pin_error.empty() ? "" : "; ") + e;
  }
  if (ready->pin_error.empty()) ready->pinned_cpus = config_.pin_cpus;
}

bool Vm::HandleExit(Vcpu* vcpu) {
  kvm_run* run = vcpu->run();
  const std::string which = "vCPU " + std::to_string(vcpu->index());
  switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      uint8_t* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
      for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
        if (run->io.direction == KVM_EXIT_IO_OUT) pio_.Write(run->io.port, data, run->io.size);
        else pio_.Read(run->io.port, data, run->io.size, 0xff);
      }
      return !stopping_;
    }
    case KVM_EXIT_MMIO:
      if (run->mmio.is_write) mmio_.Write(run->mmio.phys_addr, run->mmio.data, run->mmio.len);
      else mmio_.Read(run->mmio.phys_addr, run->mmio.data, run->mmio.len, 0);
      return !stopping_;
    case KVM_EXIT_INTR:
      return true;
    case KVM_EXIT_SHUTDOWN:
      RequestExit(ExitReason::kTripleFault, which + " triple-faulted (an exception the guest could not handle), at rip " +
                                                Hex(vcpu->GetRegs().rip));
      return false;
    case KVM_EXIT_SYSTEM_EVENT:
      switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
          RequestExit(ExitReason::kPoweroff, "the guest powered off");
          break;
        case KVM_SYSTEM_EVENT_RESET:
          RequestExit(ExitReason::kReset, "the guest reset");
          break;
        case KVM_SYSTEM_EVENT_CRASH:
          RequestExit(ExitReason::kPanic, "the guest reported a crash");
          break;
        default:
          RequestExit(ExitReason::kError, "unknown system event " + std::to_string(run->system_event.type));
      }
      return false;
    case KVM_EXIT_INTERNAL_ERROR:
      RequestExit(ExitReason::kError,
                  which + ": KVM could not run the guest's instruction at rip " + Hex(vcpu->GetRegs().rip) +
                      " (KVM internal error, suberror " + std::to_string(run->internal.suberror) +
                      "). If this host's KVM cannot run unmodified guests (vmstep probe says so), use a host with hardware virtualisation");
      return false;
    case KVM_EXIT_FAIL_ENTRY:
      RequestExit(ExitReason::kError, which + ": the CPU refused to enter the guest (hardware reason " +
                                          Hex(run->fail_entry.hardware_entry_failure_reason) + ")");
      return false;
    case KVM_EXIT_HLT:
      RequestExit(ExitReason::kError, which + " halted outside the in-kernel irqchip");
      return false;
    default:
      RequestExit(ExitReason::kError, which + ": unexpected KVM exit " + std::to_string(run->exit_reason));
      return false;
  }
}

void Vm::RequestExit(ExitReason reason, std::string detail) {
  {
    std::lock_guard<std::mutex> lock(exit_mu_);
    if (exited_) return;  // the first reason wins
    exited_ = true;
    exit_.reason = reason;
    exit_.detail = std::move(detail);
  }
  stopping_ = true;
  loop_.Stop();
}

void Vm::StopVcpus() {
  stopping_ = true;
  {
    std::lock_guard<std::mutex> lock(start_mu_);
  }
  start_cv_.notify_all();
  // immediate_exit makes a KVM_RUN that has not started yet return at once;
  // the signal interrupts one that has.
  for (auto& v : vcpus_) v->run()->immediate_exit = 1;
  for (auto& t : threads_) {
    if (t.joinable()) pthread_kill(t.native_handle(), kKickSignal);
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

}  // namespace vmstep
