#include "virtio/vsock.h"

#include <cstring>

namespace vmstep {

VsockDevice::VsockDevice(const GuestMemory* mem, IrqLine* irq, EventLoop* loop, std::string uds_path, uint64_t guest_cid)
    : VirtioDevice(mem, irq, 3),
      guest_cid_(guest_cid),
      muxer_(loop, &mutex(), std::move(uds_path), guest_cid, [this] { Process(); }) {}

void VsockDevice::ReadConfig(uint64_t offset, uint8_t* data, size_t len) {
  // struct virtio_vsock_config { le64 guest_cid; }
  uint8_t config[8];
  std::memcpy(config, &guest_cid_, 8);
  for (size_t i = 0; i < len; i++) data[i] = offset + i < sizeof config ? config[offset + i] : 0;
}

void VsockDevice::Activate() {
  muxer_.SetDriverReady(true);
  Process();
}

void VsockDevice::Reset() { muxer_.SetDriverReady(false); }

void VsockDevice::QueueNotify(unsigned queue) {
  // New guest packets, or new receive buffers (which may let paused guest
  // packets through).
  if (queue == kTxQueue || queue == kRxQueue) Process();
}

void VsockDevice::Process() {
  if (!driver_ok) return;
  for (;;) {
    const bool paused = ProcessTx();
    ProcessRx();
    // Guest packets wait while replies to earlier ones wait for receive
    // buffers; once those drained, take the rest.
    if (!paused || muxer_.TxPaused()) return;
  }
}

bool VsockDevice::ProcessTx() {
  Virtqueue& q = queues()[kTxQueue];
  DescriptorChain chain;
  bool used = false, paused = false;
  for (;;) {
    if (muxer_.TxPaused()) {
      paused = true;
      break;
    }
    auto r = q.Pop(*mem_, &chain);
    if (r == Virtqueue::PopResult::kEmpty) break;
    vsock::TxPacket packet;
    // A malformed packet is dropped; the buffer goes back either way.
    if (r == Virtqueue::PopResult::kChain && vsock::ParseTxPacket(*mem_, chain, &packet)) {
      muxer_.OnGuestPacket(*mem_, chain, packet);
    }
    q.PushUsed(*mem_, chain.head, 0);
    used = true;
  }
  if (used) SignalUsed(q);
  return paused;
}

void VsockDevice::ProcessRx() {
  if (!driver_ok) return;
  Virtqueue& q = queues()[kRxQueue];
  DescriptorChain chain;
  bool used = false;
  while (muxer_.HasRx()) {
    auto r = q.Pop(*mem_, &chain);
    if (r == Virtqueue::PopResult::kEmpty) break;
    if (r == Virtqueue::PopResult::kBadChain) {
      q.PushUsed(*mem_, chain.head, 0);
      used = true;
      continue;
    }
    uint32_t len = muxer_.FillRx(*mem_, chain);
    if (len == 0) {
      q.UndoPop();
      break;
    }
    q.PushUsed(*mem_, chain.head, len);
    used = true;
  }
  if (used) SignalUsed(q);
}

}  // namespace vmstep
