#include "virtio/vsock_muxer.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace vmstep {

using namespace vsock;

namespace {

constexpr size_t kMaxHandshakes = 16;
constexpr size_t kMaxConnectLine = 32;   // "CONNECT 4294967295\n" fits
constexpr size_t kMaxControlQueue = 1024;
// Tell the guest about freed buffer space once this much has been consumed.
constexpr uint32_t kCreditUpdateThreshold = VsockConnection::kBufAlloc / 4;

bool FillSockaddr(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof addr->sun_path) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

// "CONNECT <port>" with a decimal port that fits 32 bits.
bool ParseConnectLine(const std::string& line, uint32_t* port) {
  static const char kPrefix[] = "CONNECT ";
  if (line.compare(0, sizeof kPrefix - 1, kPrefix) != 0) return false;
  std::string digits = line.substr(sizeof kPrefix - 1);
  if (!digits.empty() && digits.back() == '\r') digits.pop_back();
  if (digits.empty() || digits.size() > 10) return false;
  uint64_t v = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + uint64_t(ch - '0');
  }
  if (v > 0xffffffffull) return false;
  *port = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

VsockMuxer::VsockMuxer(EventLoop* loop, std::mutex* device_mutex, std::string uds_path, uint64_t guest_cid,
                       std::function<void()> kick_rx)
    : loop_(loop), mu_(device_mutex), uds_path_(std::move(uds_path)), guest_cid_(guest_cid), kick_rx_(std::move(kick_rx)) {}

VsockMuxer::~VsockMuxer() {
  Reset();
  if (listener_.valid()) loop_->Remove(listener_.get());
  if (owns_socket_file_) unlink(uds_path_.c_str());
}

void VsockMuxer::Listen() {
  sockaddr_un addr;
  if (!FillSockaddr(uds_path_, &addr)) {
    throw VmmError("the vsock socket path is too long (at most 107 bytes): " + uds_path_);
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) throw SystemError("socket for the vsock listener");
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == EADDRINUSE) throw VmmError("the vsock socket " + uds_path_ + " exists already: remove it or choose another path");
    throw SystemError("binding the vsock socket " + uds_path_);
  }
  owns_socket_file_ = true;
  if (listen(fd.get(), 64) != 0) throw SystemError("listen on " + uds_path_);
  listener_ = std::move(fd);
  loop_->Add(listener_.get(), EPOLLIN, [this](uint32_t) {
    std::lock_guard<std::mutex> lock(*mu_);
    OnListenerReady();
  });
}

void VsockMuxer::SetDriverReady(bool ready) {
  driver_ready_ = ready;
  if (!ready) Reset();
}

void VsockMuxer::Reset() {
  for (auto& [key, c] : conns_) {
    if (c->registered) loop_->Remove(c->fd.get());
  }
  conns_.clear();
  for (auto& [fd, hs] : handshakes_) loop_->Remove(fd);
  handshakes_.clear();
  control_.clear();
  ready_.clear();
}

Header VsockMuxer::HostHeader(uint32_t local, uint32_t peer, uint16_t op) const {
  Header h{};
  h.src_cid = kHostCid;
  h.dst_cid = guest_cid_;
  h.src_port = local;
  h.dst_port = peer;
  h.type = kTypeStream;
  h.op = op;
  h.buf_alloc = VsockConnection::kBufAlloc;
  return h;
}

void VsockMuxer::QueueControl(const Header& h) {
  // A guest that posts no receive buffers cannot make this grow without bound.
  if (control_.size() >= kMaxControlQueue) return;
  control_.push_back(h);
}

void VsockMuxer::QueueControl(VsockConnection& c, uint16_t op, uint32_t flags) {
  Header h = HostHeader(c.local_port, c.peer_port, op);
  h.flags = flags;
  h.fwd_cnt = c.fwd_cnt;
  c.last_fwd_cnt_sent = c.fwd_cnt;
  QueueControl(h);
}

void VsockMuxer::QueueReset(uint32_t local, uint32_t peer) { QueueControl(HostHeader(local, peer, kOpRst)); }

void VsockMuxer::Close(Key key, bool send_rst) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  VsockConnection& c = *it->second;
  if (send_rst) QueueReset(c.local_port, c.peer_port);
  if (c.registered) loop_->Remove(c.fd.get());
  conns_.erase(it);  // closes the host socket; ready_ entries for it are skipped
}

