// virtio-vsock (virtio 1.2, 5.10), implemented in the VMM rather than with
// vhost-vsock: the host here has no vhost, and userspace keeps the host side
// inside the jailed process, as plain Unix sockets (see vsock_muxer.h).
// Queues: 0 receive (host to guest), 1 transmit, 2 events (never used: we
// never migrate, so never send TRANSPORT_RESET).
#pragma once
#include <memory>
#include <string>

#include "virtio/device.h"
#include "virtio/vsock_muxer.h"
#include "vmm/event_loop.h"

namespace vmstep {

class VsockDevice : public VirtioDevice {
 public:
  VsockDevice(const GuestMemory* mem, IrqLine* irq, EventLoop* loop, std::string uds_path, uint64_t guest_cid);

  uint32_t device_id() const override { return virtio::kDeviceVsock; }
  uint64_t offered_features() const override { return virtio::kFVersion1; }
  void ReadConfig(uint64_t offset, uint8_t* data, size_t len) override;
  void Activate() override;
  void Reset() override;
  void QueueNotify(unsigned queue) override;

  // Binds the host socket; before the jail.
  void Listen() { muxer_.Listen(); }
  VsockMuxer& muxer() { return muxer_; }

 private:
  static constexpr unsigned kRxQueue = 0, kTxQueue = 1;
  // Guest packets, then packets for the guest, until neither can move.
  void Process();
  // True when it stopped early because the muxer pushes back (TxPaused).
  bool ProcessTx();
  void ProcessRx();
  uint64_t guest_cid_;
  VsockMuxer muxer_;
};

}  // namespace vmstep
