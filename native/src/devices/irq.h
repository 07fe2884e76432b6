// One interrupt line into the in-kernel irqchip. With irqfd a device thread
// raises it with one eventfd write, no ioctl and no vCPU exit; without irqfd
// (older KVMs) it falls back to KVM_IRQ_LINE. Either way the line is pulsed:
// our devices are edge-triggered, like the ISA lines the MP table declares.
#pragma once
#include "kvm/kvm.h"
#include "util/fd.h"

namespace vmstep {

class IrqLine {
 public:
  IrqLine(VmFd* vm, unsigned gsi);
  void Trigger();
  unsigned gsi() const { return gsi_; }

 private:
  VmFd* vm_;
  unsigned gsi_;
  UniqueFd eventfd_;
};

}  // namespace vmstep