void VsockMuxer::OnGuestPacket(const GuestMemory& mem, const DescriptorChain& chain, const TxPacket& p) {
  const Header& h = p.header;
  // Packets not from our guest, or not addressed to the host, are dropped:
  // the guest cannot speak for another CID.
  if (h.src_cid != guest_cid_ || h.dst_cid != kHostCid) return;
  if (h.type != kTypeStream) {
    if (h.op != kOpRst) QueueReset(h.dst_port, h.src_port);
    return;
  }
  Key key = MakeKey(h.dst_port, h.src_port);
  auto it = conns_.find(key);
  if (it == conns_.end()) {
    if (h.op == kOpRequest) OnGuestRequest(h);
    else if (h.op != kOpRst) QueueReset(h.dst_port, h.src_port);
    return;
  }
  VsockConnection& c = *it->second;
  // Every packet carries the sender's current credit.
  c.peer_buf_alloc = h.buf_alloc;
  c.peer_fwd_cnt = h.fwd_cnt;
  switch (h.op) {
    case kOpResponse: {
      if (c.state != VsockConnection::State::kConnecting) return Close(key, true);
      c.state = VsockConnection::State::kEstablished;
      // The socket is fresh and empty, so this short line goes out whole.
      std::string ok = "OK " + std::to_string(c.local_port) + "\n";
      if (send(c.fd.get(), ok.data(), ok.size(), MSG_NOSIGNAL | MSG_DONTWAIT) != static_cast<ssize_t>(ok.size())) {
        return Close(key, true);
      }
      UpdateInterest(c);
      return;
    }
    case kOpRst:
      return Close(key, false);
    case kOpShutdown:
      return OnGuestShutdown(c, key, h.flags);
    case kOpRw:
      if (c.state != VsockConnection::State::kEstablished) return Close(key, true);
      return OnGuestData(c, key, mem, chain, p);
    case kOpCreditUpdate:
      if (c.readable && !c.guest_shut_recv) MarkReady(c, key);
      return;
    case kOpCreditRequest:
      QueueControl(c, kOpCreditUpdate);
      return;
    default:  // a second REQUEST, or an unknown op
      return Close(key, true);
  }
}

void VsockMuxer::OnGuestRequest(const Header& h) {
  sockaddr_un addr;
  if (conns_.size() >= kMaxConnections || !FillSockaddr(uds_path_ + "_" + std::to_string(h.dst_port), &addr)) {
    return QueueReset(h.dst_port, h.src_port);
  }
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  // Nobody listening (or a full backlog) refuses the connection, like TCP.
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return QueueReset(h.dst_port, h.src_port);
  }
  auto c = std::make_unique<VsockConnection>();
  c->fd = std::move(fd);
  c->local_port = h.dst_port;
  c->peer_port = h.src_port;
  c->state = VsockConnection::State::kEstablished;
  c->peer_buf_alloc = h.buf_alloc;
  c->peer_fwd_cnt = h.fwd_cnt;
  Key key = MakeKey(c->local_port, c->peer_port);
  VsockConnection& ref = *c;
  conns_[key] = std::move(c);
  Register(ref, key);
  QueueControl(ref, kOpResponse);
}

