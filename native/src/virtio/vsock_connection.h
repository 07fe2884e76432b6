// One vsock stream between a guest port and a host Unix socket, with the
// credit accounting of virtio 1.2, 5.10.6.3: each side advertises how much
// it can buffer (buf_alloc) and how much it has consumed (fwd_cnt), and a
// sender never has more than buf_alloc - (sent - fwd_cnt) bytes in flight.
// Guest-to-host bytes the host socket cannot take at once wait in `pending`,
// which credit bounds by kBufAlloc: a guest that ignores credit is reset.
#pragma once
#include <cstdint>
#include <vector>

#include "util/fd.h"

namespace vmstep {

struct VsockConnection {
  // What we advertise per connection: enough to keep a stream busy, small
  // enough that a guest cannot make the VMM hold much memory.
  static constexpr uint32_t kBufAlloc = 256 * 1024;

  enum class State { kConnecting, kEstablished };

  UniqueFd fd;
  uint32_t local_port = 0;  // the host side's port
  uint32_t peer_port = 0;   // the guest side's port
  State state = State::kConnecting;

  // Guest-to-host direction (our receive side).
  uint32_t fwd_cnt = 0;            // bytes handed to the host socket
  uint32_t last_fwd_cnt_sent = 0;  // fwd_cnt as the guest last heard it
  std::vector<uint8_t> pending;    // received, not yet written to the host socket
  size_t pending_off = 0;

  // Host-to-guest direction (the guest's receive side).
  uint32_t peer_buf_alloc = 0;
  uint32_t peer_fwd_cnt = 0;
  uint32_t rx_cnt = 0;  // payload bytes sent to the guest

  bool registered = false;        // in the event loop
  uint32_t interest = 0;          // epoll events asked for
  bool readable = false;          // host socket has data (or EOF) not yet read
  bool in_ready_list = false;
  bool host_eof = false;          // host socket read returned 0
  bool guest_shut_send = false;   // the guest will send no more
  bool guest_shut_recv = false;   // the guest will receive no more
  bool close_after_flush = false; // reset once pending bytes are out

  size_t PendingBytes() const { return pending.size() - pending_off; }
  // How many bytes the guest can take now (0 if it over-reports).
  uint32_t PeerCredit() const {
    uint32_t in_flight = rx_cnt - peer_fwd_cnt;
    return in_flight > peer_buf_alloc ? 0 : peer_buf_alloc - in_flight;
  }
};

}  // namespace vmstep
