#include "virtio/vsock_connection.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "util/iovec.h"
#include "virtio/vsock_packet.h"

namespace vmstep {

using vsock::kShutdownRcv;
using vsock::kShutdownSend;

VsockConnection::VsockConnection(UniqueFd fd, uint32_t local_port, uint32_t peer_port, State initial)
    : fd_(std::move(fd)), local_port_(local_port), peer_port_(peer_port), state_(initial) {}

void VsockConnection::Kill(bool reset_guest) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  reset_guest_ = reset_guest;
}

void VsockConnection::OnPeerCredit(uint32_t buf_alloc, uint32_t fwd_cnt) {
  peer_buf_alloc_ = buf_alloc;
  peer_fwd_cnt_ = fwd_cnt;
}

uint32_t VsockConnection::PeerCredit() const {
  uint32_t in_flight = rx_cnt_ - peer_fwd_cnt_;
  return in_flight > peer_buf_alloc_ ? 0 : peer_buf_alloc_ - in_flight;
}

void VsockConnection::OnResponse() {
  if (state_ != State::kConnecting) return Kill(true);
  state_ = State::kEstablished;
  // The socket is fresh and empty, so this short line goes out whole.
  std::string ok = "OK " + std::to_string(local_port_) + "\n";
  if (send(fd_.get(), ok.data(), ok.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(ok.size())) Kill(true);
}

void VsockConnection::OnReset() { Kill(false); }

void VsockConnection::OnShutdown(uint32_t flags) {
  if (state_ == State::kClosed) return;
  if (flags & kShutdownRcv) guest_shut_recv_ = true;
  if (flags & kShutdownSend) guest_shut_send_ = true;
  // Both directions shut: the guest is closing and waits for our reset,
  // which goes once the host socket has taken every byte.
  if (guest_shut_recv_ && guest_shut_send_) state_ = State::kClosing;
  AfterFlush();
}

void VsockConnection::OnData(const std::vector<iovec>& payload) {
  // Data before the connection is up, after the guest said it would send
  // no more, or beyond the credit we gave: the guest broke the protocol.
  if (state_ != State::kEstablished) return Kill(true);
  const uint64_t len = IovecBytes(payload);
  if (len == 0) return;
  if (guest_shut_send_ || PendingBytes() + len > kBufAlloc) return Kill(true);
  uint64_t written = 0;
  if (PendingBytes() == 0) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(payload.data());
    msg.msg_iovlen = payload.size();
    ssize_t n = sendmsg(fd_.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return Kill(true);
    written = n > 0 ? static_cast<uint64_t>(n) : 0;
    fwd_cnt_ += static_cast<uint32_t>(written);
  }
  if (written < len) {
    if (pending_off_ > 0) {
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_off_));
      pending_off_ = 0;
    }
    AppendIovecs(SliceIovecs(payload, written, len - written), &pending_);
  }
}

void VsockConnection::OnHostEvent(uint32_t events) {
  const bool hangup = events & (EPOLLHUP | EPOLLERR);
  if (state_ == State::kConnecting) {
    if (hangup) Kill(true);  // the host client gave up before the guest answered
    return;
  }
  if (state_ == State::kClosed) return;
  if (events & EPOLLOUT) {
    if (!Flush()) return;
    AfterFlush();
    if (state_ == State::kClosed) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (!host_eof_ && !guest_shut_recv_) readable_ = true;
    else if (hangup && PendingBytes() == 0) host_done_ = true;
  }
}

uint32_t VsockConnection::WantedEvents() const {
  if (state_ == State::kClosed || host_done_) return 0;
  uint32_t want = 0;
  if (state_ == State::kEstablished && !readable_ && !host_eof_ && !guest_shut_recv_) want |= EPOLLIN;
  if (PendingBytes() > 0) want |= EPOLLOUT;
  return want;
}

VsockConnection::HostRead VsockConnection::ReadHost(const std::vector<iovec>& room, uint32_t* n) {
  if (!HasDataForGuest() || room.empty()) return HostRead::kNothing;
  ssize_t r = readv(fd_.get(), room.data(), static_cast<int>(room.size()));
  if (r > 0) {
    rx_cnt_ += static_cast<uint32_t>(r);
    *n = static_cast<uint32_t>(r);
    return HostRead::kData;
  }
  if (r == 0) {
    // The host will send no more: the guest hears of it, the other direction stays.
    host_eof_ = true;
    readable_ = false;
    AfterFlush();
    return HostRead::kEof;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) readable_ = false;
  else Kill(true);
  return HostRead::kNothing;
}

bool VsockConnection::Flush() {
  while (PendingBytes() > 0) {
    ssize_t n = send(fd_.get(), pending_.data() + pending_off_, PendingBytes(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      pending_off_ += static_cast<size_t>(n);
      fwd_cnt_ += static_cast<uint32_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      Kill(true);
      return false;
    }
  }
  if (PendingBytes() == 0) {
    pending_.clear();
    pending_off_ = 0;
  }
  return true;
}

void VsockConnection::AfterFlush() {
  if (PendingBytes() == 0) {
    if (state_ == State::kClosing || (guest_shut_send_ && host_eof_)) return Kill(true);
    if (guest_shut_send_) shutdown(fd_.get(), SHUT_WR);
  }
  if (guest_shut_recv_) readable_ = false;
}

}  // namespace vmstep
