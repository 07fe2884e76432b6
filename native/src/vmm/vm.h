// One microVM from set-up to teardown: guest memory, the KVM VM and its
// vCPUs, the devices, the boot state, then the run: vCPU threads plus the
// event loop on the calling thread, until the first exit reason (power-off,
// reset, triple fault, panic, timeout, stop signal, error) ends it.
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "devices/bus.h"
#include "devices/console.h"
#include "devices/i8042.h"
#include "devices/irq.h"
#include "devices/serial.h"
#include "kvm/kvm.h"
#include "memory/guest_memory.h"
#include "virtio/mmio.h"
#include "vmm/config.h"
#include "vmm/event_loop.h"
#include "vmm/status.h"

namespace vmstep {

class VsockDevice;

enum class ExitReason { kPoweroff, kReset, kTripleFault, kPanic, kTimeout, kKilled, kError };
const char* ExitReasonName(ExitReason r);

struct VmExit {
  ExitReason reason;
  std::string detail;
  std::string console_tail;
};

class Vm {
 public:
  // Opens every file the VM needs and builds the machine; nothing runs yet.
  explicit Vm(const VmConfig& config);
  ~Vm();

  // Runs the guest. `before_guest` runs after the vCPU threads exist and
  // before any guest instruction: the place to enter the jail.
  VmExit Run(const std::function<void()>& before_guest);

  // The full kernel command line (for tests and the debug log).
  const std::string& cmdline() const { return cmdline_; }

  // With --pin-cpus, for the ready status line once the vCPU threads exist:
  // the CPUs when every thread was pinned, else why not (the guest then runs
  // unpinned); nothing without --pin-cpus.
  void ReportPinning(ReadyStatus* ready) const;

 private:
  void SetupDevices();
  void SetupVcpus();
  void VcpuLoop(Vcpu* vcpu);
  void PinVcpuThread(unsigned index);
  bool HandleExit(Vcpu* vcpu);
  void RequestExit(ExitReason reason, std::string detail);
  void StopVcpus();

  VmConfig config_;
  Kvm kvm_;
  std::unique_ptr<VmFd> vm_;
  std::unique_ptr<GuestMemory> mem_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::thread> threads_;
  EventLoop loop_;
  Bus pio_, mmio_;

  UniqueFd console_log_;
  ConsoleSink console_;
  std::unique_ptr<IrqLine> serial_irq_, i8042_irq_;
  std::unique_ptr<Serial> serial_;
  std::unique_ptr<I8042> i8042_;
  std::vector<std::unique_ptr<IrqLine>> virtio_irqs_;
  std::vector<std::unique_ptr<VirtioDevice>> virtio_devices_;
  std::vector<std::unique_ptr<MmioTransport>> transports_;
  std::vector<UniqueFd> ioeventfds_;
  VsockDevice* vsock_ = nullptr;
  std::unique_ptr<BusDevice> reset_port_;
  UniqueFd timer_, signals_;

  std::string cmdline_;
  uint64_t entry_ = 0;

  std::mutex exit_mu_;
  bool exited_ = false;
  VmExit exit_{ExitReason::kError, "", ""};
  std::atomic<bool> stopping_{false};
  // vCPU threads wait here until the jail is in place.
  mutable std::mutex start_mu_;
  std::condition_variable start_cv_;
  bool start_ = false;
  size_t threads_waiting_ = 0;
  // Set by each vCPU thread before it counts itself waiting (under start_mu_).
  std::vector<std::string> pin_errors_;
};

}  // namespace vmstep