void VsockMuxer::OnGuestData(VsockConnection& c, Key key, const GuestMemory& mem, const DescriptorChain& chain, const TxPacket& p) {
  uint32_t len = p.header.len;
  if (len == 0) return;
  // Data after the guest said it would send no more, or beyond the credit we
  // gave: the guest broke the protocol, so the connection ends.
  if (c.guest_shut_send || c.close_after_flush || c.PendingBytes() + len > VsockConnection::kBufAlloc) {
    return Close(key, true);
  }
  uint64_t written = 0;
  if (c.PendingBytes() == 0) {
    std::vector<iovec> iov = chain.Iovecs(mem, false, p.payload_offset, len);
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    ssize_t n = sendmsg(c.fd.get(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return Close(key, true);
    written = n > 0 ? static_cast<uint64_t>(n) : 0;
    c.fwd_cnt += static_cast<uint32_t>(written);
  }
  if (written < len) {
    if (c.pending_off > 0) {
      c.pending.erase(c.pending.begin(), c.pending.begin() + static_cast<std::ptrdiff_t>(c.pending_off));
      c.pending_off = 0;
    }
    size_t old = c.pending.size();
    c.pending.resize(old + (len - written));
    chain.Read(mem, p.payload_offset + written, c.pending.data() + old, len - written);
  }
  if (c.fwd_cnt - c.last_fwd_cnt_sent >= kCreditUpdateThreshold) QueueControl(c, kOpCreditUpdate);
  UpdateInterest(c);
}

void VsockMuxer::OnGuestShutdown(VsockConnection& c, Key key, uint32_t flags) {
  if (flags & kShutdownRcv) c.guest_shut_recv = true;
  if (flags & kShutdownSend) c.guest_shut_send = true;
  // Both directions shut: the guest is closing and waits for our reset.
  if ((flags & (kShutdownRcv | kShutdownSend)) == (kShutdownRcv | kShutdownSend)) c.close_after_flush = true;
  AfterFlush(c, key);
}

void VsockMuxer::Register(VsockConnection& c, Key key) {
  c.interest = 0;
  loop_->Add(c.fd.get(), 0, [this, key](uint32_t events) {
    std::lock_guard<std::mutex> lock(*mu_);
    OnHostEvent(key, events);
    kick_rx_();
  });
  c.registered = true;
  UpdateInterest(c);
}

void VsockMuxer::UpdateInterest(VsockConnection& c) {
  if (!c.registered) return;
  uint32_t want = 0;
  if (c.state == VsockConnection::State::kEstablished && !c.readable && !c.host_eof && !c.guest_shut_recv) want |= EPOLLIN;
  if (c.PendingBytes() > 0) want |= EPOLLOUT;
  if (want != c.interest) {
    c.interest = want;
    loop_->Modify(c.fd.get(), want);
  }
}

void VsockMuxer::OnHostEvent(Key key, uint32_t events) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  VsockConnection& c = *it->second;
  const bool hangup = events & (EPOLLHUP | EPOLLERR);
  if (c.state == VsockConnection::State::kConnecting) {
    if (hangup) Close(key, true);  // the host client gave up before the guest answered
    return;
  }
  if (events & EPOLLOUT) {
    if (!Flush(c, key)) return;
    AfterFlush(c, key);
    if (conns_.find(key) == conns_.end()) return;
  }
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    if (!c.host_eof && !c.guest_shut_recv) {
      c.readable = true;
      MarkReady(c, key);
    } else if (hangup && c.PendingBytes() == 0) {
      // Nothing left to read or write on this socket; the connection lives
      // on only until the guest closes it. Leaving it registered would make
      // epoll report the hangup forever.
      loop_->Remove(c.fd.get());
      c.registered = false;
    }
  }
  UpdateInterest(c);
}

