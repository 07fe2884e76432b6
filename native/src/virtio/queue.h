// The split virtqueue (virtio 1.2, 2.7), written once for every device. All
// of it is guest-controlled memory: the ring addresses, every descriptor, the
// indices. Each descriptor is read once into a local copy (the guest may
// change it under us), every range is checked against guest RAM, a chain is
// at most `size` descriptors long (so loops end), and a queue whose driver
// breaks the rules stops being processed instead of hurting the host.
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace vmstep {

struct ChainSegment {
  uint64_t gpa;
  uint32_t len;
  bool writable;
};

// One request: a chain of device-readable then device-writable buffers.
struct DescriptorChain {
  uint16_t head = 0;
  std::vector<ChainSegment> segments;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;

  // Copy out of the readable part / into the writable part, starting `offset`
  // bytes in. Return the number of bytes copied (short at the end).
  uint64_t Read(const GuestMemory& mem, uint64_t offset, void* out, uint64_t len) const;
  uint64_t Write(const GuestMemory& mem, uint64_t offset, const void* data, uint64_t len) const;
  // Host iovecs for a byte range of the readable or writable part.
  std::vector<iovec> Iovecs(const GuestMemory& mem, bool writable, uint64_t offset, uint64_t len) const;
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 256;

  enum class PopResult { kChain, kEmpty, kBadChain };

  // Transport-visible configuration, written by the driver.
  uint16_t size = kMaxSize;
  bool ready = false;
  uint64_t desc_addr = 0, avail_addr = 0, used_addr = 0;

  // Checks the configuration when the driver marks the queue ready.
  bool Activate(const GuestMemory& mem);
  void Reset();
  bool active() const { return active_; }
  bool broken() const { return broken_; }

  // kBadChain: the chain was malformed; it has been consumed and its head is
  // in chain->head, so the device can return it with length 0.
  PopResult Pop(const GuestMemory& mem, DescriptorChain* chain);
  // Whether a chain is waiting, without consuming it.
  bool HasAvailable(const GuestMemory& mem);
  // Puts back the chain the last Pop() returned, unused (a device that
  // found nothing to put in it after all).
  void UndoPop() { next_avail_--; }
  void PushUsed(const GuestMemory& mem, uint16_t head, uint32_t len);
  // False when the driver asked not to be interrupted.
  bool ShouldInterrupt(const GuestMemory& mem) const;

 private:
  bool ReadAvailIdx(const GuestMemory& mem, uint16_t* idx) const;
  bool active_ = false;
  bool broken_ = false;
  uint16_t next_avail_ = 0;
  uint16_t next_used_ = 0;
};

}  // namespace vmstep
