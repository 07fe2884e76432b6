// virtio-blk (virtio 1.2, 5.2) over a Disk (disk.h: a raw image, or a base
// image under a copy-on-write overlay): read, write, flush and get-id,
// optionally read-only. Requests are served synchronously straight between
// the files and guest memory (preadv/pwritev into the chain's buffers), with
// every sector range checked against the disk's size here, before the Disk
// sees it.
#pragma once
#include <memory>
#include <string>

#include "virtio/device.h"
#include "virtio/disk.h"

namespace vmstep {

class BlockDevice : public VirtioDevice {
 public:
  // `id` is what VIRTIO_BLK_T_GET_ID returns (at most 20 bytes).
  BlockDevice(const GuestMemory* mem, IrqLine* irq, std::unique_ptr<Disk> disk, bool read_only, std::string id);

  uint32_t device_id() const override { return virtio::kDeviceBlock; }
  uint64_t offered_features() const override;
  void ReadConfig(uint64_t offset, uint8_t* data, size_t len) override;
  void QueueNotify(unsigned queue) override;

  // Serves one request and returns the number of bytes written into the
  // chain (what goes into the used ring). Public for the fuzzer.
  uint32_t Handle(const DescriptorChain& chain);

 private:
  uint8_t Execute(const DescriptorChain& chain, uint32_t* data_written);
  std::unique_ptr<Disk> disk_;
  uint64_t sectors_;
  bool read_only_;
  std::string id_;
};

}  // namespace vmstep