bool VsockMuxer::Flush(VsockConnection& c, Key key) {
  while (c.PendingBytes() > 0) {
    ssize_t n = send(c.fd.get(), c.pending.data() + c.pending_off, c.PendingBytes(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.pending_off += static_cast<size_t>(n);
      c.fwd_cnt += static_cast<uint32_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    } else {
      Close(key, true);
      return false;
    }
  }
  if (c.PendingBytes() == 0) {
    c.pending.clear();
    c.pending_off = 0;
  }
  if (c.fwd_cnt - c.last_fwd_cnt_sent >= kCreditUpdateThreshold) QueueControl(c, kOpCreditUpdate);
  return true;
}

void VsockMuxer::AfterFlush(VsockConnection& c, Key key) {
  if (c.PendingBytes() == 0) {
    if (c.close_after_flush || (c.guest_shut_send && c.host_eof)) return Close(key, true);
    if (c.guest_shut_send) shutdown(c.fd.get(), SHUT_WR);
  }
  if (c.guest_shut_recv) c.readable = false;
  UpdateInterest(c);
}

void VsockMuxer::MarkReady(VsockConnection& c, Key key) {
  if (c.in_ready_list) return;
  c.in_ready_list = true;
  ready_.push_back(key);
}

uint32_t VsockMuxer::FillRx(const GuestMemory& mem, const DescriptorChain& chain) {
  if (chain.writable_bytes < sizeof(Header)) return 0;
  if (!control_.empty()) {
    Header h = control_.front();
    control_.pop_front();
    chain.Write(mem, 0, &h, sizeof h);
    return sizeof h;
  }
  return FillData(mem, chain);
}

uint32_t VsockMuxer::FillData(const GuestMemory& mem, const DescriptorChain& chain) {
  while (!ready_.empty()) {
    Key key = ready_.front();
    auto it = conns_.find(key);
    if (it == conns_.end()) {
      ready_.pop_front();
      continue;
    }
    VsockConnection& c = *it->second;
    uint32_t credit = c.PeerCredit();
    // Not sendable now: off the list until the socket or the credit changes.
    if (c.state != VsockConnection::State::kEstablished || !c.readable || c.guest_shut_recv || credit == 0) {
      ready_.pop_front();
      c.in_ready_list = false;
      continue;
    }
    uint64_t room = std::min<uint64_t>({credit, chain.writable_bytes - sizeof(Header), kMaxPayload});
    // A buffer with no room for payload: leave it for a control packet.
    if (room == 0) return 0;
    std::vector<iovec> iov = chain.Iovecs(mem, true, sizeof(Header), room);
    ssize_t n = readv(c.fd.get(), iov.data(), static_cast<int>(iov.size()));
    if (n > 0) {
      Header h = HostHeader(c.local_port, c.peer_port, kOpRw);
      h.len = static_cast<uint32_t>(n);
      h.fwd_cnt = c.fwd_cnt;
      c.last_fwd_cnt_sent = c.fwd_cnt;
      c.rx_cnt += static_cast<uint32_t>(n);
      chain.Write(mem, 0, &h, sizeof h);
      // Round robin between connections with data.
      ready_.pop_front();
      ready_.push_back(key);
      return static_cast<uint32_t>(sizeof h + static_cast<size_t>(n));
    }
    ready_.pop_front();
    c.in_ready_list = false;
    if (n == 0) {
      // The host will send no more: tell the guest, keep the other direction.
      c.host_eof = true;
      c.readable = false;
      Header h = HostHeader(c.local_port, c.peer_port, kOpShutdown);
      h.flags = kShutdownSend;
      h.fwd_cnt = c.fwd_cnt;
      c.last_fwd_cnt_sent = c.fwd_cnt;
      chain.Write(mem, 0, &h, sizeof h);
      AfterFlush(c, key);
      return sizeof h;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      c.readable = false;
      UpdateInterest(c);
      continue;
    }
    Close(key, true);
  }
  return 0;
}

void VsockMuxer::OnListenerReady() {
  for (;;) {
    int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    UniqueFd owned(fd);
    // Before the guest's driver is up nobody can answer: refuse at once.
    if (!driver_ready_ || handshakes_.size() >= kMaxHandshakes) continue;
    handshakes_.emplace(fd, std::make_pair(std::move(owned), std::string()));
    loop_->Add(fd, EPOLLIN, [this, fd](uint32_t) {
      std::lock_guard<std::mutex> lock(*mu_);
      OnConnectLine(fd);
      kick_rx_();
    });
  }
}

void VsockMuxer::OnConnectLine(int fd) {
  auto it = handshakes_.find(fd);
  if (it == handshakes_.end()) return;
  std::string& line = it->second.second;
  auto drop = [&] {
    loop_->Remove(fd);
    handshakes_.erase(it);
  };
  // One byte at a time: whatever follows the newline is stream data for the
  // guest and must stay in the socket.
  for (;;) {
    char ch;
    ssize_t n = recv(fd, &ch, 1, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return drop();
    if (ch != '\n') {
      line.push_back(ch);
      if (line.size() > kMaxConnectLine) return drop();
      continue;
    }
    uint32_t port;
    if (!ParseConnectLine(line, &port) || conns_.size() >= kMaxConnections || !driver_ready_) return drop();
    uint32_t local = next_local_port_++;
    if (next_local_port_ == 0) next_local_port_ = 1u << 30;
    Key key = MakeKey(local, port);
    if (conns_.count(key)) return drop();
    auto c = std::make_unique<VsockConnection>();
    c->fd = std::move(it->second.first);
    c->local_port = local;
    c->peer_port = port;
    c->state = VsockConnection::State::kConnecting;
    loop_->Remove(fd);
    handshakes_.erase(it);
    VsockConnection& ref = *c;
    conns_[key] = std::move(c);
    Register(ref, key);
    QueueControl(ref, kOpRequest);
    return;
  }
}

}  // namespace vmstep
