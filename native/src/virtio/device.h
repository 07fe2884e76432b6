// What a virtio device implements, whatever its transport: its id, features,
// queues, configuration space, and the work to do when the driver notifies
// a queue. One mutex per device serialises the transport (vCPU threads) and
// the device's own I/O (the event loop); everything below runs under it.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "devices/irq.h"
#include "memory/guest_memory.h"
#include "virtio/queue.h"
#include "virtio/virtio_defs.h"

namespace vmstep {

class VirtioDevice {
 public:
  VirtioDevice(const GuestMemory* mem, IrqLine* irq, size_t queue_count) : mem_(mem), irq_(irq), queues_(queue_count) {}
  virtual ~VirtioDevice() = default;

  virtual uint32_t device_id() const = 0;
  virtual uint64_t offered_features() const = 0;
  virtual void ReadConfig(uint64_t offset, uint8_t* data, size_t len) = 0;
  virtual void WriteConfig(uint64_t, const uint8_t*, size_t) {}
  // The driver set DRIVER_OK: queues are configured.
  virtual void Activate() {}
  // The driver wrote 0 to status: forget all state.
  virtual void Reset() {}
  virtual void QueueNotify(unsigned queue) = 0;

  std::mutex& mutex() { return mu_; }
  std::vector<Virtqueue>& queues() { return queues_; }
  uint64_t acked_features = 0;
  std::atomic<uint32_t> interrupt_status{0};
  bool driver_ok = false;

 protected:
  // Tells the driver that used buffers are waiting (unless it opted out).
  void SignalUsed(Virtqueue& q) {
    if (!q.ShouldInterrupt(*mem_)) return;
    interrupt_status.fetch_or(virtio::kInterruptUsedBuffer);
    if (irq_) irq_->Trigger();
  }
  const GuestMemory* mem_;

 private:
  IrqLine* irq_;
  std::mutex mu_;
  std::vector<Virtqueue> queues_;
};

}  // namespace vmstep
