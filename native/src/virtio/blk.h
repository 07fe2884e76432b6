// virtio-blk (virtio 1.2, 5.2) over a raw disk image: read, write, flush and
// get-id, optionally read-only. Requests are served synchronously straight
// between the file and guest memory (preadv/pwritev into the chain's
// buffers), with every sector range checked against the disk's size.
#pragma once
#include <string>

#include "virtio/device.h"

namespace vmstep {

class BlockDevice : public VirtioDevice {
 public:
  // Takes ownership of fd; `id` is what VIRTIO_BLK_T_GET_ID returns (at most 20 bytes).
  BlockDevice(const GuestMemory* mem, IrqLine* irq, int fd, uint64_t size_bytes, bool read_only, std::string id);
  ~BlockDevice() override;

  uint32_t device_id() const override { return virtio::kDeviceBlock; }
  uint64_t offered_features() const override;
  void ReadConfig(uint64_t offset, uint8_t* data, size_t len) override;
  void QueueNotify(unsigned queue) override;

  // Serves one request and returns the number of bytes written into the
  // chain (what goes into the used ring). Public for the fuzzer.
  uint32_t Handle(const DescriptorChain& chain);

 private:
  uint8_t Execute(const DescriptorChain& chain, uint32_t* data_written);
  int fd_;
  uint64_t sectors_;
  bool read_only_;
  std::string id_;
};

}  // namespace vmstep
