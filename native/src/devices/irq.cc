#include "devices/irq.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace vmstep {

IrqLine::IrqLine(VmFd* vm, unsigned gsi) : vm_(vm), gsi_(gsi) {
  if (!vm_) return;  // tests and the fuzzer: interrupts go nowhere
  UniqueFd efd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (efd.valid() && vm_->RegisterIrqfd(efd.get(), gsi)) eventfd_ = std::move(efd);
}

void IrqLine::Trigger() {
  if (eventfd_.valid()) {
    uint64_t one = 1;
    // EAGAIN means the counter is saturated: an interrupt is pending anyway.
    (void)!write(eventfd_.get(), &one, sizeof one);
  } else if (vm_) {
    vm_->PulseIrq(gsi_);
  }
}

}  // namespace vmstep
