#include "virtio/vsock_muxer.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace vmstep {

using namespace vsock;

namespace {

constexpr size_t kMaxHandshakes = 16;
constexpr size_t kMaxConnectLine = 32;   // "CONNECT 4294967295\n" fits

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
  for (auto& [key, s] : conns_) {
    if (s.registered) loop_->Remove(s.conn->fd());
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

bool VsockMuxer::QueueControl(const Header& h) {
  if (control_.size() < kMaxControlQueue) {
    control_.push_back(h);
    return true;
  }
  if (dropped_control_++ == 0) {
    fprintf(stderr, "vmstep-vmm: vsock: the guest takes no packets (%zu control packets wait); dropping them and closing their connections\n",
            control_.size());
  }
  // Its connection cannot go on with a packet lost: closed on the host side.
  auto it = conns_.find(MakeKey(h.src_port, h.dst_port));
  if (it != conns_.end() && h.op != kOpRst) {
    VsockConnection& c = *it->second.conn;
    c.OnReset();  // settled by the caller, which sees it closed
  }
  return false;
}

void VsockMuxer::QueueControl(Slot& s, uint16_t op, uint32_t flags) {
  Header h = HostHeader(s.conn->local_port(), s.conn->peer_port(), op);
  h.flags = flags;
  h.fwd_cnt = s.conn->StampFwdCnt();
  QueueControl(h);
}

void VsockMuxer::QueueReset(uint32_t local, uint32_t peer) { QueueControl(HostHeader(local, peer, kOpRst)); }

void VsockMuxer::Close(Key key, bool send_rst) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  Slot& s = it->second;
  if (s.registered) loop_->Remove(s.conn->fd());
  const uint32_t local = s.conn->local_port(), peer = s.conn->peer_port();
  conns_.erase(it);  // closes the host socket; ready_ entries for it are skipped
  if (send_rst) QueueReset(local, peer);
}

void VsockMuxer::Settle(Key key) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  Slot& s = it->second;
  VsockConnection& c = *s.conn;
  if (!c.closed() && c.CreditUpdateDue()) QueueControl(s, kOpCreditUpdate);
  if (c.closed()) return Close(key, c.reset_guest());
  if (c.HasDataForGuest() && !s.in_ready_list) {
    s.in_ready_list = true;
    ready_.push_back(key);
  }
  if (c.HostSocketDone() && s.registered) {
    loop_->Remove(c.fd());
    s.registered = false;
  }
  UpdateInterest(s);
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
  Slot& s = it->second;
  VsockConnection& c = *s.conn;
  c.OnPeerCredit(h.buf_alloc, h.fwd_cnt);
  switch (h.op) {
    case kOpResponse: c.OnResponse(); break;
    case kOpRst: c.OnReset(); break;
    case kOpShutdown: c.OnShutdown(h.flags); break;
    case kOpRw: c.OnData(chain.Iovecs(mem, false, p.payload_offset, h.len)); break;
    case kOpCreditUpdate: break;  // the new credit may let data flow: Settle offers it
    case kOpCreditRequest: QueueControl(s, kOpCreditUpdate); break;
    default: c.OnProtocolError(); break;  // a second REQUEST, or an unknown op
  }
  Settle(key);
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
  auto c = std::make_unique<VsockConnection>(std::move(fd), h.dst_port, h.src_port, VsockConnection::State::kEstablished);
  c->OnPeerCredit(h.buf_alloc, h.fwd_cnt);
  Key key = Add(std::move(c));
  QueueControl(conns_[key], kOpResponse);
  Settle(key);
}

VsockMuxer::Key VsockMuxer::Add(std::unique_ptr<VsockConnection> conn) {
  Key key = MakeKey(conn->local_port(), conn->peer_port());
  Slot& s = conns_[key];
  s.conn = std::move(conn);
  loop_->Add(s.conn->fd(), 0, [this, key](uint32_t events) {
    std::lock_guard<std::mutex> lock(*mu_);
    OnHostEvent(key, events);
    kick_rx_();
  });
  s.registered = true;
  s.interest = 0;
  return key;
}

void VsockMuxer::UpdateInterest(Slot& s) {
  if (!s.registered) return;
  uint32_t want = s.conn->WantedEvents();
  if (want != s.interest) {
    s.interest = want;
    loop_->Modify(s.conn->fd(), want);
  }
}

void VsockMuxer::OnHostEvent(Key key, uint32_t events) {
  auto it = conns_.find(key);
  if (it == conns_.end()) return;
  it->second.conn->OnHostEvent(events);
  Settle(key);
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
    Slot& s = it->second;
    VsockConnection& c = *s.conn;
    uint32_t credit = c.PeerCredit();
    // Not sendable now: off the list until the socket or the credit changes.
    if (!c.HasDataForGuest() || credit == 0) {
      ready_.pop_front();
      s.in_ready_list = false;
      continue;
    }
    uint64_t room = std::min<uint64_t>({credit, chain.writable_bytes - sizeof(Header), kMaxPayload});
    // A buffer with no room for payload: leave it for a control packet.
    if (room == 0) return 0;
    uint32_t n = 0;
    VsockConnection::HostRead r = c.ReadHost(chain.Iovecs(mem, true, sizeof(Header), room), &n);
    if (r == VsockConnection::HostRead::kData) {
      Header h = HostHeader(c.local_port(), c.peer_port(), kOpRw);
      h.len = n;
      h.fwd_cnt = c.StampFwdCnt();
      chain.Write(mem, 0, &h, sizeof h);
      // Round robin between connections with data.
      ready_.pop_front();
      ready_.push_back(key);
      return static_cast<uint32_t>(sizeof h + n);
    }
    ready_.pop_front();
    s.in_ready_list = false;
    if (r == VsockConnection::HostRead::kEof) {
      // The host will send no more: the guest hears of it first, then of
      // anything the connection asks for (its reset, if both sides are done).
      Header h = HostHeader(c.local_port(), c.peer_port(), kOpShutdown);
      h.flags = kShutdownSend;
      h.fwd_cnt = c.StampFwdCnt();
      chain.Write(mem, 0, &h, sizeof h);
      Settle(key);
      return sizeof h;
    }
    Settle(key);
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
    auto c = std::make_unique<VsockConnection>(std::move(it->second.first), local, port, VsockConnection::State::kConnecting);
    loop_->Remove(fd);
    handshakes_.erase(it);
    Add(std::move(c));
    QueueControl(conns_[key], kOpRequest);
    Settle(key);
    return;
  }
}

}  // namespace vmstep
