// The virtio-mmio transport, version 2 ("modern"; virtio 1.2, 4.2.2): one
// 4 KiB register page per device, declared to Linux on the command line as
// virtio_mmio.device=4K@<base>:<irq>. Queue notifications can bypass it
// through an ioeventfd on the QueueNotify register.
#pragma once
#include <string>

#include "devices/bus.h"
#include "virtio/device.h"

namespace vmstep {

class MmioTransport : public BusDevice {
 public:
  static constexpr uint64_t kQueueNotifyOffset = 0x50;
  MmioTransport(VirtioDevice* device, const GuestMemory* mem) : device_(device), mem_(mem) {}
  void Read(uint64_t offset, uint8_t* data, size_t len) override;
  void Write(uint64_t offset, const uint8_t* data, size_t len) override;
  // A queue notification that arrived through an ioeventfd.
  void Notify(unsigned queue);
  VirtioDevice* device() const { return device_; }

  // "virtio_mmio.device=4K@0x...:irq" for the kernel command line.
  static std::string CmdlineEntry(uint64_t base, unsigned irq);

 private:
  uint32_t ReadRegister(uint64_t offset);
  void WriteRegister(uint64_t offset, uint32_t value);
  void SetStatus(uint32_t status);
  Virtqueue* Selected();

  VirtioDevice* device_;
  const GuestMemory* mem_;
  uint32_t status_ = 0;
  uint32_t device_features_sel_ = 0, driver_features_sel_ = 0;
  uint32_t queue_sel_ = 0;
};

}  // namespace vmstep
