// One vsock stream between a guest port and a host Unix socket: its states,
// and the credit accounting of virtio 1.2, 5.10.6.3 (each side advertises
// how much it can buffer, buf_alloc, and how much it has consumed, fwd_cnt;
// a sender never has more than buf_alloc - (sent - fwd_cnt) bytes in
// flight). The muxer (vsock_muxer.h) routes packets and socket events here
// and does what the connection asks; this class touches nothing but its own
// host socket, so that tests/vsock_connection_test.cc can drive it alone.
//
//   kConnecting  --guest RESPONSE-->  kEstablished  (host-initiated; "OK <port>\n" to the host)
//   (guest REQUEST creates a connection in kEstablished)
//   kEstablished --guest SHUTDOWN both-->  kClosing  (host bytes still pending)
//   kClosing     --pending flushed-->  kClosed, RST to the guest
//   kEstablished --guest shut send + host EOF, nothing pending-->  kClosed, RST
//   any          --guest RST-->  kClosed (no RST back)
//   any          --protocol error or socket error-->  kClosed, RST
// Half-closes inside kEstablished are flags: the guest will send no more
// (its SHUTDOWN SEND: the host socket gets SHUT_WR once pending bytes are
// out), the guest will receive no more (SHUTDOWN RCV: we stop reading the
// host socket), the host socket ended (EOF: the guest gets SHUTDOWN SEND).
#pragma once
#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "util/fd.h"

namespace vmstep {

class VsockConnection {
 public:
  // What we advertise per connection: enough to keep a stream busy, small
  // enough that a guest cannot make the VMM hold much memory. Guest bytes
  // the host socket cannot take at once wait in `pending_`, which this
  // bounds: a guest that ignores credit is reset.
  static constexpr uint32_t kBufAlloc = 256 * 1024;
  // Tell the guest about freed buffer space once this much has been consumed.
  static constexpr uint32_t kCreditUpdateThreshold = kBufAlloc / 4;

  enum class State { kConnecting, kEstablished, kClosing, kClosed };
  // What one read of the host socket gave the guest.
  enum class HostRead { kNothing, kData, kEof };

  VsockConnection(UniqueFd fd, uint32_t local_port, uint32_t peer_port, State initial);

  State state() const { return state_; }
  bool closed() const { return state_ == State::kClosed; }
  // On kClosed: whether the guest must be told with an RST.
  bool reset_guest() const { return reset_guest_; }
  int fd() const { return fd_.get(); }
  uint32_t local_port() const { return local_port_; }
  uint32_t peer_port() const { return peer_port_; }

  // --- Packets from the guest (after routing to this connection) ---
  // Every packet carries the guest's current credit.
  void OnPeerCredit(uint32_t buf_alloc, uint32_t fwd_cnt);
  void OnResponse();
  void OnReset();
  void OnShutdown(uint32_t flags);
  // A RW payload, as iovecs into guest memory.
  void OnData(const std::vector<iovec>& payload);
  // A packet this state does not allow (a second REQUEST, an unknown op).
  void OnProtocolError() { Kill(true); }

  // --- The host socket ---
  // epoll events on the host socket.
  void OnHostEvent(uint32_t events);
  // Events to wait for on the host socket (0: none for now).
  uint32_t WantedEvents() const;
  // Nothing left to read or write on the host socket, which hung up: the
  // connection lives on only until the guest closes it, and the socket must
  // leave the event loop (epoll would report the hangup forever).
  bool HostSocketDone() const { return host_done_; }

  // --- Packets for the guest ---
  // Host data (or EOF) is waiting for the guest.
  bool HasDataForGuest() const { return state_ == State::kEstablished && readable_ && !guest_shut_recv_; }
  // How many payload bytes the guest can take now (0 if it over-reports).
  uint32_t PeerCredit() const;
  // Reads at most what `room` covers from the host socket into it (the
  // caller sizes it by PeerCredit()); sets *n on kData.
  HostRead ReadHost(const std::vector<iovec>& room, uint32_t* n);
  // Freed space the guest has not heard of: a CREDIT_UPDATE is due.
  bool CreditUpdateDue() const { return fwd_cnt_ - last_fwd_cnt_sent_ >= kCreditUpdateThreshold; }
  // The fwd_cnt to put in a packet for the guest (which then has heard of it).
  uint32_t StampFwdCnt() {
    last_fwd_cnt_sent_ = fwd_cnt_;
    return fwd_cnt_;
  }

  size_t PendingBytes() const { return pending_.size() - pending_off_; }
  uint32_t fwd_cnt() const { return fwd_cnt_; }
  uint32_t rx_cnt() const { return rx_cnt_; }

 private:
  void Kill(bool reset_guest);
  // Writes pending bytes to the host socket; false when it failed (killed).
  bool Flush();
  // After pending bytes went out: finish a close, or pass a half-close on.
  void AfterFlush();

  UniqueFd fd_;
  uint32_t local_port_, peer_port_;
  State state_;
  bool reset_guest_ = false;

  // Guest-to-host direction (our receive side).
  uint32_t fwd_cnt_ = 0;            // bytes handed to the host socket
  uint32_t last_fwd_cnt_sent_ = 0;  // fwd_cnt as the guest last heard it
  std::vector<uint8_t> pending_;    // received, not yet written to the host socket
  size_t pending_off_ = 0;

  // Host-to-guest direction (the guest's receive side).
  uint32_t peer_buf_alloc_ = 0;
  uint32_t peer_fwd_cnt_ = 0;
  uint32_t rx_cnt_ = 0;  // payload bytes sent to the guest

  bool readable_ = false;         // the host socket has data (or EOF) not yet read
  bool host_eof_ = false;         // a host socket read returned 0
  bool host_done_ = false;
  bool guest_shut_send_ = false;  // the guest will send no more
  bool guest_shut_recv_ = false;  // the guest will receive no more
};

}  // namespace vmstep
