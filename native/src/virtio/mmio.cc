#include "virtio/mmio.h"

#include <cstdio>
#include <cstring>

namespace vmstep {

namespace {

// Register offsets (Linux include/uapi/linux/virtio_mmio.h).
constexpr uint64_t kMagic = 0x000, kVersion = 0x004, kDeviceId = 0x008, kVendorId = 0x00c;
constexpr uint64_t kDeviceFeatures = 0x010, kDeviceFeaturesSel = 0x014;
constexpr uint64_t kDriverFeatures = 0x020, kDriverFeaturesSel = 0x024;
constexpr uint64_t kQueueSel = 0x030, kQueueNumMax = 0x034, kQueueNum = 0x038, kQueueReady = 0x044;
constexpr uint64_t kQueueNotify = 0x050, kInterruptStatus = 0x060, kInterruptAck = 0x064, kStatus = 0x070;
constexpr uint64_t kQueueDescLow = 0x080, kQueueDescHigh = 0x084, kQueueDriverLow = 0x090, kQueueDriverHigh = 0x094;
constexpr uint64_t kQueueDeviceLow = 0x0a0, kQueueDeviceHigh = 0x0a4, kConfigGeneration = 0x0fc, kConfig = 0x100;
constexpr uint32_t kMagicValue = 0x74726976;  // "virt"
constexpr uint32_t kVendor = 0x4d565356;      // "VSVM"

void SetLow(uint64_t& v, uint32_t low) { v = (v & ~0xffffffffull) | low; }
void SetHigh(uint64_t& v, uint32_t high) { v = (v & 0xffffffffull) | (uint64_t(high) << 32); }

}  // namespace

std::string MmioTransport::CmdlineEntry(uint64_t base, unsigned irq) {
  char buf[64];
  snprintf(buf, sizeof buf, "virtio_mmio.device=4K@0x%llx:%u", static_cast<unsigned long long>(base), irq);
  return buf;
}

Virtqueue* MmioTransport::Selected() {
  auto& q = device_->queues();
  return queue_sel_ < q.size() ? &q[queue_sel_] : nullptr;
}

void MmioTransport::Read(uint64_t offset, uint8_t* data, size_t len) {
  std::lock_guard<std::mutex> lock(device_->mutex());
  if (offset >= kConfig) {
    device_->ReadConfig(offset - kConfig, data, len);
    return;
  }
  // Registers below the config space are 32 bits wide, accessed whole.
  uint32_t v = (len == 4 && (offset & 3) == 0) ? ReadRegister(offset) : 0;
  std::memcpy(data, &v, len < 4 ? len : 4);
}

void MmioTransport::Write(uint64_t offset, const uint8_t* data, size_t len) {
  if (offset == kQueueNotify && len == 4) {
    uint32_t q;
    std::memcpy(&q, data, 4);
    Notify(q);
    return;
  }
  std::lock_guard<std::mutex> lock(device_->mutex());
  if (offset >= kConfig) {
    device_->WriteConfig(offset - kConfig, data, len);
    return;
  }
  if (len != 4 || (offset & 3) != 0) return;
  uint32_t v;
  std::memcpy(&v, data, 4);
  WriteRegister(offset, v);
}

void MmioTransport::Notify(unsigned queue) {
  std::lock_guard<std::mutex> lock(device_->mutex());
  if (device_->driver_ok && queue < device_->queues().size()) device_->QueueNotify(queue);
}

uint32_t MmioTransport::ReadRegister(uint64_t offset) {
  Virtqueue* q = Selected();
  switch (offset) {
    case kMagic:
      return kMagicValue;
    case kVersion:
      return 2;
    case kDeviceId:
      return device_->device_id();
    case kVendorId:
      return kVendor;
    case kDeviceFeatures: {
      uint64_t f = device_->offered_features();
      return device_features_sel_ == 0 ? uint32_t(f) : device_features_sel_ == 1 ? uint32_t(f >> 32) : 0;
    }
    case kQueueNumMax:
      return q ? Virtqueue::kMaxSize : 0;
    case kQueueReady:
      return q && q->ready ? 1 : 0;
    case kInterruptStatus:
      return device_->interrupt_status.load();
    case kStatus:
      return status_;
    case kConfigGeneration:
      return 0;  // configuration never changes under the driver
    default:
      return 0;
  }
}

void MmioTransport::WriteRegister(uint64_t offset, uint32_t v) {
  Virtqueue* q = Selected();
  // Queue layout may only change while the queue is not ready (spec 4.2.2.3).
  bool q_writable = q && !q->ready && !(status_ & virtio::kStatusDriverOk);
  switch (offset) {
    case kDeviceFeaturesSel:
      device_features_sel_ = v;
      break;
    case kDriverFeaturesSel:
      driver_features_sel_ = v;
      break;
    case kDriverFeatures:
      if (status_ & virtio::kStatusFeaturesOk) break;
      if (driver_features_sel_ == 0) SetLow(device_->acked_features, v);
      else if (driver_features_sel_ == 1) SetHigh(device_->acked_features, v);
      break;
    case kQueueSel:
      queue_sel_ = v;
      break;
    case kQueueNum:
      if (q_writable) q->size = static_cast<uint16_t>(v > 0xffff ? 0 : v);
      break;
    case kQueueReady:
      if (!q) break;
      if (v == 1 && !q->ready) {
        q->ready = true;
        // A queue with a bad layout stays inert; the driver sees it ready,
        // but the device never touches memory through it.
        q->Activate(*mem_);
      } else if (v == 0) {
        q->ready = false;
      }
      break;
    case kInterruptAck:
      device_->interrupt_status.fetch_and(~v);
      break;
    case kStatus:
      SetStatus(v);
      break;
    case kQueueDescLow:
      if (q_writable) SetLow(q->desc_addr, v);
      break;
    case kQueueDescHigh:
      if (q_writable) SetHigh(q->desc_addr, v);
      break;
    case kQueueDriverLow:
      if (q_writable) SetLow(q->avail_addr, v);
      break;
    case kQueueDriverHigh:
      if (q_writable) SetHigh(q->avail_addr, v);
      break;
    case kQueueDeviceLow:
      if (q_writable) SetLow(q->used_addr, v);
      break;
    case kQueueDeviceHigh:
      if (q_writable) SetHigh(q->used_addr, v);
      break;
    default:
      break;
  }
}

void MmioTransport::SetStatus(uint32_t status) {
  if (status == 0) {
    status_ = 0;
    device_->driver_ok = false;
    device_->acked_features = 0;
    device_->interrupt_status = 0;
    for (auto& q : device_->queues()) q.Reset();
    device_->Reset();
    return;
  }
  if ((status & virtio::kStatusFeaturesOk) && !(status_ & virtio::kStatusFeaturesOk)) {
    uint64_t acked = device_->acked_features;
    // Only modern drivers, and only features we offered.
    if ((acked & ~device_->offered_features()) != 0 || !(acked & virtio::kFVersion1)) status &= ~virtio::kStatusFeaturesOk;
  }
  bool becomes_ok = (status & virtio::kStatusDriverOk) && !(status_ & virtio::kStatusDriverOk);
  status_ = status;
  if (becomes_ok && (status_ & virtio::kStatusFeaturesOk)) {
    device_->driver_ok = true;
    device_->Activate();
  }
}

}  // namespace vmstep
