#include "virtio/blk.h"

#include <cstring>

namespace vmstep {

namespace {

// include/uapi/linux/virtio_blk.h
constexpr uint64_t kFeatureSegMax = 1ull << 2;
constexpr uint64_t kFeatureReadOnly = 1ull << 5;
constexpr uint64_t kFeatureFlush = 1ull << 9;
constexpr uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4, kTypeGetId = 8;
constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupported = 2;
constexpr uint64_t kSectorSize = 512;
constexpr uint32_t kIdBytes = 20;
// Data segments per request. Without it Linux sends one segment per request
// (a page, usually); with it each request takes up to kSegMax + 2 of the
// queue's 256 descriptors, so several large requests still fit at once.
constexpr uint32_t kSegMax = 32;

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

}  // namespace

BlockDevice::BlockDevice(const GuestMemory* mem, IrqLine* irq, std::unique_ptr<Disk> disk, bool read_only, std::string id)
    : VirtioDevice(mem, irq, 1), disk_(std::move(disk)), sectors_(disk_->size() / kSectorSize), read_only_(read_only), id_(std::move(id)) {}

uint64_t BlockDevice::offered_features() const {
  return virtio::kFVersion1 | kFeatureFlush | kFeatureSegMax | (read_only_ ? kFeatureReadOnly : 0);
}

void BlockDevice::ReadConfig(uint64_t offset, uint8_t* data, size_t len) {
  // struct virtio_blk_config: capacity (512-byte sectors) at 0, size_max at
  // 8 (not offered), seg_max at 12.
  uint8_t config[16] = {};
  std::memcpy(config, &sectors_, 8);
  std::memcpy(config + 12, &kSegMax, 4);
  for (size_t i = 0; i < len; i++) data[i] = offset + i < sizeof config ? config[offset + i] : 0;
}

void BlockDevice::QueueNotify(unsigned queue) {
  if (queue != 0) return;
  Virtqueue& q = queues()[0];
  DescriptorChain chain;
  bool used = false;
  for (;;) {
    auto r = q.Pop(*mem_, &chain);
    if (r == Virtqueue::PopResult::kEmpty) break;
    q.PushUsed(*mem_, chain.head, r == Virtqueue::PopResult::kChain ? Handle(chain) : 0);
    used = true;
  }
  if (used) SignalUsed(q);
}

uint32_t BlockDevice::Handle(const DescriptorChain& chain) {
  // The status byte is the last writable byte; without one there is no way
  // to answer, so the request comes back with nothing written.
  if (chain.writable_bytes == 0) return 0;
  uint32_t data_written = 0;
  uint8_t status = Execute(chain, &data_written);
  chain.Write(*mem_, chain.writable_bytes - 1, &status, 1);
  return data_written + 1;
}

uint8_t BlockDevice::Execute(const DescriptorChain& chain, uint32_t* data_written) {
  RequestHeader h{};
  if (chain.readable_bytes < sizeof h || chain.Read(*mem_, 0, &h, sizeof h) != sizeof h) return kStatusIoErr;
  const uint64_t in_len = chain.writable_bytes - 1;  // writable bytes before the status byte
  const uint64_t out_len = chain.readable_bytes - sizeof h;
  // Sector range check, written so that nothing can overflow.
  auto in_range = [&](uint64_t bytes) {
    // No request moves more than 1 GiB: that keeps lengths within 32 bits.
    if (bytes % kSectorSize != 0 || bytes > (1ull << 30) || h.sector > sectors_) return false;
    return bytes / kSectorSize <= sectors_ - h.sector;
  };
  switch (h.type) {
    case kTypeIn: {
      if (!in_range(in_len)) return kStatusIoErr;
      if (in_len > 0 && !disk_->Read(chain.Iovecs(*mem_, true, 0, in_len), h.sector * kSectorSize)) return kStatusIoErr;
      *data_written = static_cast<uint32_t>(in_len);
      return kStatusOk;
    }
    case kTypeOut: {
      if (read_only_ || !in_range(out_len)) return kStatusIoErr;
      if (out_len > 0 && !disk_->Write(chain.Iovecs(*mem_, false, sizeof h, out_len), h.sector * kSectorSize)) return kStatusIoErr;
      return kStatusOk;
    }
    case kTypeFlush:
      if (!read_only_ && !disk_->Flush()) return kStatusIoErr;
      return kStatusOk;
    case kTypeGetId: {
      char id[kIdBytes] = {};
      std::memcpy(id, id_.data(), std::min<size_t>(id_.size(), kIdBytes));
      uint64_t n = std::min<uint64_t>(in_len, kIdBytes);
      *data_written = static_cast<uint32_t>(chain.Write(*mem_, 0, id, n));
      return kStatusOk;
    }
    default:
      return kStatusUnsupported;
  }
}

}  // namespace vmstep
